"""Seq2Seq: padding invariance, the fast teacher-forced path equals stepping, options."""

from __future__ import annotations

import pytest
import torch

from rnnkit.models.seq2seq import Seq2Seq, Seq2SeqConfig


def small(**kw) -> Seq2Seq:
    torch.manual_seed(0)
    return Seq2Seq(Seq2SeqConfig(src_vocab=20, tgt_vocab=15, embed_size=12, hidden_size=12, dropout=0.0,
                                 **kw)).eval()


@pytest.mark.parametrize("cell,attention", [("lstm", "general"), ("gru", "bahdanau"), ("gru", "dot"),
                                            ("lstm", "none")])
def test_a_sentence_scores_the_same_alone_and_padded_in_a_batch(cell: str, attention: str):
    m = small(cell=cell, attention=attention)
    short, long = torch.randint(4, 20, (1, 4)), torch.randint(4, 20, (1, 9))
    y = torch.randint(4, 15, (2, 6))
    alone, _ = m(short, torch.tensor([4]), y[:1])
    src = torch.cat([torch.cat([short, torch.full((1, 5), 7)], 1), long])  # padded with a real token id
    batched, weights = m(src, torch.tensor([4, 9]), y)
    assert torch.allclose(alone[0], batched[0], atol=1e-5)
    if weights is not None:
        assert torch.all(weights[0, :, 4:] == 0)


def test_fast_path_equals_stepping_through_time():
    m = small(attention="general")
    src, lengths, y = torch.randint(4, 20, (3, 7)), torch.tensor([7, 3, 5]), torch.randint(4, 15, (3, 5))
    fast, w_fast = m(src, lengths, y)
    memory, state = m.encode(src, lengths)
    steps = []
    for t in range(y.shape[1]):
        logits, state, _ = m.decoder.step(y[:, t], memory, state)
        steps.append(logits)
    assert torch.allclose(fast, torch.stack(steps, 1), atol=1e-5)


def test_teacher_forcing_below_one_reads_predictions_in_training_only():
    m = small(teacher_forcing=0.0, input_feeding=True)
    src, lengths, y = torch.randint(4, 20, (2, 5)), torch.tensor([5, 2]), torch.randint(4, 15, (2, 6))
    evaluated, _ = m(src, lengths, y)  # eval mode: always the gold tokens
    m.train()
    trained, _ = m(src, lengths, y)
    assert torch.allclose(evaluated[:, 0], trained[:, 0], atol=1e-6)
    assert not torch.allclose(evaluated, trained, atol=1e-4)
    trained.sum().backward()


def test_tied_embeddings_and_bad_options():
    m = small(tie_embeddings=True)
    assert m.decoder.out.weight is m.decoder.embed.weight
    with pytest.raises(ValueError, match="tie_embeddings"):
        Seq2Seq(Seq2SeqConfig(src_vocab=9, tgt_vocab=9, embed_size=8, hidden_size=16, tie_embeddings=True))
    with pytest.raises(ValueError, match="even hidden_size"):
        Seq2Seq(Seq2SeqConfig(src_vocab=9, tgt_vocab=9, hidden_size=15))
    with pytest.raises(ValueError, match="teacher_forcing"):
        Seq2Seq(Seq2SeqConfig(src_vocab=9, tgt_vocab=9, teacher_forcing=1.5))
