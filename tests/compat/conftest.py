"""Compat suite fixtures: the ``nn`` namespace under test (torch.nn itself, or torch.nn with rnnkit's RNNs)."""

from __future__ import annotations

import types
from typing import Any

import pytest
import torch

# one thread: the suite runs on machines shared by several jobs
torch.set_num_threads(1)

_RECURRENT = ("RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell")


def rnnkit_nn() -> types.SimpleNamespace:
    """torch.nn's names, with RNN, LSTM, GRU and the three cells taken from rnnkit."""
    import rnnkit

    ns = types.SimpleNamespace(**vars(torch.nn))
    ns.RNN, ns.LSTM, ns.GRU = rnnkit.RNN, rnnkit.LSTM, rnnkit.GRU
    # rnnkit's Elman cell is torch.nn.RNNCell's counterpart; an ``RNNCell`` name wins once rnnkit has one
    ns.RNNCell = getattr(rnnkit, "RNNCell", rnnkit.ElmanCell)
    ns.LSTMCell, ns.GRUCell = rnnkit.LSTMCell, rnnkit.GRUCell
    return ns


@pytest.fixture(params=["torch", "rnnkit"])
def nn(request: pytest.FixtureRequest) -> Any:
    """The module namespace a test builds its RNN layers and cells from."""
    return torch.nn if request.param == "torch" else rnnkit_nn()
