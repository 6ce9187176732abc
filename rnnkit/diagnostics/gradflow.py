"""Gradient flow through time: how much of the loss's gradient reaches each step.

Shapes: ``T`` steps, ``B`` batch, ``H`` hidden units (``O`` a cell's output features).

Backpropagation through time carries the gradient from a loss at step ``T-1`` back
to step ``t`` through the recurrent Jacobians::

    dL/dh_t = ∂L/∂h_t  +  (dL/ds_{t+1}) (∂s_{t+1}/∂s_t)          (total derivative)
            ≈ (∂L/∂h_{T-1}) Π_{k=t+1}^{T-1} ∂s_k/∂s_{k-1}          (many-to-one loss)

so ``‖dL/dh_t‖`` shrinks (vanishing) or grows (exploding) roughly like the product
of the Jacobians' norms ``‖∂s_k/∂s_{k-1}‖``. :func:`gradient_flow` measures the left
side on a real model and loss; :func:`jacobian_norms` measures the factors of the
product for one cell; :func:`plot_gradflow` draws the curves.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from rnnkit.backends import probe
from rnnkit.layers.base import RecurrentBase
from rnnkit.state import map_state

#: the floor that zeros (a step the loss does not depend on) are clipped to on a log axis
LOG_FLOOR = 1e-30


@dataclass
class GradFlow:
    """The gradient norms per step of every recurrent (layer, direction) pass.

    Attributes:
        norms: one ``(T,)`` tensor per pass, in time order: entry ``t`` is
            ``mean_b ‖dL/dh_t[b]‖₂``, the batch mean of the per-example L2 norm of the total
            derivative of the loss with respect to the layer's hidden state at time ``t``.
            With ``lengths``, the mean is over the sequences still running at ``t``.
        labels: one per pass: ``"layer 0"``, ``"layer 0 reverse"``, ``"layer 1"``, ... (prefixed
            with the module's name when the model has several recurrent layers, suffixed with
            ``"(call n)"`` when a layer ran more than once).
        loss: the value of the loss.
        directions: one per pass: 0 forward, 1 reverse.
    """

    norms: list[Tensor]
    labels: list[str]
    loss: float
    directions: list[int] = field(default_factory=list)

    def top(self) -> Tensor:
        """The curve of the last recorded layer's forward direction (the one nearest the loss)."""
        dirs = self.directions or [int("reverse" in label.split()) for label in self.labels]
        for d, n in zip(reversed(dirs), reversed(self.norms)):
            if d == 0:
                return n
        raise ValueError("no forward-direction pass was recorded")

    def as_dict(self) -> dict[str, Tensor]:
        """``{label: norms}``, e.g. for :func:`plot_gradflow`."""
        return dict(zip(self.labels, self.norms))


@contextmanager
def _reference_backend(layers: Sequence[RecurrentBase]) -> Iterator[None]:
    """Run ``layers`` on the reference backend (the only one whose steps are recorded), then restore."""
    saved = [layer.backend for layer in layers]
    try:
        for layer in layers:
            layer.backend = "reference"
        yield
    finally:
        for layer, backend in zip(layers, saved):
            layer.backend = backend


def gradient_flow(model: nn.Module, loss_fn: Callable[[], Tensor]) -> GradFlow:
    """Measure ``‖dL/dh_t‖`` for every step ``t`` of every recurrent layer and direction in ``model``.

    ``loss_fn()`` runs ``model`` forward and returns a scalar loss ``L``. While it runs,
    every :class:`~rnnkit.layers.base.RecurrentBase` inside ``model`` is switched to the
    reference backend (autograd over the steps: the fused and native kernels keep no
    per-step tensors to differentiate against) and its per-step states are recorded;
    the backends are restored afterwards, also when ``loss_fn`` raises. One backward,
    ``torch.autograd.grad(L, [h_0, ..., h_{T-1}])``, then gives the total derivative at
    each step: through the output at ``t`` and through the recurrence into ``t+1``.
    Parameters' ``.grad`` are left untouched. A step the loss does not depend on gets 0.

    Args:
        model: any module holding rnnkit recurrent layers (or one such layer).
        loss_fn: ``() -> L``, a scalar tensor computed from ``model``'s forward.

    Returns:
        :class:`GradFlow` with one ``(T,)`` curve per (layer, direction) pass.
    """
    named = [(name, m) for name, m in model.named_modules() if isinstance(m, RecurrentBase)]
    if not named:
        raise ValueError(f"gradient_flow: {type(model).__name__} holds no rnnkit recurrent layer")
    handles = []
    with _reference_backend([m for _, m in named]), probe.recording() as rec:
        try:
            for name, m in named:
                # the backend cannot tell which layer and direction it runs: the layer's pre-hook says
                # which module starts, and the recorder numbers its passes in the layers' fixed order
                def hook(mod: nn.Module, args: Any, name: str = name) -> None:
                    rec.begin_module(name, mod.num_directions)

                handles.append(m.register_forward_pre_hook(hook))
            loss = loss_fn()
        finally:
            for h in handles:
                h.remove()
    if not isinstance(loss, Tensor) or loss.numel() != 1:
        raise ValueError(f"gradient_flow: loss_fn must return a scalar tensor, got {_describe(loss)}")
    passes = [p for p in rec.passes if p.states]
    if not passes:
        raise ValueError("gradient_flow: loss_fn ran no recurrent layer of the model")
    hs = [_hidden(s) for p in passes for s in p.states]
    wanted = [i for i, h in enumerate(hs) if h.requires_grad]
    grads: list[Tensor | None] = [None] * len(hs)
    if wanted and loss.requires_grad:
        # autograd.grad, not backward(): parameters' .grad stay as they were
        got = torch.autograd.grad(loss.reshape(()), [hs[i] for i in wanted], allow_unused=True)
        for i, g in zip(wanted, got):
            grads[i] = g

    norms, labels, k = [], [], 0
    single = len(named) == 1
    calls = {}
    for p in passes:
        calls[p.module] = max(calls.get(p.module, 0), p.call)
    for p in passes:
        T = len(p.states)
        per_step = []
        for h, g in zip(hs[k: k + T], grads[k: k + T]):
            # (B,) per-example L2 norm over the hidden features
            per_step.append(h.new_zeros(h.shape[0]) if g is None else g.reshape(g.shape[0], -1).norm(dim=1))
        k += T
        norms.append(_time_order_mean(torch.stack(per_step).detach(), p))
        label = f"layer {p.layer}" + (" reverse" if p.direction else "")
        if not single:
            label = f"{p.module}: {label}"
        if calls[p.module] > 0:
            label += f" (call {p.call})"
        labels.append(label)
    return GradFlow(norms, labels, float(loss.detach()), [p.direction for p in passes])


def _time_order_mean(G: Tensor, p: probe.Pass) -> Tensor:
    """``G (T, B)`` per-example norms in step order -> ``(T,)`` batch means in time order.

    A reverse pass's step ``i`` is time ``T-1-i`` (``L_b-1-i`` for a sequence of length
    ``L_b``; its padding steps ``i >= L_b`` stay where they are, as the layer's own reversal).
    """
    T = G.shape[0]
    if p.lengths is None:
        return (G.flip(0) if p.direction else G).mean(1)
    t = torch.arange(T, device=G.device).unsqueeze(1)
    L = p.lengths.to(G.device).unsqueeze(0)
    valid = t < L                                                      # (T, B)
    if p.direction:
        G = G.gather(0, torch.where(valid, L - 1 - t, t))
    # padding contributes exact zeros (the state computed there is discarded); averaging over
    # the sequences still running keeps short sequences from dragging the late steps down
    return (G * valid).sum(1) / valid.sum(1).clamp(min=1)


def _hidden(state: Any) -> Tensor:
    """The hidden state ``h`` of a cell's state: the tensor itself, or element 0 (``LSTMState.h``)."""
    while not isinstance(state, Tensor):
        if isinstance(state, (tuple, list)) and state:
            state = state[0]
        elif isinstance(state, dict) and state:
            state = next(iter(state.values()))
        else:
            raise TypeError(f"cannot find the hidden state in a {type(state).__name__}")
    return state


def _describe(x: Any) -> str:
    return f"a tensor of shape {tuple(x.shape)}" if isinstance(x, Tensor) else type(x).__name__


# -- the recurrent Jacobian ------------------------------------------------------------------


def _flatten(state: Any) -> Tensor:
    """A state's tensors ``(B, ...)`` concatenated to ``(B, S)`` (LSTM: ``[h, c]``)."""
    leaves: list[Tensor] = []
    map_state(state, lambda s: leaves.append(s) or s)
    return torch.cat([s.reshape(s.shape[0], -1) for s in leaves], -1)


def _unflatten(flat: Tensor, template: Any) -> Any:
    """Inverse of :func:`_flatten`: split ``flat (B, S)`` into ``template``'s structure and shapes."""
    pos = [0]

    def take(s: Tensor) -> Tensor:
        n = s[0].numel()
        piece = flat[:, pos[0]: pos[0] + n].reshape(flat.shape[0], *s.shape[1:])
        pos[0] += n
        return piece

    return map_state(template, take)


def jacobian_norms(cell: Any, x: Tensor, state0: Any = None, chunk_elements: int = 2**24) -> Tensor:
    """Spectral norm of the recurrent Jacobian at every step, averaged over the batch.

    Unrolls ``cell`` over ``x (T, B, I)`` (``cell.project(x)``, then ``cell.step`` per step)
    and returns ``(T,)`` with entry ``t`` = ``mean_b σ_max(J_t[b])``, where::

        J_t[b] = ∂s_t[b] / ∂s_{t-1}[b]      (S, S)

    and ``s`` is the cell's full state flattened: ``h`` for the Elman RNN and GRU,
    ``[h, c]`` for the LSTM (``S = O + H``). The product of these Jacobians is what
    carries a gradient from step ``t`` back to an earlier step, so ``σ_max < 1`` step
    after step bounds the gradient to vanish geometrically (an upper bound: the actual
    decay also depends on the directions the gradient takes).

    Cost: ``S`` backward passes over all ``T*B`` rows plus one ``(S, S)`` symmetric
    eigenproblem per row (the larger part, ``O(S³)`` each). T=200, B=8, H=128 in float32
    on one CPU thread: about 2 s for the Elman RNN and GRU (``S = 128``), 5-9 s for the
    LSTM (``S = 256``); float64 takes about 2x as long.

    Args:
        cell: an rnnkit cell (``LSTMCell``, ``GRUCell``, ``ElmanCell``, a bound layer cell
            ``layer.cell_at(k, d)``, or a user's :class:`~rnnkit.cells.Cell`) whose ``step``
            treats batch rows independently.
        x: ``(T, B, I)`` inputs.
        state0: initial state (batch ``B``); zeros if omitted.
        chunk_elements: bound on the Jacobian elements held at once (memory, not results).

    Returns:
        ``(T,)`` tensor in ``x``'s dtype.
    """
    if x.dim() != 3:
        raise ValueError(f"jacobian_norms: expected x of shape (T, B, I), got {tuple(x.shape)}")
    T, B = x.shape[:2]
    with torch.no_grad():
        xp = cell.project(x)
        state = state0 if state0 is not None else cell.initial_state(B, dtype=x.dtype, device=x.device)
        state = map_state(state, lambda s: s.detach())
        template = state
        prev = []
        for t in range(T):
            prev.append(_flatten(state))
            _, state = cell.step(xp[t], state)
    S_prev = torch.stack(prev)                           # (T, B, S): s_{t-1} for every t
    S = S_prev.shape[-1]
    eye = torch.eye(S, dtype=S_prev.dtype, device=S_prev.device)
    steps = max(1, chunk_elements // (S * S * B))
    out = []
    for a in range(0, T, steps):
        b = min(T, a + steps)
        s = S_prev[a:b].reshape(-1, S).requires_grad_(True)          # (N, S), N = (b-a) * B
        with torch.enable_grad():
            new = _flatten(cell.step(xp[a:b].reshape(s.shape[0], -1), _unflatten(s, template))[1])
        # rows are independent, so one backward with the cotangent e_i on every row gives row i of
        # every row's own Jacobian: S backward passes over all N rows (a loop of plain backwards is
        # ~2x faster here than vmap(jacrev) per example, and needs no per-example reshaping)
        rows = [torch.autograd.grad(new, s, eye[i].expand_as(new), retain_graph=i < S - 1)[0] for i in range(S)]
        J = torch.stack(rows, 1)                                     # (N, S_out, S_in)
        out.append(_spectral_norm(J).reshape(b - a, B).mean(1))
    return torch.cat(out)


def _spectral_norm(J: Tensor) -> Tensor:
    """``σ_max`` of each ``(S, S)`` matrix: ``sqrt(λ_max(JᵀJ))``.

    The symmetric eigensolver is about 2x faster than an SVD (``matrix_norm(ord=2)``)
    and exact to rounding for the largest singular value (relative error ~ machine epsilon).
    """
    return torch.linalg.eigvalsh(J.transpose(-1, -2) @ J)[..., -1].clamp(min=0).sqrt()


# -- plotting ------------------------------------------------------------------------------


def plot_gradflow(curves: dict[str, Tensor], path: str | Path, title: str = "",
                  xlabel: str = "distance from the loss (steps)", flip: bool = True,
                  styles: dict[str, dict[str, Any]] | None = None) -> bool:
    """Gradient norm against distance from the loss, as a PNG with a log-scale y axis.

    Args:
        curves: ``{label: (T,) norms in time order}`` (e.g. :meth:`GradFlow.as_dict`, or
            several :meth:`GradFlow.top` curves). Curves share a color per cell name (the
            label's first word); a label containing ``"(init)"`` is drawn dashed, so
            ``"LSTM (init)"`` and ``"LSTM (trained)"`` show as one color, two line styles.
        path: where the PNG goes (written atomically).
        title, xlabel: axis texts.
        flip: ``True`` plots ``curve[::-1]`` against ``0..T-1``, the distance from a loss at the
            last step; ``False`` plots ``curve`` against ``t``.
        styles: optional ``{label: matplotlib line kwargs}`` that override the defaults.

    Zeros (steps the loss does not reach, or underflow) are clipped to ``LOG_FLOOR = 1e-30``
    so that the log axis stays drawable; a curve lying on 1e-30 means "exactly zero".

    Returns:
        ``False`` (and no file) when matplotlib is not installed, else ``True``.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    styles = styles or {}
    palette = plt.rcParams["axes.prop_cycle"].by_key().get("color", ["C0"])
    colors: dict[str, str] = {}
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    for label, curve in curves.items():
        y = torch.as_tensor(curve).detach().to("cpu", torch.float64).reshape(-1).clamp(min=LOG_FLOOR)
        if flip:
            y = y.flip(0)
        words = label.split()
        name = words[0] if words else label
        kw: dict[str, Any] = {"color": colors.setdefault(name, palette[len(colors) % len(palette)]),
                              "linestyle": "--" if re.search(r"\(init\)", label) else "-",
                              "linewidth": 1.3}
        kw.update(styles.get(label, {}))
        ax.plot(range(len(y)), y.tolist(), label=label, **kw)
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("‖dL/dh_t‖")
    ax.grid(alpha=0.3, which="both")
    if curves:
        ax.legend()
    if title:
        ax.set_title(title)
    from rnnkit.training.log import save_figure

    save_figure(fig, path)
    return True
