"""Recurrent layers: the generic ``Recurrent`` and the torch.nn-compatible RNN/LSTM/GRU."""

from rnnkit.layers.recurrent import Recurrent
from rnnkit.layers.torch_compat import GRU, LSTM, RNN

__all__ = ["GRU", "LSTM", "RNN", "Recurrent"]
