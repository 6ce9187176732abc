"""LanguageModel: shapes, carried state, weight tying, initialisation, generation."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from rnnkit.models import LanguageModel, LMConfig, SampleConfig
from rnnkit.state import detach_state


def model(**kw) -> LanguageModel:
    torch.manual_seed(0)
    base = {"vocab_size": 11, "embed_size": 6, "hidden_size": 8, "num_layers": 2, "dropout": 0.0}
    return LanguageModel(LMConfig(**{**base, **kw}))


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_chunks_with_carried_state_equal_one_pass(cell):
    m = model(cell=cell)
    x = torch.randint(0, 11, (3, 10))
    whole, _ = m(x)
    a, s = m(x[:, :4])
    b, _ = m(x[:, 4:], detach_state(s))
    torch.testing.assert_close(torch.cat([a, b], 1), whole)
    assert whole.shape == (3, 10, 11)


def test_tbptt_gradient_stops_at_the_chunk_boundary():
    m = model()
    x = torch.randint(0, 11, (2, 8))
    _, s = m(x[:, :4])
    out, _ = m(x[:, 4:], detach_state(s))
    out.sum().backward()
    g_trunc = m.embed.weight.grad.clone()
    m.zero_grad()
    _, s = m(x[:, :4])
    out, _ = m(x[:, 4:], s)
    out.sum().backward()
    assert not torch.allclose(g_trunc, m.embed.weight.grad)  # full BPTT reaches the first chunk too


def test_tied_weights_and_errors():
    m = model(embed_size=8, tie_weights=True)
    assert m.out.weight is m.embed.weight
    assert sum(p.numel() for p in m.parameters()) < sum(p.numel() for p in model(embed_size=8).parameters())
    with pytest.raises(ValueError, match="tie_weights needs embed_size == hidden_size"):
        model(tie_weights=True)
    with pytest.raises(ValueError, match="vocab_size"):
        model(vocab_size=1)


def test_init_range():
    m = model(init_range=0.05)
    assert all(p.abs().max() <= 0.05 for p in m.parameters())


def test_greedy_generation_is_stepwise_argmax():
    m = model()
    prime = torch.tensor([1, 2, 3])
    got = list(m.generate(prime, 6, SampleConfig(greedy=True)))
    seq = prime.tolist()
    for _ in range(6):
        logits, _ = m(torch.tensor([seq]))
        seq.append(int(logits[0, -1].argmax()))
    assert got == seq[3:]
    assert m.training  # mode restored


def test_sampling_is_seeded_and_follows_the_distribution():
    m = model()
    cfg = SampleConfig(temperature=1.0)
    a = list(m.generate(torch.tensor([1]), 20, cfg, torch.Generator().manual_seed(3)))
    b = list(m.generate(torch.tensor([1]), 20, cfg, torch.Generator().manual_seed(3)))
    assert a == b
    # with a single-token prime, the first sample's frequency matches softmax(logits)
    logits, _ = m.eval()(torch.tensor([[1]]))
    p = F.softmax(logits[0, -1], -1)
    g = torch.Generator().manual_seed(0)
    from rnnkit.models import sample_next

    counts = torch.bincount(torch.tensor([sample_next(logits[0, -1], cfg, g) for _ in range(4000)]), minlength=11)
    assert (counts / 4000 - p).abs().max() < 0.03


def test_banned_tokens_are_never_generated():
    m = model()
    out = list(m.generate(torch.tensor([1]), 200, SampleConfig(temperature=5.0), torch.Generator().manual_seed(0),
                          banned=(0, 3)))
    assert 0 not in out and 3 not in out and len(set(out)) > 5
