"""Recurrent layers: the generic ``Recurrent`` and the torch.nn-compatible RNN/LSTM/GRU."""

from rnnkit.layers import quantization
from rnnkit.layers.quantization import to_torch_nn
from rnnkit.layers.recurrent import Recurrent
from rnnkit.layers.torch_compat import GRU, LSTM, RNN
from rnnkit.layers.variants import LayerNormLSTM, MinGRU

quantization.register(LSTM, GRU)

__all__ = ["GRU", "LSTM", "LayerNormLSTM", "MinGRU", "RNN", "Recurrent", "to_torch_nn"]
