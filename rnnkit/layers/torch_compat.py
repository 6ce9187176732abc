"""``rnnkit.RNN``, ``rnnkit.LSTM``, ``rnnkit.GRU``: drop-in for the torch.nn classes.

They *are* ``torch.nn.RNN``/``LSTM``/``GRU`` (subclasses): the same constructor, the
parameters created and initialised by torch.nn's own code (so a seeded layer starts
from the same numbers), the same names and layout (``weight_ih_l{k}[_reverse]``,
``weight_hh_l{k}``, ``bias_ih_l{k}``, ``bias_hh_l{k}``, ``weight_hr_l{k}``), ``.mode``,
``isinstance(layer, torch.nn.LSTM)``, and code that knows torch.nn's layers (pickling,
``torch.load`` with ``weights_only``, parametrizations, quantization, export) sees one.
In addition: ``lengths=`` in forward (padding masked without packing), ``backend=``
(``auto``, ``native``, ``fused``, ``reference``; the one that ran is
``layer.backend_used``), the ``recurrent_init`` / ``forget_bias`` initialisation
options, and ``step(x_t, state)`` for streaming.

Whenever the call is being traced, exported, compiled or transformed (``torch.jit.trace``,
``torch.onnx.export``, ``torch.export``, ``torch.compile``, ``torch.func``), or its
tensors are not plain tensors (meta, fake), the layer runs torch.nn's own forward: the
one graph those tools know how to capture. ``layer.backend_used`` then says ``"torch"``.

Weights are read through the module's attributes at every call (never cached), so
``torch.nn.utils.weight_norm``, ``torch.nn.utils.parametrize`` and
``torch.func.functional_call`` apply to every backend.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from rnnkit.backends import native
from rnnkit.cells import BoundCell, Cell, ElmanCell, GRUCell, LSTMCell
from rnnkit.init import RECURRENT_INITS, forget_gate_bias_, orthogonal_recurrent_
from rnnkit.layers.base import RecurrentBase
from rnnkit.layers.checks import check_lengths
from rnnkit.state import LSTMState


def torch_path_required(x: Any, hx: Any = None, weight: Tensor | None = None, batch_first: bool = False) -> bool:
    """Whether this call must run torch.nn's own forward (see the module docstring).

    Tracers, exporters, ``torch.compile`` and ``torch.func`` capture torch's RNN ops but
    not rnnkit's Python time loop (its in-place buffers and hand-written
    ``autograd.Function`` would be recorded as constants or fail); a batch of zero
    sequences is left to torch.nn, which returns empty outputs.
    """
    # cheapest first: this runs on every call (the legacy ONNX exporter traces: is_tracing)
    if (torch._C._are_functorch_transforms_active() or torch.compiler.is_compiling() or torch.jit.is_tracing()
            or torch.jit.is_scripting()):
        return True
    data = x.data if isinstance(x, PackedSequence) else x
    if not isinstance(data, Tensor):
        return False
    if type(data) is not Tensor:
        return True  # FakeTensor, functional or other subclass tensors
    if data.is_meta and (weight is None or weight.is_meta):
        return True  # shape propagation on the meta device (a meta input to CPU weights is an error)
    if hx is not None:
        leaves = [hx] if isinstance(hx, Tensor) else [h for h in hx if isinstance(h, Tensor)]
        if any(type(h) is not Tensor for h in leaves):
            return True
    # a packed sequence's data is 2-D: a batch of 0 sequences is a padded (T, B, I) / (B, T, I) input
    return data.dim() == 3 and data.shape[0 if batch_first else 1] == 0


class _TorchLayer(RecurrentBase):
    """rnnkit's machinery on a ``torch.nn.RNNBase`` subclass (``_torch_cls`` is the torch.nn class)."""

    kind: str = ""
    _torch_cls: type[nn.RNNBase] = nn.RNNBase
    _cell_cls: type[Cell] = Cell

    def __init__(self, *args: Any, backend: str = "auto", recurrent_init: str = "uniform",
                 forget_bias: float | None = None, recurrent_dropout: float = 0.0, zoneout: float = 0.0,
                 weight_drop: float = 0.0, input_dropout: float = 0.0, **kwargs: Any) -> None:
        name = type(self).__name__
        if recurrent_init not in RECURRENT_INITS:
            raise ValueError(f"{name}: unknown recurrent_init {recurrent_init!r}: expected one of "
                             f"{', '.join(RECURRENT_INITS)}")
        if forget_bias is not None and self.kind != "lstm":
            raise ValueError(f"{name}: forget_bias applies to the LSTM only")
        # read by reset_parameters, which torch.nn's __init__ calls before it returns
        object.__setattr__(self, "recurrent_init", recurrent_init)
        object.__setattr__(self, "forget_bias", forget_bias)
        # torch.nn validates the arguments, creates the parameters in its order and
        # initialises them (the same random numbers as torch.nn's layer)
        self._torch_cls.__init__(self, *args, **kwargs)
        self._init_common(backend, self.dropout, self.num_layers, warn_dropout=False)
        self._init_regularisers(recurrent_dropout, zoneout, weight_drop, input_dropout)
        self._build_defs()

    def _build_defs(self) -> None:
        first = self._make_cell(self.input_size)
        # plain attribute, not a submodule: the definitions hold no tensors and must not
        # show up in named_modules()/state_dict() (torch.nn's layers have none)
        self._defs: list[Cell] = [first, self._make_cell(first.output_size * self.num_directions)]

    def _make_cell(self, input_size: int) -> Cell:
        raise NotImplementedError

    def reset_parameters(self) -> None:
        """torch.nn's init, then the chosen recurrent init and forget-gate bias."""
        nn.RNNBase.reset_parameters(self)
        if getattr(self, "recurrent_init", "uniform") == "orthogonal":
            orthogonal_recurrent_(self, self._cell_cls.gates)
        if getattr(self, "forget_bias", None) is not None:
            forget_gate_bias_(self, self.forget_bias)

    # -- pickling: torch.save(layer) / torch.load(weights_only=True) --------
    def __getstate__(self) -> dict[str, Any]:
        state = nn.RNNBase.__getstate__(self)
        state.pop("_defs", None)  # rebuilt on load: keeps the pickle to torch.nn's own globals
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        nn.RNNBase.__setstate__(self, state)
        self._build_defs()

    @property
    def cell_kind(self) -> str:
        return self.kind

    @property
    def can_native(self) -> bool:
        return True

    def _weight(self, name: str) -> Tensor | None:
        # the registered parameter (or the tensor torch.func.functional_call put in its place);
        # failing that, the attribute: weight_norm hooks and parametrizations remove the
        # parameter and compute a tensor of the same name
        w = self._parameters.get(name)
        if w is None:
            w = getattr(self, name, None)
        return self._drop_weight(name, w) if name.startswith("weight_hh") else w

    def cell_at(self, layer: int, direction: int) -> BoundCell:
        cell = self._defs[min(layer, 1)]
        sfx = f"_l{layer}{'_reverse' if direction else ''}"
        return BoundCell(cell, tuple(self._weight(n + sfx) for n in cell.weight_names))

    def native_call(self, x: Tensor, hx: Any, lengths: Tensor | None,
                    batch_sizes: list[int] | None) -> tuple[Tensor, Any]:
        mode = self.kind if self.kind != "elman" else f"elman-{self.nonlinearity}"
        weights = [self._weight(n) for n in self._flat_weights_names]
        path = native.lengths_path(mode, x, batch_sizes)
        self.__dict__["native_path"] = path
        out, state = native.run(mode, x, hx, weights, self.bias, self.num_layers,
                                self.dropout, self.training, self.bidirectional, lengths, batch_sizes, path,
                                self.cell_at)
        return out, (LSTMState(*state) if self.kind == "lstm" else state)

    # -- forward ------------------------------------------------------------
    def forward(self, input: Tensor | PackedSequence, hx: Any = None,
                lengths: Tensor | list[int] | None = None) -> tuple[Any, Any]:
        """As torch.nn's forward, plus ``lengths (B,)``: see :meth:`RecurrentBase.forward`."""
        if torch_path_required(input, hx, self._weight(self._flat_weights_names[0]), self.batch_first):
            if self._regularised():
                raise ValueError(f"{type(self).__name__}: this call is traced, exported, compiled or transformed, "
                                 f"which runs torch.nn's forward; it has no{self._regulariser_repr()[1:]}. "
                                 f"Call it in eval mode (and without zoneout)")
            return self._torch_forward(input, hx, lengths)
        return super().forward(input, hx, lengths)

    def _torch_forward(self, input: Any, hx: Any, lengths: Any) -> tuple[Any, Any]:
        """torch.nn's forward; ``lengths`` become a packed sequence around it."""
        self.backend_used = "torch"
        if lengths is None or isinstance(input, PackedSequence):
            if lengths is not None:
                raise ValueError(f"{type(self).__name__}: pass lengths or a PackedSequence, not both")
            out, state = self._torch_cls.forward(self, input, hx)
        else:
            T = input.shape[1 if self.batch_first else 0]
            lengths = check_lengths(type(self).__name__, lengths, input.shape[0 if self.batch_first else 1], T)
            if lengths is None:
                out, state = self._torch_cls.forward(self, input, hx)
            else:
                packed = pack_padded_sequence(input, lengths, batch_first=self.batch_first, enforce_sorted=False)
                out, state = self._torch_cls.forward(self, packed, hx)
                out, _ = pad_packed_sequence(out, batch_first=self.batch_first, total_length=T)
        return out, (LSTMState(*state) if self.kind == "lstm" else state)

    def extra_repr(self) -> str:
        s = nn.RNNBase.extra_repr(self)
        if self.kind == "elman" and self.nonlinearity != "tanh":
            s += f", nonlinearity={self.nonlinearity!r}"
        return s + (f", backend={self.backend!r}" if self.backend != "auto" else "") + self._regulariser_repr()


class RNN(_TorchLayer, nn.RNN):
    """Elman RNN layer, drop-in for ``torch.nn.RNN`` (see :class:`rnnkit.cells.ElmanCell`).

    ``RNN(input_size, hidden_size, num_layers=1, nonlinearity='tanh', bias=True,
    batch_first=False, dropout=0.0, bidirectional=False, device=None, dtype=None,
    *, backend='auto', recurrent_init='uniform', recurrent_dropout=0, zoneout=0, weight_drop=0,
    input_dropout=0)``. Forward as torch.nn plus ``lengths=``. The regularisers: see
    :meth:`RecurrentBase._init_regularisers`.
    """

    kind = "elman"
    _torch_cls = nn.RNN
    _cell_cls = ElmanCell

    def _make_cell(self, input_size: int) -> Cell:
        return ElmanCell(input_size, self.hidden_size, self.bias, self.nonlinearity, create_parameters=False)


class LSTM(_TorchLayer, nn.LSTM):
    """LSTM layer, drop-in for ``torch.nn.LSTM`` (see :class:`rnnkit.cells.LSTMCell`).

    ``LSTM(input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
    dropout=0.0, bidirectional=False, proj_size=0, device=None, dtype=None,
    *, backend='auto', recurrent_init='uniform', forget_bias=None, recurrent_dropout=0, zoneout=0,
    weight_drop=0, input_dropout=0)`` (the regularisers: :meth:`RecurrentBase._init_regularisers`).
    The state is an :class:`rnnkit.LSTMState` ``(h, c)`` (a tuple, as in torch.nn).
    """

    kind = "lstm"
    _torch_cls = nn.LSTM
    _cell_cls = LSTMCell

    def _make_cell(self, input_size: int) -> Cell:
        return LSTMCell(input_size, self.hidden_size, self.bias, proj_size=self.proj_size, create_parameters=False)


class GRU(_TorchLayer, nn.GRU):
    """GRU layer, drop-in for ``torch.nn.GRU`` (see :class:`rnnkit.cells.GRUCell`).

    ``GRU(input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
    dropout=0.0, bidirectional=False, device=None, dtype=None, *, backend='auto',
    recurrent_init='uniform', recurrent_dropout=0, zoneout=0, weight_drop=0, input_dropout=0)``.
    """

    kind = "gru"
    _torch_cls = nn.GRU
    _cell_cls = GRUCell

    def _make_cell(self, input_size: int) -> Cell:
        return GRUCell(input_size, self.hidden_size, self.bias, create_parameters=False)


# torch.save(model) of a model holding rnnkit layers loads with torch.load's default
# weights_only=True wherever rnnkit is imported, as torch.nn's layers do once allowlisted:
# their pickles hold only torch.nn's own state (see __getstate__), no code of their own.
torch.serialization.add_safe_globals([RNN, LSTM, GRU])
