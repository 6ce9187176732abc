"""``rnnkit.RNN``, ``rnnkit.LSTM``, ``rnnkit.GRU``: drop-in for the torch.nn classes.

Same constructor, same forward, same parameter names and layout
(``weight_ih_l{k}[_reverse]``, ``weight_hh_l{k}``, ``bias_ih_l{k}``, ``bias_hh_l{k}``,
``weight_hr_l{k}``), so state dicts move both ways. In addition: ``lengths=`` in
forward (padding masked without packing), ``backend=`` (``auto``, ``native``,
``fused``, ``reference``; the one that ran is ``layer.backend_used``), and the
``recurrent_init`` / ``forget_bias`` initialisation options.

The weights live on the layer; one parameter-free cell definition per layer
input size holds the equations and is bound to each layer's and direction's
weights for a forward call.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from rnnkit.backends import native
from rnnkit.cells import BoundCell, Cell, ElmanCell, GRUCell, LSTMCell
from rnnkit.init import RECURRENT_INITS, forget_gate_bias_, orthogonal_recurrent_
from rnnkit.layers.base import RecurrentBase
from rnnkit.state import LSTMState


class _TorchLayer(RecurrentBase):
    kind: str = ""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 proj_size: int = 0, device: Any = None, dtype: Any = None, *,
                 nonlinearity: str = "tanh", backend: str = "auto", recurrent_init: str = "uniform",
                 forget_bias: float | None = None) -> None:
        super().__init__()
        name = type(self).__name__
        for arg, v in (("input_size", input_size), ("hidden_size", hidden_size), ("num_layers", num_layers)):
            if not isinstance(v, int) or isinstance(v, bool):
                raise TypeError(f"{name}: {arg} must be an int, got {type(v).__name__}")
        if hidden_size <= 0 or input_size <= 0:
            raise ValueError(f"{name}: input_size and hidden_size must be > 0, got {input_size}, {hidden_size}")
        if recurrent_init not in RECURRENT_INITS:
            raise ValueError(f"{name}: unknown recurrent_init {recurrent_init!r}: expected one of "
                             f"{', '.join(RECURRENT_INITS)}")
        if forget_bias is not None and self.kind != "lstm":
            raise ValueError(f"{name}: forget_bias applies to the LSTM only")
        self._init_common(backend, dropout, num_layers)
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, float(dropout)
        self.bidirectional, self.proj_size = bidirectional, proj_size
        self.nonlinearity = nonlinearity
        self.recurrent_init, self.forget_bias = recurrent_init, forget_bias
        D = self.num_directions
        first = self._make_cell(input_size)
        # plain attribute, not a submodule: the definitions hold no tensors and must not
        # show up in named_modules()/state_dict() (torch.nn's layers have none)
        self._defs: list[Cell] = [first, self._make_cell(first.output_size * D)]
        self._flat_weights_names: list[str] = []
        self._all_weights: list[list[str]] = []
        factory = {"device": device, "dtype": dtype}
        for k in range(num_layers):
            cell = self._defs[min(k, 1)]
            for d in range(D):
                names = []
                for pname, shape in cell.parameter_shapes().items():
                    full = f"{pname}_l{k}{'_reverse' if d else ''}"
                    setattr(self, full, nn.Parameter(torch.empty(shape, **factory)))
                    names.append(full)
                # torch.nn's flat order: w_ih, w_hh, b_ih, b_hh, w_hr
                self._flat_weights_names.extend(names)
                self._all_weights.append(names)
        self.reset_parameters()

    def _make_cell(self, input_size: int) -> Cell:
        raise NotImplementedError

    def reset_parameters(self) -> None:
        """torch.nn's init, then the chosen recurrent init and forget-gate bias."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)
        if self.recurrent_init == "orthogonal":
            orthogonal_recurrent_(self, self._defs[0].gates)
        if self.forget_bias is not None:
            forget_gate_bias_(self, self.forget_bias)

    @property
    def cell_kind(self) -> str:
        return self.kind

    @property
    def can_native(self) -> bool:
        return True

    def cell_at(self, layer: int, direction: int) -> BoundCell:
        cell = self._defs[min(layer, 1)]
        sfx = f"_l{layer}{'_reverse' if direction else ''}"
        return BoundCell(cell, tuple(self._parameters.get(n + sfx) for n in cell.weight_names))

    def native_call(self, x: Tensor, hx: Any, lengths: Tensor | None,
                    batch_sizes: list[int] | None) -> tuple[Tensor, Any]:
        mode = self.kind if self.kind != "elman" else f"elman-{self.nonlinearity}"
        out, state = native.run(mode, x, hx, self._flat_weights, self.bias, self.num_layers,
                                self.dropout, self.training, self.bidirectional, lengths, batch_sizes)
        return out, (LSTMState(*state) if self.kind == "lstm" else state)

    @property
    def _flat_weights(self) -> list[Tensor]:
        return [self._parameters[n] for n in self._flat_weights_names]

    @property
    def all_weights(self) -> list[list[nn.Parameter]]:
        """Parameters grouped per layer and direction, as ``torch.nn.RNNBase.all_weights``."""
        return [[self._parameters[n] for n in names] for names in self._all_weights]

    def flatten_parameters(self) -> None:
        """Accepted for torch.nn compatibility; rnnkit keeps no flat weight buffer."""

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s + f", backend={self.backend!r}"


class RNN(_TorchLayer):
    """Elman RNN layer, drop-in for ``torch.nn.RNN`` (see :class:`rnnkit.cells.ElmanCell`).

    ``RNN(input_size, hidden_size, num_layers=1, nonlinearity='tanh', bias=True,
    batch_first=False, dropout=0.0, bidirectional=False, device=None, dtype=None,
    *, backend='auto', recurrent_init='uniform')``. Forward as torch.nn plus ``lengths=``.
    """

    kind = "elman"

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, nonlinearity: str = "tanh",
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, device: Any = None, dtype: Any = None, **kw: Any) -> None:
        if "proj_size" in kw:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         0, device, dtype, nonlinearity=nonlinearity, **kw)

    def _make_cell(self, input_size: int) -> Cell:
        return ElmanCell(input_size, self.hidden_size, self.bias, self.nonlinearity, create_parameters=False)

    def extra_repr(self) -> str:
        nl = f", nonlinearity={self.nonlinearity!r}" if self.nonlinearity != "tanh" else ""
        return super().extra_repr() + nl


class LSTM(_TorchLayer):
    """LSTM layer, drop-in for ``torch.nn.LSTM`` (see :class:`rnnkit.cells.LSTMCell`).

    ``LSTM(input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
    dropout=0.0, bidirectional=False, proj_size=0, device=None, dtype=None,
    *, backend='auto', recurrent_init='uniform', forget_bias=None)``.
    The state is an :class:`rnnkit.LSTMState` ``(h, c)`` (a tuple, as in torch.nn).
    """

    kind = "lstm"

    def _make_cell(self, input_size: int) -> Cell:
        return LSTMCell(input_size, self.hidden_size, self.bias, self.proj_size, create_parameters=False)


class GRU(_TorchLayer):
    """GRU layer, drop-in for ``torch.nn.GRU`` (see :class:`rnnkit.cells.GRUCell`).

    ``GRU(input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
    dropout=0.0, bidirectional=False, device=None, dtype=None, *, backend='auto',
    recurrent_init='uniform')``.
    """

    kind = "gru"

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 device: Any = None, dtype: Any = None, **kw: Any) -> None:
        if "proj_size" in kw:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         0, device, dtype, **kw)

    def _make_cell(self, input_size: int) -> Cell:
        return GRUCell(input_size, self.hidden_size, self.bias, create_parameters=False)
