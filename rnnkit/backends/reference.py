"""Reference backend: plain autograd over the cell's ``step``, for any cell.

Slow (one Python call and one autograd node per operation per step) but works
for every cell, including a user's own, and is the yardstick the fused kernels
are checked against.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from rnnkit.backends import probe
from rnnkit.cells.base import BoundCell
from rnnkit.cells.noise import StepNoise, zone_state
from rnnkit.state import zip_states


def run(cell: Any, x: Tensor, state0: Any, lengths: Tensor | None,
        batch_sizes: list[int] | None = None, noise: StepNoise | None = None) -> tuple[Tensor, Any]:
    """Run one layer in one direction: ``x (T, B, I)`` -> ``(out (T, B, O), final_state)``.

    With ``lengths (B,)``, a sequence's state stops changing after its last valid
    step and its outputs there are zero. ``noise``: recurrent dropout / zoneout masks
    (:mod:`rnnkit.cells.noise`), for the built-in cells.

    Under :func:`rnnkit.backends.probe.recording`, every step's state is handed to
    the recorder (gradient-flow analysis); otherwise the only cost is one check per step.
    """
    xp = cell.project(x)
    step = cell.step if noise is None else _noisy_step(cell, noise)
    state = state0
    outs = []
    rec = probe.active()
    if rec is not None:
        rec.begin_pass(lengths)
    if lengths is None:
        for xp_t in xp.unbind(0):
            out_t, state = step(xp_t, state)
            outs.append(out_t)
            if rec is not None:
                rec.add(state)
    else:
        T = x.shape[0]
        masks = (torch.arange(T, device=x.device).unsqueeze(1) < lengths.to(x.device).unsqueeze(0))
        for xp_t, m in zip(xp.unbind(0), masks.unsqueeze(-1).unbind(0)):
            out_t, new = step(xp_t, state)
            state = zip_states(lambda n, o, m=m: torch.where(m, n, o), new, state)
            outs.append(out_t * m)
            if rec is not None:
                # the step's own state, before masking: the output at t is computed from it, so
                # its gradient is the total one (output + recurrence); the masked state would miss
                # the output's share. Past a sequence's end it is discarded: its gradient is zero.
                rec.add(new)
    return torch.stack(outs), state


def _noisy_step(cell: Any, noise: StepNoise) -> Any:
    """``cell.step`` with the masks of ``noise`` applied; steps are counted from the first call."""
    if not isinstance(cell, BoundCell):
        raise ValueError(f"recurrent_dropout and zoneout need a built-in cell (with step_with), "
                         f"got {type(cell).__name__}")
    t = 0

    def step(xp_t: Tensor, state: Any) -> tuple[Tensor, Any]:
        nonlocal t
        mask = None if noise.recurrent is None else noise.recurrent[: xp_t.shape[0]]
        out, new = cell.step(xp_t, state, recurrent_mask=mask)
        if noise.zoneout is not None:
            new = zone_state(new, state, noise.zoneout, t)
            out = new if isinstance(new, Tensor) else new[0]  # the step's output is the zoned H_t
        t += 1
        return out, new

    return step


def supports(cell: Any) -> bool:
    return True
