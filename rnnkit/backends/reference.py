"""Reference backend: plain autograd over the cell's ``step``, for any cell.

Slow (one Python call and one autograd node per operation per step) but works
for every cell, including a user's own, and is the yardstick the fused kernels
are checked against.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from rnnkit.state import zip_states


def run(cell: Any, x: Tensor, state0: Any, lengths: Tensor | None,
        batch_sizes: list[int] | None = None) -> tuple[Tensor, Any]:
    """Run one layer in one direction: ``x (T, B, I)`` -> ``(out (T, B, O), final_state)``.

    With ``lengths (B,)``, a sequence's state stops changing after its last valid
    step and its outputs there are zero.
    """
    xp = cell.project(x)
    state = state0
    outs = []
    if lengths is None:
        for xp_t in xp.unbind(0):
            out_t, state = cell.step(xp_t, state)
            outs.append(out_t)
    else:
        T = x.shape[0]
        masks = (torch.arange(T, device=x.device).unsqueeze(1) < lengths.to(x.device).unsqueeze(0))
        for xp_t, m in zip(xp.unbind(0), masks.unsqueeze(-1).unbind(0)):
            out_t, new = cell.step(xp_t, state)
            state = zip_states(lambda n, o, m=m: torch.where(m, n, o), new, state)
            outs.append(out_t * m)
    return torch.stack(outs), state


def supports(cell: Any) -> bool:
    return True
