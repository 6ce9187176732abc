"""Recurrent layers: the generic ``Recurrent`` and the torch.nn-compatible RNN/LSTM/GRU."""

from rnnkit.layers import quantization
from rnnkit.layers.quantization import to_torch_nn
from rnnkit.layers.recurrent import Recurrent
from rnnkit.layers.torch_compat import GRU, LSTM, RNN
from rnnkit.layers.variants import IndRNN, LayerNormGRU, LayerNormLSTM, MinGRU, PeepholeLSTM

quantization.register(LSTM, GRU)

__all__ = [
    "GRU",
    "IndRNN",
    "LSTM",
    "LayerNormGRU",
    "LayerNormLSTM",
    "MinGRU",
    "PeepholeLSTM",
    "RNN",
    "Recurrent",
    "to_torch_nn",
]
