"""Fused BPTT backend: our written-out forward and backward over the whole sequence.

The forward runs the cell's ``fused_forward`` loop once, keeping the activated
gates it needs; the backward walks back over time with the cell's
``fused_backward`` and then forms the weight gradients with one matmul over all
steps (``dW_ih = dXP^T X``, ``dW_hh = dHP^T H_{t-1}``), never one per step.

Shapes: ``x (T, B, I)`` time-major; rows sorted by length (descending) when
``batch_sizes`` is given.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from rnnkit.cells.base import BoundCell


class FusedBPTT(torch.autograd.Function):
    """``(x, weights, *state0) -> (out, *final_state)`` with a hand-derived backward."""

    @staticmethod
    def forward(ctx: Any, cell: Any, batch_sizes: list[int] | None, lengths: Tensor | None, x: Tensor,
                w_ih: Tensor, b_ih: Tensor | None, w_hh: Tensor, b_hh: Tensor | None,
                w_extra: Tensor | None, *state0: Tensor) -> tuple[Tensor, ...]:
        xp = torch.nn.functional.linear(x, w_ih, b_ih)
        out, finals, saved = cell.fused_forward(xp, state0, w_hh, b_hh, w_extra, batch_sizes, lengths)
        # without lengths a final state is a view of the output buffer: hand out copies
        finals = tuple(f.clone() if lengths is None else f for f in finals)
        ctx.cell, ctx.batch_sizes = cell, batch_sizes
        ctx.has_b_ih, ctx.has_b_hh = b_ih is not None, b_hh is not None
        ctx.n_saved = len(saved)
        ctx.save_for_backward(x, w_ih, w_hh, w_extra, *saved)
        return (out, *finals)

    @staticmethod
    def backward(ctx: Any, dout: Tensor, *dfinals: Tensor) -> tuple[Tensor | None, ...]:
        x, w_ih, w_hh, w_extra, *saved = ctx.saved_tensors
        dxp, dw_hh, db_hh, dstate0, dw_extra = ctx.cell.fused_backward(
            tuple(saved), dout.contiguous(), dfinals, w_hh, w_extra, ctx.batch_sizes)
        T, B, G = dxp.shape
        flat = dxp.reshape(T * B, G)
        need = ctx.needs_input_grad
        dx = dxp.matmul(w_ih) if need[3] else None
        dw_ih = flat.t().mm(x.reshape(T * B, -1)) if need[4] else None
        db_ih = flat.sum(0) if ctx.has_b_ih and need[5] else None
        return (None, None, None, dx, dw_ih, db_ih, dw_hh, db_hh if ctx.has_b_hh else None,
                dw_extra, *dstate0)


def supports(cell: Any) -> bool:
    """Whether ``cell`` (a bound built-in cell) can run on this backend."""
    return isinstance(cell, BoundCell) and hasattr(cell.cell, "fused_forward")


def run(cell: BoundCell, x: Tensor, state0: Any, lengths: Tensor | None,
        batch_sizes: list[int] | None) -> tuple[Tensor, Any]:
    """Run one layer in one direction: ``x (T, B, I)`` -> ``(out (T, B, O), final_state)``."""
    w = cell.weights
    extra = w[4] if len(w) > 4 else None
    leaves = (state0,) if isinstance(state0, Tensor) else tuple(state0)
    res = FusedBPTT.apply(cell.cell, batch_sizes, lengths, x.contiguous(), w[0], w[1], w[2], w[3], extra,
                          *(s.contiguous() for s in leaves))
    out, finals = res[0], res[1:]
    final = finals[0] if isinstance(state0, Tensor) else type(state0)(*finals)
    return out, final
