"""SequenceModel: feature or token inputs, last-step or every-step readout."""

from __future__ import annotations

import pytest
import torch

from rnnkit.models.sequence import SequenceConfig, SequenceModel


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_shapes_and_readout(cell: str):
    torch.manual_seed(0)
    m = SequenceModel(SequenceConfig(cell=cell, hidden_size=8, num_layers=2, input_size=3, output_size=2))
    x = torch.randn(4, 6, 3)
    out = m(x)
    assert out.shape == (4, 2)
    m.config.readout = "all"
    every = m(x)
    assert every.shape == (4, 6, 2) and torch.allclose(every[:, -1], out)
    tok = SequenceModel(SequenceConfig(cell=cell, hidden_size=8, vocab_size=10, output_size=10, readout="all"))
    assert tok(torch.randint(0, 10, (4, 6))).shape == (4, 6, 10)


def test_bad_configs_and_inputs():
    with pytest.raises(ValueError, match="exactly one of input_size"):
        SequenceModel(SequenceConfig(input_size=2, vocab_size=5))
    m = SequenceModel(SequenceConfig(hidden_size=4, input_size=2))
    with pytest.raises(ValueError, match=r"expected features \(B, T, 2\)"):
        m(torch.randn(3, 5, 4))
