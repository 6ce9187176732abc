"""Gradient flow through time of a trained model: the existing measurement and figure
(:mod:`rnnkit.diagnostics.gradflow`), on a loss read after the last step of a fixed batch."""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor, nn

from rnnkit.diagnostics.report.html import Section, esc, figure, table


def flow_section(model: nn.Module, loss_fn: Callable[[], Tensor], what: str) -> Section:
    """``||dL/dh_t||`` of every recurrent layer of ``model`` for ``loss_fn`` (described by ``what``), plotted
    against the distance from the loss, and a table of the norm at a few distances."""
    from rnnkit.diagnostics.gradflow import gradient_flow, plot_gradflow

    was = model.training
    model.eval()
    try:
        flow = gradient_flow(model, loss_fn)
    finally:
        model.train(was)
    curves = flow.as_dict()
    img = figure(lambda p: plot_gradflow(curves, p, title="gradient norm through time (trained model)"),
                 "gradient flow through time")
    rows = []
    for label, norms in curves.items():
        far = norms.flip(0)
        ds = sorted({d for d in (0, 10, 25, 50, 100, 200) if d < far.numel()} | {far.numel() - 1})
        at0 = float(far[0]) or 1e-30
        rows.append((label, *[f"{float(far[d]):.3g} ({float(far[d]) / at0:.2g}x)" for d in ds[:6]]))
        header = [f"d={d}" for d in ds[:6]]
    body = (f"<p>{esc(what)}: the norm of the loss's gradient with respect to each step's hidden state, against "
            f"the distance d (steps) from the loss. A curve falling by orders of magnitude is a vanishing "
            f"gradient: what lies that far back barely changes the weights.</p>" + img
            + table(["layer", *header], rows))
    return Section("gradflow", "Gradient flow through time", body)
