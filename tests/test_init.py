"""Initialisation options."""

from __future__ import annotations

import torch

import rnnkit


def test_orthogonal_recurrent_blocks():
    lstm = rnnkit.LSTM(3, 8, num_layers=2, bidirectional=True, recurrent_init="orthogonal")
    for name, p in lstm.named_parameters():
        if name.startswith("weight_hh"):
            for block in p.detach().chunk(4, 0):
                assert torch.allclose(block @ block.t(), torch.eye(8), atol=1e-5), name
        if name.startswith("weight_ih"):
            assert p.abs().max() <= 1 / 8 ** 0.5 + 1e-7   # the others keep torch's init


def test_forget_gate_bias():
    lstm = rnnkit.LSTM(3, 8, num_layers=2, forget_bias=1.0)
    for k in range(2):
        b = getattr(lstm, f"bias_ih_l{k}") + getattr(lstm, f"bias_hh_l{k}")
        assert torch.allclose(b[8:16], torch.ones(8))
        assert not torch.allclose(b[:8], torch.ones(8))


def test_reset_parameters_reapplies_options():
    gru = rnnkit.GRU(3, 4, recurrent_init="orthogonal")
    gru.reset_parameters()
    block = gru.weight_hh_l0.detach()[:4]
    assert torch.allclose(block @ block.t(), torch.eye(4), atol=1e-5)
