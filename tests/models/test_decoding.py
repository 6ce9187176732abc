"""Greedy and beam search: beam 1 is greedy exactly; wider beams never find a less probable output."""

from __future__ import annotations

import pytest
import torch

from rnnkit.models.decoding import DecodeConfig, beam_search, decode, greedy
from rnnkit.models.seq2seq import Seq2Seq, Seq2SeqConfig

BOS, EOS = 2, 3


def model(seed: int, attention: str, cell: str = "gru", eos_bias: float = 0.3) -> Seq2Seq:
    torch.manual_seed(seed)
    m = Seq2Seq(Seq2SeqConfig(src_vocab=30, tgt_vocab=12, embed_size=16, hidden_size=16, cell=cell,
                              attention=attention, dropout=0.0)).eval()
    with torch.no_grad():  # make <eos> likely enough that outputs of every length occur
        m.decoder.out.bias[EOS] += eos_bias
    return m


def inputs(seed: int, n: int = 48) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(4, 30, (n, 9), generator=g), torch.randint(1, 10, (n,), generator=g)


@pytest.mark.parametrize("attention,cell,eos_bias", [("general", "gru", 0.3), ("bahdanau", "lstm", 0.0),
                                                    ("none", "gru", 0.6)])
def test_beam_of_one_is_greedy_exactly(attention: str, cell: str, eos_bias: float):
    m = model(0, attention, cell, eos_bias)
    src, lengths = inputs(1)
    limits = DecodeConfig().limits(lengths)
    g = greedy(m, (src, lengths), BOS, EOS, limits)
    b = beam_search(m, (src, lengths), BOS, EOS, limits, 1, 0.0, keep_greedy=False)
    assert [h.tokens for h in g] == [h.tokens for h in b]
    assert [h.score for h in g] == [h.score for h in b]
    assert [h.ended for h in g] == [h.ended for h in b]
    if attention != "none":
        assert all(torch.equal(x.attention, y.attention) for x, y in zip(g, b))
    assert any(h.ended for h in g) and len({len(h.tokens) for h in g}) > 2
    assert all(len(h.tokens) + h.ended <= int(n) for h, n in zip(g, limits))


def test_wider_beams_never_score_below_greedy():
    worse = total = 0
    for seed in range(4):
        m = model(seed, ("general", "bahdanau", "dot", "none")[seed], eos_bias=(0.3, 0.0, 0.3, 0.6)[seed])
        src, lengths = inputs(seed + 10, 48)
        limits = DecodeConfig(max_length=16).limits(lengths)
        g = greedy(m, (src, lengths), BOS, EOS, limits)
        for k in (2, 4):
            # the beam alone (without the greedy hypothesis competing) and as decode() runs it
            for keep in (False, True):
                b = beam_search(m, (src, lengths), BOS, EOS, limits, k, 0.0, keep_greedy=keep)
                worse += sum(y.score < x.score - 1e-5 for x, y in zip(g, b))
                total += len(b)
    assert total == 768 and worse == 0


def test_attention_rows_and_hypothesis_scores_are_the_model_log_probability():
    m = model(3, "general")
    src, lengths = inputs(4, 8)
    hyps = decode(m, (src, lengths), BOS, EOS, lengths, DecodeConfig(beam_size=3, length_penalty=0.0))
    for i, h in enumerate(hyps):
        assert h.attention.shape == (len(h.tokens) + h.ended, 9)
        assert torch.all(h.attention[:, int(lengths[i]):] == 0)
        y = torch.tensor([[BOS, *h.tokens, *([EOS] if h.ended else [])]])
        with torch.no_grad():
            logits, _ = m(src[i : i + 1], lengths[i : i + 1], y[:, :-1])
        logp = torch.log_softmax(logits, -1).gather(2, y[:, 1:, None]).sum()
        assert float(logp) == pytest.approx(h.score, abs=1e-4)


def test_max_length_ends_hypotheses_unended():
    m = model(5, "general")
    src, lengths = inputs(6, 4)
    cfg = DecodeConfig(beam_size=2, max_length=1)
    hyps = decode(m, (src, lengths), BOS, EOS, lengths, cfg)
    assert all(len(h.tokens) + h.ended == 1 for h in hyps)
