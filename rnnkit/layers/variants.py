"""Layers of the cell variants torch.nn has no kernel for, with torch.nn-style constructors.

``rnnkit.LayerNormLSTM(input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
dropout=0.0, bidirectional=False, device=None, dtype=None, *, backend='auto', recurrent_dropout=0,
zoneout=0, weight_drop=0, input_dropout=0)``: forward, state, ``lengths=`` and ``step`` as
``rnnkit.LSTM``; the loop runs on the fused BPTT backend (``backend='reference'``: autograd over
the steps, the yardstick).

``rnnkit.MinGRU(input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
bidirectional=False, device=None, dtype=None, *, backend='auto')``: whole sequences as one
parallel scan (``backend='reference'``: the step loop), ``step`` token by token.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor

from rnnkit.cells.layernorm_lstm import LayerNormLSTMCell
from rnnkit.cells.mingru import MinGRUCell
from rnnkit.layers.recurrent import Recurrent


class LayerNormLSTM(Recurrent):
    """Stacked, optionally bidirectional layer-normalised LSTM (see :class:`~rnnkit.cells.LayerNormLSTMCell`).

    State ``LSTMState(h (L*D, B, H), c (L*D, B, H))``; output ``(T, B, D*H)`` (``batch_first``:
    ``(B, T, D*H)``). Parameters per layer and direction under ``cells.{k*D + d}.``.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 device: Any = None, dtype: Any = None, *, backend: str = "auto", recurrent_dropout: float = 0.0,
                 zoneout: float = 0.0, weight_drop: float = 0.0, input_dropout: float = 0.0) -> None:
        if backend == "native":
            raise ValueError("LayerNormLSTM: torch has no kernel for a layer-normalised LSTM (backend='native'); "
                             "use backend='auto' (rnnkit's fused loop) or 'reference'")

        def make(i: int) -> LayerNormLSTMCell:
            return LayerNormLSTMCell(i, hidden_size, bias, device=device, dtype=dtype)

        super().__init__(make, input_size=input_size, num_layers=num_layers, bidirectional=bidirectional,
                         batch_first=batch_first, dropout=dropout, backend=backend,
                         recurrent_dropout=recurrent_dropout, zoneout=zoneout, weight_drop=weight_drop,
                         input_dropout=input_dropout)
        self.hidden_size = hidden_size


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
