"""The fused loops' shared buffer helpers (rnnkit/cells/_buffers.py)."""

from __future__ import annotations

import pytest
import torch

from rnnkit.cells._buffers import previous, recurrent_weight_grad


@pytest.mark.parametrize("T", [1, 2, 7])
@pytest.mark.parametrize("masked", [False, True])
def test_recurrent_weight_grad_is_the_sum_over_the_states_each_step_read(T, masked):
    torch.manual_seed(T)
    B, G, O = 3, 8, 5
    d = torch.randn(T, B, G, dtype=torch.float64)
    seq = torch.randn(T, B, O, dtype=torch.float64)
    first = torch.randn(B, O, dtype=torch.float64)
    mask = torch.bernoulli(torch.full((B, O), 0.7, dtype=torch.float64)) if masked else None
    h_prev = previous(seq, first) * (mask if masked else 1.0)
    want = sum(d[t].t() @ h_prev[t] for t in range(T))
    assert torch.allclose(recurrent_weight_grad(d, seq, first, mask), want, rtol=1e-12, atol=1e-12)
