"""SequenceClassifier: tokens or features in, logits out; padding never changes a sequence's logits."""

from __future__ import annotations

import pytest
import torch

from rnnkit.models.classifier import ClassifierConfig, SequenceClassifier
from rnnkit.models.pooling import MODES

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny tensors: see tests/conftest.py


@pytest.mark.parametrize("pooling", MODES)
@pytest.mark.parametrize("cell,bidirectional", [("lstm", True), ("gru", False), ("rnn", True)])
def test_padding_changes_nothing(pooling: str, cell: str, bidirectional: bool):
    torch.manual_seed(0)
    m = SequenceClassifier(ClassifierConfig(cell=cell, pooling=pooling, bidirectional=bidirectional, vocab_size=20,
                                            embed_size=4, hidden_size=6, num_layers=2, num_classes=3)).eval()
    x = torch.randint(1, 20, (3, 7))
    lengths = torch.tensor([7, 3, 5])
    other = x.clone()
    other[1, 3:], other[2, 5:] = 0, 19  # different padding tokens
    with torch.no_grad():
        out = m(x, lengths)
        alone = torch.cat([m(x[i : i + 1, :n]) for i, n in enumerate(lengths.tolist())])
        assert out.shape == (3, 3)
        assert torch.allclose(out, m(other, lengths)) and torch.allclose(out, alone, atol=1e-5)


def test_features_are_standardised_by_the_saved_statistics():
    torch.manual_seed(0)
    m = SequenceClassifier(ClassifierConfig(input_size=2, hidden_size=4, num_classes=2)).eval()
    x = torch.randn(2, 5, 2)
    mean, std = torch.tensor([10.0, -3.0]), torch.tensor([2.0, 0.0])
    with torch.no_grad():
        plain = m(x)
        m.set_normalization(mean, std)
        assert torch.allclose(m(x * torch.tensor([2.0, 1.0]) + mean), plain, atol=1e-5)  # zero spread counts as 1
    state = m.state_dict()
    assert torch.equal(state["feature_mean"], mean)
    again = SequenceClassifier(m.config)
    again.load_state_dict(state)
    with torch.no_grad():
        assert torch.allclose(again.eval()(x), m(x))


def test_learns_to_separate_two_classes():
    torch.manual_seed(0)
    m = SequenceClassifier(ClassifierConfig(cell="gru", input_size=1, hidden_size=8, num_classes=2, dropout=0.0))
    x = torch.randn(32, 4, 1)
    y = (x.sum((1, 2)) > 0).long()
    opt = torch.optim.Adam(m.parameters(), lr=0.03)
    for _ in range(40):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(m(x), y)
        loss.backward()
        opt.step()
    assert float(loss.detach()) < 0.3


def test_bad_configs_and_inputs():
    with pytest.raises(ValueError, match="exactly one of input_size"):
        SequenceClassifier(ClassifierConfig(input_size=2, vocab_size=5))
    with pytest.raises(ValueError, match="at least 2 classes"):
        SequenceClassifier(ClassifierConfig(input_size=2, num_classes=1))
    with pytest.raises(ValueError, match="dropout must be in"):
        SequenceClassifier(ClassifierConfig(input_size=2, dropout=1.0))
    m = SequenceClassifier(ClassifierConfig(hidden_size=4, input_size=2))
    with pytest.raises(ValueError, match=r"expected features \(B, T, 2\)"):
        m(torch.randn(3, 5, 4))
    with pytest.raises(ValueError, match="expected lengths"):
        m(torch.randn(3, 5, 2), torch.tensor([5, 4]))
    with pytest.raises(ValueError, match=r"lengths must be in \[1, 5\]"):
        m(torch.randn(2, 5, 2), torch.tensor([5, 0]))
    t = SequenceClassifier(ClassifierConfig(hidden_size=4, vocab_size=9))
    with pytest.raises(ValueError, match="token ids"):
        t(torch.randn(3, 5))


def test_word_dropout_replaces_tokens_by_unk_in_training_only():
    torch.manual_seed(0)
    m = SequenceClassifier(ClassifierConfig(vocab_size=12, embed_size=4, hidden_size=5, dropout=0.0,
                                            word_dropout=0.5))
    x = torch.randint(1, 12, (4, 6))
    torch.manual_seed(7)
    dropped = m.train()(x)
    torch.manual_seed(7)
    mask = torch.rand(x.shape) < 0.5
    with torch.no_grad():
        m.eval()
        assert torch.allclose(dropped, m(x.masked_fill(mask, 0)), atol=1e-6)
        assert not torch.allclose(m(x), m(x.masked_fill(mask, 0)))
