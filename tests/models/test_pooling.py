"""Pooling over time: every mode ignores padding; ``last`` reads each direction where it has seen everything."""

from __future__ import annotations

import pytest
import torch

import rnnkit
from rnnkit.models.pooling import MODES, Pooling

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny tensors: see tests/conftest.py


def _outputs(bidirectional: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    lstm = rnnkit.LSTM(3, 4, batch_first=True, bidirectional=bidirectional)
    x = torch.randn(3, 6, 3)
    lengths = torch.tensor([6, 2, 4])
    with torch.no_grad():
        h, (h_n, _) = lstm(x, lengths=lengths)
    return h, lengths, h_n


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("directions", [1, 2])
def test_padding_changes_nothing(mode: str, directions: int):
    torch.manual_seed(1)
    pool = Pooling(mode, 8, directions)
    h = torch.randn(3, 5, 8)
    lengths = torch.tensor([5, 2, 3])
    junk = h.clone()
    for b, n in enumerate(lengths.tolist()):
        junk[b, n:] = 1e3 * torch.randn(5 - n, 8)  # large values past each end: any leak would show
    with torch.no_grad():
        a, b = pool(h, lengths), pool(junk, lengths)
        alone = torch.cat([pool(h[i : i + 1, :n]) for i, n in enumerate(lengths.tolist())])
    assert torch.allclose(a, b) and torch.allclose(a, alone, atol=1e-6)


def test_last_reads_forward_at_the_end_and_backward_at_step_0():
    h, lengths, h_n = _outputs(bidirectional=True)
    pooled = Pooling("last", 8, 2)(h, lengths)
    # the layer's final states: forward at each sequence's last valid step, backward after step 0
    assert torch.allclose(pooled, torch.cat([h_n[0], h_n[1]], dim=1))
    h, lengths, h_n = _outputs(bidirectional=False)
    assert torch.allclose(Pooling("last", 4)(h, lengths), h_n[0])


def test_mean_max_and_attention_values():
    h = torch.tensor([[[1.0], [3.0], [-5.0]], [[2.0], [-7.0], [9.0]]])
    lengths = torch.tensor([2, 3])
    assert Pooling("mean", 1)(h, lengths).flatten().tolist() == pytest.approx([2.0, 4 / 3])
    assert Pooling("max", 1)(h, lengths).flatten().tolist() == [3.0, 9.0]
    att = Pooling("attention", 1)
    out = att(h, lengths)
    assert att.weights is not None and torch.allclose(att.weights.sum(1), torch.ones(2))
    assert float(att.weights[0, 2]) == 0.0  # padding gets no weight
    assert torch.allclose(out, (att.weights.unsqueeze(-1) * h).sum(1))


def test_bad_modes():
    with pytest.raises(ValueError, match="unknown mode"):
        Pooling("sum", 4)
    with pytest.raises(ValueError, match="split into 2 directions"):
        Pooling("last", 5, 2)
