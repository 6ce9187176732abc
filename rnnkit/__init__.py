"""rnnkit: recurrent neural networks on PyTorch, drop-in compatible with torch.nn."""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# the layers import torch (seconds); the ``rnnkit`` command imports this package first, so they are loaded
# on first use: the command's start-up and ``rnnkit --version`` stay light, and a Ctrl-C while torch loads
# reaches the command's own handler
_EXPORTS = {
    "BackendFallbackWarning": "rnnkit.backends",
    "Cell": "rnnkit.cells",
    "ElmanCell": "rnnkit.cells",
    "GRUCell": "rnnkit.cells",
    "LSTMCell": "rnnkit.cells",
    "RNNCell": "rnnkit.cells",
    "GRU": "rnnkit.layers",
    "LSTM": "rnnkit.layers",
    "LayerNormLSTM": "rnnkit.layers",
    "LayerNormLSTMCell": "rnnkit.cells",
    "MinGRU": "rnnkit.layers",
    "MinGRUCell": "rnnkit.cells",
    "IndRNN": "rnnkit.layers",
    "IndRNNCell": "rnnkit.cells",
    "LayerNormGRU": "rnnkit.layers",
    "LayerNormGRUCell": "rnnkit.cells",
    "PeepholeLSTM": "rnnkit.layers",
    "PeepholeLSTMCell": "rnnkit.cells",
    "RNN": "rnnkit.layers",
    "Recurrent": "rnnkit.layers",
    "LSTMState": "rnnkit.state",
    "detach_state": "rnnkit.state",
}

__all__ = [
    "GRU",
    "LSTM",
    "RNN",
    "BackendFallbackWarning",
    "Cell",
    "ElmanCell",
    "GRUCell",
    "IndRNN",
    "IndRNNCell",
    "LSTMCell",
    "LSTMState",
    "LayerNormGRU",
    "LayerNormGRUCell",
    "LayerNormLSTM",
    "LayerNormLSTMCell",
    "MinGRU",
    "MinGRUCell",
    "PeepholeLSTM",
    "PeepholeLSTMCell",
    "RNNCell",
    "Recurrent",
    "detach_state",
    "__version__",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'rnnkit' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
