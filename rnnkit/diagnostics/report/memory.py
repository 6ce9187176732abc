"""The memory benchmarks (adding, copy, seqdigits): gradient flow through time on the run's own problem,
the measurement ``rnnkit gradflow`` makes."""

from __future__ import annotations

import torch.nn.functional as F

from rnnkit.diagnostics.report.flow import flow_section
from rnnkit.diagnostics.report.html import Section
from rnnkit.diagnostics.report.run import RunInfo


def memory_sections(info: RunInfo, notes: list[str]) -> list[Section]:
    """Gradient flow of the run's model on its own problem: a batch of fresh adding or copy sequences, or of
    test digits; copy's loss is the one over the recalled symbols, the last steps."""
    from rnnkit.tasks import memory
    from rnnkit.tasks.report import FLOW_BATCH, adding_loss

    model, conf, _ = memory.load_run(info.path)
    if info.task == "adding":
        lag = conf["data"]["lag"]
        return [flow_section(model, adding_loss(model, lag), f"the MSE of {FLOW_BATCH} adding sequences of {lag} "
                                                             f"steps, read after the last")]
    if info.task == "seqdigits":
        x, y = memory.DigitsTask(memory.DigitsConfig(**conf["data"])).test
        x, y = x[:FLOW_BATCH], y[:FLOW_BATCH]
        return [flow_section(model, lambda: F.cross_entropy(model(x), y), f"the cross-entropy of {len(y)} test "
                                                                           f"digits read pixel by pixel")]
    if info.task == "copy":
        import torch

        from rnnkit.data import synthetic

        c = memory.GeneratedConfig(**conf["data"])
        x, y = synthetic.copy_batch(FLOW_BATCH, c.lag, torch.Generator().manual_seed(10**6), c.symbols, c.length)

        def loss() -> torch.Tensor:
            out = model(x)[:, -c.length:]
            return F.cross_entropy(out.reshape(-1, out.shape[-1]).float(), y[:, -c.length:].reshape(-1))

        return [flow_section(model, loss, f"the cross-entropy of the {c.length} recalled symbols of {FLOW_BATCH} "
                                          f"copy sequences ({c.lag} blanks)")]
    notes.append(f"no gradient-flow measurement for task {info.task!r}")
    return []
