"""Recurrent cells: one file per cell, with its equations, gate order and step backward."""

from rnnkit.cells.base import BoundCell, Cell
from rnnkit.cells.elman import ElmanCell, RNNCell
from rnnkit.cells.gru import GRUCell
from rnnkit.cells.indrnn import IndRNNCell
from rnnkit.cells.layernorm_gru import LayerNormGRUCell
from rnnkit.cells.layernorm_lstm import LayerNormLSTMCell
from rnnkit.cells.lstm import LSTMCell
from rnnkit.cells.mingru import MinGRUCell
from rnnkit.cells.peephole_lstm import PeepholeLSTMCell

__all__ = [
    "BoundCell",
    "Cell",
    "ElmanCell",
    "GRUCell",
    "IndRNNCell",
    "LSTMCell",
    "LayerNormGRUCell",
    "LayerNormLSTMCell",
    "MinGRUCell",
    "PeepholeLSTMCell",
    "RNNCell",
]
