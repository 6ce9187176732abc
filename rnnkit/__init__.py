"""rnnkit: recurrent neural networks on PyTorch, drop-in compatible with torch.nn."""

from rnnkit.backends import BackendFallbackWarning
from rnnkit.cells import Cell, ElmanCell, GRUCell, LSTMCell, RNNCell
from rnnkit.layers import GRU, LSTM, RNN, Recurrent
from rnnkit.state import LSTMState, detach_state

__version__ = "0.1.0"

__all__ = ["GRU", "LSTM", "RNN", "BackendFallbackWarning", "Cell", "ElmanCell", "GRUCell",
           "LSTMCell", "LSTMState", "RNNCell", "Recurrent", "detach_state", "__version__"]
