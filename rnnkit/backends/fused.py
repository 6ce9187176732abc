"""Fused BPTT backend: our written-out forward and backward over the whole sequence.

The forward runs the cell's ``fused_forward`` loop once, keeping the activated
gates it needs; the backward walks back over time with the cell's
``fused_backward`` and then forms the weight gradients with one matmul over all
steps (``dW_ih = dXP^T X``, ``dW_hh = dHP^T H_{t-1}``), never one per step.

The hand-written backward works in place in its own buffers and is not itself
differentiable. When a gradient of the gradient is asked for
(``create_graph=True``, ``gradgradcheck``, ``torch.func.grad`` of a gradient), the
backward instead replays the forward with the reference backend (autograd over the
cell's ``step_with``, the same equations) from the saved inputs and differentiates
that: correct to any order, and slow only where a double backward is taken.

Shapes: ``x (T, B, I)`` time-major; rows sorted by length (descending) when
``batch_sizes`` is given.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from rnnkit.backends import reference
from rnnkit.cells.base import BoundCell
from rnnkit.cells.noise import StepNoise

#: FusedBPTT.apply's leading non-differentiable arguments: cell, batch_sizes, lengths, noise
_N_META = 4

try:  # what torch's Function.apply does to its arguments outside torch.func (private, hence guarded)
    from torch._functorch.utils import unwrap_dead_wrappers as _unwrap_dead
except ImportError:  # pragma: no cover - a torch without it: torch's own apply is used
    _unwrap_dead = None


class FusedBPTT(torch.autograd.Function):
    """``(x, weights, *state0) -> (out, *final_state, *saved)`` with a hand-derived backward.

    In the ``setup_context`` style torch.func needs, ``forward`` has no ``ctx``; the cell's
    intermediates the backward reads (``saved``) are therefore returned as extra,
    non-differentiable outputs, which :func:`run` drops.
    """

    @classmethod
    def apply(cls, *args: Any) -> Any:  # type: ignore[override]
        """As ``torch.autograd.Function.apply``, minus its per-call argument binding.

        For a ``setup_context``-style Function torch binds default arguments with
        ``inspect.signature`` on every call (50-90 µs, as long as a few small steps);
        ``forward`` here has none to bind. Under torch.func transforms torch's own path runs.
        """
        if _unwrap_dead is None or torch._C._are_functorch_transforms_active():
            return super().apply(*args)
        return super(torch.autograd.Function, cls).apply(*_unwrap_dead(args))

    @staticmethod
    def forward(cell: Any, batch_sizes: list[int] | None, lengths: Tensor | None, noise: StepNoise | None,
                x: Tensor, w_ih: Tensor, b_ih: Tensor | None, w_hh: Tensor, b_hh: Tensor | None,
                w_extra: Tensor | None, *state0: Tensor) -> tuple[Tensor, ...]:
        # w_ih None: x is already the cell's input projection (a cell whose projection is more than a
        # matmul, e.g. layer-normalised: it is computed, and differentiated, outside by autograd). A loop
        # that writes into its projection gets a copy of it; one that keeps_projection reads x itself.
        if w_ih is not None:
            xp = torch.nn.functional.linear(x, w_ih, b_ih)
        else:
            xp = x if getattr(cell, "keeps_projection", False) else x.clone()
        out, finals, saved = cell.fused_forward(xp, state0, w_hh, b_hh, w_extra, batch_sizes, lengths,
                                                **({} if noise is None else {"noise": noise}))
        # without lengths a final state is a view of the output buffer: hand out copies
        finals = tuple(f.clone() if lengths is None else f for f in finals)
        return (out, *finals, *saved)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: tuple[Tensor, ...]) -> None:
        cell, batch_sizes, lengths, noise, x, w_ih, b_ih, w_hh, b_hh, w_extra, *state0 = inputs
        n = len(state0)
        saved = output[1 + n:]
        ctx.mark_non_differentiable(*saved)
        # no zero-filled gradients for the unused outputs (the saved intermediates above all,
        # (T, B, 4H) for an LSTM): the cells treat a missing gradient as zero themselves
        ctx.set_materialize_grads(False)
        ctx.cell, ctx.batch_sizes, ctx.noise, ctx.n_state = cell, batch_sizes, noise, n
        # weights, biases and the initial state are kept for the replay a double backward needs
        ctx.save_for_backward(x, w_ih, b_ih, w_hh, b_hh, w_extra, lengths, *state0, output[0], *saved)

    @staticmethod
    def backward(ctx: Any, dout: Tensor | None, *grads: Tensor | None) -> tuple[Tensor | None, ...]:
        dfinals = grads[: ctx.n_state]  # the rest belong to the non-differentiable saved outputs
        if not torch.is_grad_enabled():
            return _fast_backward(ctx, dout, dfinals)
        # create_graph=True: the gradient itself must be differentiable
        res = _differentiable_backward(ctx, dout, dfinals)
        need = ctx.needs_input_grad
        if all(r is not None or not nd for r, nd in zip(res, need)):
            return res
        # An input the replay could not reach: torch.func.vjp's vjp_fn differentiates with
        # create_graph=True after its level has ended, when the saved inputs are dead functorch
        # wrappers that no new graph can hang off. Its gradient is still the fast path's.
        with torch.no_grad():
            fast = _fast_backward(ctx, dout, dfinals)
        return tuple(f if r is None and nd else r for r, f, nd in zip(res, fast, need))


def _fast_backward(ctx: Any, dout: Tensor | None, dfinals: tuple[Tensor | None, ...]) -> tuple[Tensor | None, ...]:
    """The hand-written backward: the cell's ``fused_backward`` plus the input-projection matmuls."""
    x, w_ih, _, w_hh, _, w_extra, _, *rest = ctx.saved_tensors
    n = ctx.n_state
    state0, out, saved = tuple(rest[:n]), rest[n], tuple(rest[n + 1:])
    dout = torch.zeros_like(out) if dout is None else dout.contiguous()
    noise = {} if ctx.noise is None else {"noise": ctx.noise}
    dxp, dw_hh, db_hh, dstate0, dw_extra = ctx.cell.fused_backward(
        saved, out, state0, dout, dfinals, w_hh, w_extra, ctx.batch_sizes, **noise)
    T, B, G = dxp.shape
    flat = dxp.reshape(T * B, G)
    need = ctx.needs_input_grad[_N_META:]
    if w_ih is None:
        dx = dxp if need[0] else None
        dw_ih = None
    else:
        dx = dxp.matmul(w_ih) if need[0] else None
        dw_ih = flat.t().mm(x.reshape(T * B, -1)) if need[1] else None
    if not need[2]:
        db_ih = None
    elif getattr(ctx.cell, "shared_bias_grad", False) and db_hh is not None:
        db_ih = db_hh.clone()   # b_ih and b_hh enter the same pre-activations (LSTM): one sum, not two
    else:
        db_ih = flat.sum(0)
    return (None,) * _N_META + (dx, dw_ih, db_ih, dw_hh, db_hh if need[4] else None, dw_extra, *dstate0)


def _differentiable_backward(ctx: Any, dout: Tensor | None,
                             dfinals: tuple[Tensor | None, ...]) -> tuple[Tensor | None, ...]:
    """The backward as a graph: replay the forward with autograd over the steps and differentiate it.

    The saved inputs are the caller's own tensors, so the replayed graph hangs off the
    same leaves and the returned gradients differentiate w.r.t. the inputs and w.r.t.
    the incoming gradients ``dout``/``dfinals``.
    """
    x, w_ih, b_ih, w_hh, b_hh, w_extra, lengths, *rest = ctx.saved_tensors
    state0 = tuple(rest[: ctx.n_state])
    inputs = (x, w_ih, b_ih, w_hh, b_hh, w_extra, *state0)
    need = ctx.needs_input_grad[_N_META:]
    cell = ctx.cell
    if w_ih is None:
        bound: Any = _Projected(cell, w_hh, w_extra)
    else:
        bound = BoundCell(cell, (w_ih, b_ih, w_hh, b_hh, w_extra)[: len(cell.weight_names)])
    with torch.enable_grad():
        replayed = replay(bound, x, state0, lengths, ctx.batch_sizes, ctx.noise)
    pairs = [(o, g) for o, g in zip(replayed, (dout, *dfinals)) if g is not None and o.requires_grad]
    wrt = [t for t, nd in zip(inputs, need) if nd and t is not None]
    grads: list[Tensor | None] = []
    if pairs and wrt:
        outs, gouts = zip(*pairs)
        grads = list(torch.autograd.grad(outs, wrt, gouts, create_graph=True, allow_unused=True))
    it = iter(grads)
    res = [next(it, None) if nd and t is not None else None for t, nd in zip(inputs, need)]
    return (None,) * _N_META + tuple(res)


def replay(cell: BoundCell, x: Tensor, state0: tuple[Tensor, ...], lengths: Tensor | None,
           batch_sizes: list[int] | None, noise: StepNoise | None = None) -> tuple[Tensor, ...]:
    """The fused forward's results computed by the reference backend: ``(out (T, B, O), *final_state)``.

    Same semantics as :meth:`FusedBPTT.forward`: with ``batch_sizes`` outputs past a
    sequence's end are zero (the reference backend's masking); ``lengths`` alone only
    picks each sequence's final state at its last valid step.
    """
    s0: Any = state0[0] if len(state0) == 1 else tuple(state0)
    if lengths is not None and batch_sizes is None:
        out, _ = reference.run(cell, x, s0, None, noise=noise)
        _, final = reference.run(cell, x, s0, lengths, noise=noise)
    else:
        out, final = reference.run(cell, x, s0, lengths, noise=noise)
    return (out, *((final,) if isinstance(final, Tensor) else tuple(final)))


class _Projected(BoundCell):
    """A cell whose input projection was computed outside (``x`` is it): the replay's view of it,
    through the cell's ``step_projected(w_hh, extra, xp_t, state, recurrent_mask)``."""

    __slots__ = ()

    def __init__(self, cell: Any, w_hh: Tensor, extra: Tensor | None):
        super().__init__(cell, (w_hh, extra))

    def project(self, x: Tensor) -> Tensor:
        return x

    def step(self, xp_t: Tensor, state: Any, recurrent_mask: Tensor | None = None) -> tuple[Tensor, Any]:
        return self.cell.step_projected(*self.weights, xp_t, state, recurrent_mask=recurrent_mask)


def supports(cell: Any) -> bool:
    """Whether ``cell`` (a bound built-in cell) can run on this backend."""
    return isinstance(cell, BoundCell) and hasattr(cell.cell, "fused_forward")


def run(cell: BoundCell, x: Tensor, state0: Any, lengths: Tensor | None,
        batch_sizes: list[int] | None, noise: StepNoise | None = None) -> tuple[Tensor, Any]:
    """Run one layer in one direction: ``x (T, B, I)`` -> ``(out (T, B, O), final_state)``.

    ``state0``: a tensor ``(B, O)`` or a state tuple (``LSTMState (h (B, O), c (B, H))``);
    ``lengths (B,)`` and ``batch_sizes`` (``T`` ints) as the layers pass them, rows sorted
    by length. Differentiable to any order (see the module docstring).
    """
    leaves = (state0,) if isinstance(state0, Tensor) else tuple(state0)
    if hasattr(cell.cell, "fused_weights"):
        # the projection (and what else the cell does to its input) by autograd, the loop by us
        x, w = cell.project(x), cell.cell.fused_weights(cell.weights)
    else:
        w = cell.weights
    extra = w[4] if len(w) > 4 else None
    if lengths is None and batch_sizes is not None:
        # the final state is the one at each sequence's last valid step, not a padded row's zeros
        lengths = torch.tensor(batch_sizes).unsqueeze(0).gt(torch.arange(x.shape[1]).unsqueeze(1)).sum(1)
    res = FusedBPTT.apply(cell.cell, batch_sizes, lengths, noise, x.contiguous(), w[0], w[1], w[2], w[3], extra,
                          *(s.contiguous() for s in leaves))
    finals = res[1: 1 + len(leaves)]
    if isinstance(state0, Tensor):
        return res[0], finals[0]
    return res[0], type(state0)(*finals) if hasattr(state0, "_fields") else type(state0)(finals)
