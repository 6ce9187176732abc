"""Layers of the cell variants torch.nn has no kernel for, with torch.nn-style constructors.

``rnnkit.LayerNormLSTM(input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
dropout=0.0, bidirectional=False, device=None, dtype=None, *, backend='auto', recurrent_dropout=0,
zoneout=0, weight_drop=0, input_dropout=0)``: forward, state, ``lengths=`` and ``step`` as
``rnnkit.LSTM``; the loop runs on the fused BPTT backend (``backend='reference'``: autograd over
the steps, the yardstick).

``rnnkit.LayerNormGRU(...)``: the same signature, a layer-normalised GRU
(:class:`~rnnkit.cells.LayerNormGRUCell`).

``rnnkit.PeepholeLSTM(...)``: the same signature as ``LayerNormLSTM``, an LSTM with peephole
connections (:class:`~rnnkit.cells.PeepholeLSTMCell`).

``rnnkit.IndRNN(input_size, hidden_size, num_layers=1, nonlinearity='relu', bias=True,
batch_first=False, dropout=0.0, bidirectional=False, device=None, dtype=None, *, recurrent_max=None,
backend='auto', recurrent_dropout=0, zoneout=0, weight_drop=0, input_dropout=0)``: an IndRNN
(:class:`~rnnkit.cells.IndRNNCell`), deep stacks being the point of it (Li et al. stack 6-21 layers).

``rnnkit.MinGRU(input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
bidirectional=False, device=None, dtype=None, *, backend='auto')``: whole sequences as one
parallel scan (``backend='reference'``: the step loop), ``step`` token by token.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor

from rnnkit.cells.indrnn import IndRNNCell
from rnnkit.cells.layernorm_gru import LayerNormGRUCell
from rnnkit.cells.layernorm_lstm import LayerNormLSTMCell
from rnnkit.cells.mingru import MinGRUCell
from rnnkit.cells.peephole_lstm import PeepholeLSTMCell
from rnnkit.layers.recurrent import Recurrent


def _no_native(name: str, what: str, backend: str) -> None:
    if backend == "native":
        raise ValueError(f"{name}: torch has no kernel for {what} (backend='native'); "
                         f"use backend='auto' (rnnkit's fused loop) or 'reference'")


class _FusedVariant(Recurrent):
    """A variant whose cell takes ``(input_size, hidden_size, bias, device=, dtype=)``: its layer, with the
    same constructor (``cell_class`` the cell, ``what`` the variant's name in the ``backend='native'`` error)."""

    cell_class: type
    what: str

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 device: Any = None, dtype: Any = None, *, backend: str = "auto", recurrent_dropout: float = 0.0,
                 zoneout: float = 0.0, weight_drop: float = 0.0, input_dropout: float = 0.0) -> None:
        _no_native(type(self).__name__, self.what, backend)
        cell_class = self.cell_class

        def make(i: int) -> Any:
            return cell_class(i, hidden_size, bias, device=device, dtype=dtype)

        super().__init__(make, input_size=input_size, num_layers=num_layers, bidirectional=bidirectional,
                         batch_first=batch_first, dropout=dropout, backend=backend,
                         recurrent_dropout=recurrent_dropout, zoneout=zoneout, weight_drop=weight_drop,
                         input_dropout=input_dropout)
        self.hidden_size = hidden_size


class LayerNormLSTM(_FusedVariant):
    """Stacked, optionally bidirectional layer-normalised LSTM (see :class:`~rnnkit.cells.LayerNormLSTMCell`).

    State ``LSTMState(h (L*D, B, H), c (L*D, B, H))``; output ``(T, B, D*H)`` (``batch_first``:
    ``(B, T, D*H)``). Parameters per layer and direction under ``cells.{k*D + d}.``.
    """

    cell_class, what = LayerNormLSTMCell, "a layer-normalised LSTM"


class LayerNormGRU(_FusedVariant):
    """Stacked, optionally bidirectional layer-normalised GRU (see :class:`~rnnkit.cells.LayerNormGRUCell`).

    Output ``(T, B, D*H)``, state ``h (L*D, B, H)``; parameters per layer and direction under
    ``cells.{k*D + d}.``.
    """

    cell_class, what = LayerNormGRUCell, "a layer-normalised GRU"


class PeepholeLSTM(_FusedVariant):
    """Stacked, optionally bidirectional LSTM with peepholes (see :class:`~rnnkit.cells.PeepholeLSTMCell`).

    State ``LSTMState(h (L*D, B, H), c (L*D, B, H))``; output ``(T, B, D*H)``. Parameters per layer and
    direction under ``cells.{k*D + d}.`` (``weight_ch`` the peepholes).
    """

    cell_class, what = PeepholeLSTMCell, "an LSTM with peepholes"


class IndRNN(Recurrent):
    """Stacked, optionally bidirectional IndRNN (see :class:`~rnnkit.cells.IndRNNCell`).

    Output ``(T, B, D*H)``, state ``h (L*D, B, H)``; ``weight_hh`` of each cell is the vector ``u (H,)``.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, nonlinearity: str = "relu",
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 device: Any = None, dtype: Any = None, *, recurrent_max: float | None = None,
                 backend: str = "auto", recurrent_dropout: float = 0.0, zoneout: float = 0.0,
                 weight_drop: float = 0.0, input_dropout: float = 0.0) -> None:
        _no_native("IndRNN", "an IndRNN", backend)

        def make(i: int) -> IndRNNCell:
            return IndRNNCell(i, hidden_size, bias, nonlinearity, device=device, dtype=dtype,
                              recurrent_max=recurrent_max)

        super().__init__(make, input_size=input_size, num_layers=num_layers, bidirectional=bidirectional,
                         batch_first=batch_first, dropout=dropout, backend=backend,
                         recurrent_dropout=recurrent_dropout, zoneout=zoneout, weight_drop=weight_drop,
                         input_dropout=input_dropout)
        self.hidden_size, self.nonlinearity = hidden_size, nonlinearity


class MinGRU(Recurrent):
    """Stacked, optionally bidirectional minGRU (see :class:`~rnnkit.cells.MinGRUCell`).

    Output ``(T, B, D*H)``, state ``h (L*D, B, H)``. ``backend='auto'`` runs each layer as a parallel
    scan; ``'reference'`` steps through time with autograd (the same numbers, the yardstick).
    The regulariser options exist for a uniform signature: zoneout and recurrent dropout act inside
    a time loop, weight drop on ``W_hh``, none of which a minGRU has, so they must stay 0.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 device: Any = None, dtype: Any = None, *, backend: str = "auto", recurrent_dropout: float = 0.0,
                 zoneout: float = 0.0, weight_drop: float = 0.0, input_dropout: float = 0.0) -> None:
        if backend not in ("auto", "reference"):
            raise ValueError(f"MinGRU: backend must be 'auto' (the parallel scan) or 'reference' (the step loop), "
                             f"got {backend!r}")
        named = {"recurrent_dropout": recurrent_dropout, "zoneout": zoneout, "weight_drop": weight_drop}
        if any(v for v in named.values()):
            bad = ", ".join(k for k, v in named.items() if v)
            raise ValueError(f"MinGRU: {bad} need a recurrent weight W_hh and a time loop, which a minGRU has not; "
                             f"use dropout or input_dropout")

        def make(i: int) -> MinGRUCell:
            return MinGRUCell(i, hidden_size, bias, device=device, dtype=dtype)

        super().__init__(make, input_size=input_size, num_layers=num_layers, bidirectional=bidirectional,
                         batch_first=batch_first, dropout=dropout, backend=backend, input_dropout=input_dropout)
        self.hidden_size = hidden_size

    def _backend_for(self, x: Tensor) -> str:
        return "scan" if self.backend == "auto" else "reference"
