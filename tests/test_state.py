"""Carried state and truncated BPTT."""

from __future__ import annotations

import pytest
import torch

import rnnkit
from tests.conftest import rel_err


def test_detach_state_keeps_structure():
    h = torch.randn(2, 3, requires_grad=True) * 2
    s = rnnkit.LSTMState(h, h + 1)
    d = rnnkit.detach_state(s)
    assert isinstance(d, rnnkit.LSTMState) and not d.h.requires_grad and torch.equal(d.c, s.c)
    assert not rnnkit.detach_state(h).requires_grad
    nested = rnnkit.detach_state({"a": (h, [h])})
    assert not nested["a"][1][0].requires_grad
    assert rnnkit.detach_state(None) is None
    with pytest.raises(TypeError, match="must hold tensors"):
        rnnkit.detach_state("h")


@pytest.mark.parametrize("cls", [rnnkit.LSTM, rnnkit.GRU, rnnkit.RNN])
@pytest.mark.parametrize("backend", ["fused", "native", "reference"])
def test_chunks_with_carried_state_equal_one_pass(cls, backend):
    torch.manual_seed(0)
    layer = cls(3, 4, num_layers=2, backend=backend).double()
    x = torch.randn(12, 2, 3, dtype=torch.float64)
    full, final = layer(x)
    state, outs = None, []
    for chunk in x.split(5):
        out, state = layer(chunk, state)
        state = rnnkit.detach_state(state)   # truncated BPTT: cut the graph at the boundary
        outs.append(out)
    assert rel_err(torch.cat(outs), full) <= 1e-12
    for a, b in zip(state if isinstance(state, tuple) else (state,), final if isinstance(final, tuple) else (final,)):
        assert rel_err(a, b) <= 1e-12


def test_truncated_bptt_gradient_stops_at_the_boundary():
    layer = rnnkit.GRU(3, 4, backend="fused").double()
    x = torch.randn(6, 1, 3, dtype=torch.float64, requires_grad=True)
    _, state = layer(x[:3])
    out, _ = layer(x[3:], rnnkit.detach_state(state))
    out.sum().backward()
    assert torch.count_nonzero(x.grad[:3]) == 0 and torch.count_nonzero(x.grad[3:]) > 0
