"""The cell contract shared by every recurrent cell.

A cell is the body of the time loop. The layer computes the input projection
``X_t W_ih^T + b_ih`` for all steps in one matmul (``project``) and then calls
``step`` once per step with that step's slice.

Shapes: ``B`` batch, ``T`` time, ``I`` input features, ``H`` hidden units,
``G`` gates (1 Elman, 3 GRU, 4 LSTM), ``O`` output features (``H``, or the
projection size of an LSTM with ``proj_size``).

A user's own cell subclasses :class:`Cell` and implements ``project``,
``step`` and ``initial_state`` (and sets ``input_size``/``hidden_size``/
``output_size``); it then runs in :class:`rnnkit.Recurrent` on the reference
backend. The built-in cells also implement ``step_with`` (the step with
explicit weights) and name a fused kernel, which lets a layer keep its weights
under torch.nn's names and run them on the fused BPTT backend.

Standalone, every cell is called as torch.nn's cells are: ``cell(input, hx=None)``
advances one step and returns the new state; shape mistakes raise
:class:`rnnkit.errors.ShapeError` (a ``ValueError`` and a ``RuntimeError``) with
torch.nn's messages.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from rnnkit.errors import ShapeError


class Cell(nn.Module):
    """Base class of recurrent cells.

    Attributes:
        gates: number of gate blocks ``G`` stacked in ``weight_ih``/``weight_hh``.
        input_size: ``I``. hidden_size: ``H``. output_size: ``O`` (what ``step`` emits).
        fused_kind: name of the fused BPTT kernel for this cell, or ``None``.
        keeps_projection: the fused loop only reads an input projection made outside (``w_ih`` None),
            so the fused backend hands it over without a copy.
        shared_bias_grad: ``b_ih`` and ``b_hh`` receive the same gradient (both add to the same
            pre-activations), so the fused backend sums it once.
    """

    gates: int = 1
    fused_kind: str | None = None
    keeps_projection: bool = False
    shared_bias_grad: bool = False
    #: weight names in the order the fused kernels take them
    weight_names: tuple[str, ...] = ("weight_ih", "bias_ih", "weight_hh", "bias_hh")

    input_size: int
    hidden_size: int

    def __init__(self) -> None:
        # nn.Module's, never a torch.nn cell's: the built-in cells also subclass torch.nn.LSTMCell
        # and friends (for isinstance), whose __init__ would build parameters of its own layout
        nn.Module.__init__(self)

    @property
    def output_size(self) -> int:
        return self.hidden_size

    # -- the contract -----------------------------------------------------
    def project(self, x: Tensor) -> Tensor:
        """Input projection for all steps at once: ``(T, B, I) -> (T, B, G*H)``."""
        return self.project_with(self.weights(), x)

    def step(self, xp_t: Tensor, state: Any) -> tuple[Tensor, Any]:
        """One step: ``xp_t (B, G*H)``, state -> ``(out_t (B, O), new_state)``."""
        return self.step_with(self.weights(), xp_t, state)

    def initial_state(self, batch: int, *, dtype: torch.dtype | None = None,
                      device: torch.device | str | None = None) -> Any:
        """The zero state for ``batch`` sequences."""
        return torch.zeros(batch, self.output_size, dtype=dtype, device=device)

    # -- built-in cells: the step with explicit weights --------------------
    def weights(self) -> tuple[Tensor | None, ...]:
        """This cell's own parameters in ``weight_names`` order (``None`` for absent biases)."""
        return tuple(getattr(self, n, None) for n in self.weight_names)

    def project_with(self, w: tuple[Tensor | None, ...], x: Tensor) -> Tensor:
        return torch.nn.functional.linear(x, w[0], w[1])

    def step_with(self, w: tuple[Tensor | None, ...], xp_t: Tensor, state: Any,
                  recurrent_mask: Tensor | None = None) -> tuple[Tensor, Any]:
        """One step with explicit weights; ``recurrent_mask (B, O)`` multiplies ``H_{t-1}`` where it
        enters ``W_hh`` (recurrent dropout, :mod:`rnnkit.cells.noise`)."""
        raise NotImplementedError(f"{type(self).__name__} must implement step() or step_with()")

    def bind(self, w: tuple[Tensor | None, ...] | None = None) -> BoundCell | Cell:
        """What a layer runs: this cell with its weights fixed for one forward call."""
        if type(self).step_with is Cell.step_with:
            return self  # a user's cell that implements step() on its own parameters
        return BoundCell(self, self.weights() if w is None else w)

    # -- standalone use, like torch.nn.LSTMCell ---------------------------
    def forward(self, input: Tensor, hx: Any = None) -> Any:
        """Advance one step, as ``torch.nn.*Cell(input, hx)``: returns the new state.

        ``input (B, I)`` or unbatched ``(I,)``; ``hx`` this cell's state for ``B``
        sequences (``(B, O)``, or ``(h (B, O), c (B, H))`` for an LSTM; unbatched
        without the ``B``), zeros when ``None``. Wrong ranks or sizes raise
        :class:`~rnnkit.errors.ShapeError`, never a broadcast.
        """
        name = type(self).__name__
        if input.dim() not in (1, 2):
            raise ShapeError(f"{name}: Expected input to be 1D or 2D, got {input.dim()}D instead")
        if hx is not None:
            _check_ranks(name, hx)
        unbatched = input.dim() == 1
        if unbatched:
            input = input.unsqueeze(0)
            if hx is not None:
                hx = _map_state(hx, lambda s: s.unsqueeze(0))
        if input.shape[1] != self.input_size:
            raise ShapeError(f"{name}: input has inconsistent input_size: got {input.shape[1]} "
                             f"expected {self.input_size}")
        if hx is None:
            hx = self.initial_state(input.shape[0], dtype=input.dtype, device=input.device)
        else:
            self.check_state(hx, input.shape[0])
        _, new = self.step(self.project(input), hx)
        if unbatched:
            new = _map_state(new, lambda s: s.squeeze(0))
        return new

    def check_state(self, hx: Any, batch: int) -> None:
        """Raise :class:`~rnnkit.errors.ShapeError` unless ``hx`` is a state for ``batch`` sequences.

        Compared with :meth:`initial_state` built on the meta device (shapes only, no memory),
        so it holds for a user's cell too; torch.nn's checks and messages, tensor by tensor.
        """
        name = type(self).__name__
        want = _leaves(self.initial_state(batch, device="meta"))
        got = _leaves(hx)
        if len(got) != len(want):
            raise ShapeError(f"{name}: expected a state of {len(want)} tensor(s), got {len(got)}")
        for k, (g, w) in enumerate(zip(got, want)):
            if g.dim() >= 1 and w.dim() >= 1 and g.shape[0] != w.shape[0]:
                raise ShapeError(f"{name}: Input batch size {batch} doesn't match hidden{k} batch size "
                                 f"{g.shape[0]}")
            if g.shape != w.shape:
                what = (f"got {g.shape[-1]}, expected {w.shape[-1]}" if g.dim() == w.dim()
                        else f"got shape {tuple(g.shape)}, expected {tuple(w.shape)}")
                raise ShapeError(f"{name}: hidden{k} has inconsistent hidden_size: {what}")

    def reset_parameters(self) -> None:
        """torch.nn's default: every weight and bias uniform in ``(-1/sqrt(H), 1/sqrt(H))``."""
        bound = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0.0
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}" + ("" if getattr(self, "bias", True) else ", bias=False")


class BoundCell:
    """A built-in cell's equations bound to one set of weights (not a module).

    Layers keep their parameters under torch.nn's flat names (``weight_ih_l0``);
    for each layer and direction they bind the shared cell definition to those
    tensors for the duration of one forward call.
    """

    __slots__ = ("cell", "weights")

    def __init__(self, cell: Cell, weights: tuple[Tensor | None, ...]):
        self.cell = cell
        self.weights = weights

    @property
    def output_size(self) -> int:
        return self.cell.output_size

    @property
    def fused_kind(self) -> str | None:
        return self.cell.fused_kind

    def project(self, x: Tensor) -> Tensor:
        return self.cell.project_with(self.weights, x)

    def step(self, xp_t: Tensor, state: Any, recurrent_mask: Tensor | None = None) -> tuple[Tensor, Any]:
        if recurrent_mask is None:
            return self.cell.step_with(self.weights, xp_t, state)
        return self.cell.step_with(self.weights, xp_t, state, recurrent_mask=recurrent_mask)

    def initial_state(self, batch: int, **kw: Any) -> Any:
        return self.cell.initial_state(batch, **kw)


def _map_state(state: Any, fn: Any) -> Any:
    from rnnkit.state import map_state

    return map_state(state, fn)


def _leaves(state: Any) -> list[Tensor]:
    """The tensors of a state, in order (a tensor, an ``LSTMState``, any nesting of tuples/lists/dicts)."""
    out: list[Tensor] = []
    _map_state(state, lambda t: out.append(t) or t)
    return out


def _check_ranks(name: str, hx: Any) -> None:
    """torch.nn's first check on ``hx``: every tensor 1-D or 2-D (its messages, ``hx[k]`` for a pair)."""
    if isinstance(hx, Tensor):
        if hx.dim() not in (1, 2):
            raise ShapeError(f"{name}: Expected hidden to be 1D or 2D, got {hx.dim()}D instead")
        return
    for k, t in enumerate(_leaves(hx)):
        if t.dim() not in (1, 2):
            raise ShapeError(f"{name}: Expected hx[{k}] to be 1D or 2D, got {t.dim()}D instead")


def make_params(cell: Cell, shapes: dict[str, tuple[int, ...]], factory: dict[str, Any]) -> None:
    """Register ``shapes`` as parameters on ``cell``; absent biases as ``None`` (``cell.bias_ih is None``,
    as torch.nn's cells have it)."""
    for name, shape in shapes.items():
        setattr(cell, name, nn.Parameter(torch.empty(shape, **factory)))
    for name in ("bias_ih", "bias_hh"):
        if name not in shapes and name in cell.weight_names:
            cell.register_parameter(name, None)
