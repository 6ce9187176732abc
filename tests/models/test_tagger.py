"""SequenceTagger, BiRNN and the character features: exactness, padding, shapes, learning."""

from __future__ import annotations

import pytest
import torch

from rnnkit import GRU, LSTM
from rnnkit.data import tagschemes
from rnnkit.models.birnn import BiRNN, reverse_within
from rnnkit.models.charfeatures import CASING, CharEncoder, casing
from rnnkit.models.tagger import SequenceTagger, TaggerBatch, TaggerConfig

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny tensors: see tests/conftest.py


def test_reverse_within_is_an_involution():
    x = torch.arange(12.0).view(2, 6, 1)
    r = reverse_within(x, torch.tensor([6, 3]))
    assert r[1, :, 0].tolist() == [8, 7, 6, 9, 10, 11] and r[0, :, 0].tolist() == [5, 4, 3, 2, 1, 0]
    assert torch.equal(reverse_within(r, torch.tensor([6, 3])), x)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_birnn_equals_a_bidirectional_layer_with_lengths(cell):
    torch.manual_seed(0)
    m = BiRNN(cell, 5, 7, num_layers=2)
    ref = {"lstm": LSTM, "gru": GRU}[cell](5, 7, 2, batch_first=True, bidirectional=True)
    sd = {}
    for k in range(2):
        for layers, suffix in ((m.fwd, ""), (m.bwd, "_reverse")):
            for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                sd[f"{n}_l{k}{suffix}"] = getattr(layers[k], f"{n}_l0")
    ref.load_state_dict(sd)
    x, lengths = torch.randn(3, 6, 5), torch.tensor([6, 2, 4])
    out, final = m(x, lengths)
    want, h = ref(x, lengths=lengths)
    h = h[0] if cell == "lstm" else h
    real = (torch.arange(6)[None] < lengths[:, None]).unsqueeze(-1)
    assert ((out - want) * real).abs().max() < 1e-5
    assert (final - torch.cat([h[2], h[3]], -1)).abs().max() < 1e-5


def test_casing_classes():
    got = {w: CASING[casing(w)] for w in ("the", "EU", "Peter", "iPhone", "1996", "1996-08-22", "...")}
    assert got == {"the": "lower", "EU": "upper", "Peter": "title", "iPhone": "mixed", "1996": "numeric",
                   "1996-08-22": "has_digit", "...": "other"}


def test_char_encoder_ignores_padding():
    torch.manual_seed(0)
    enc = CharEncoder(10, 4, 3)
    chars = torch.tensor([[2, 3, 4, 0, 0], [5, 6, 0, 0, 0]])
    both = enc(chars, torch.tensor([3, 2]))
    alone = enc(torch.tensor([[5, 6]]), torch.tensor([2]))
    assert both.shape == (2, 6) and torch.allclose(both[1], alone[0], atol=1e-6)


LABELS = ["B-X", "E-X", "I-X", "O", "S-X"]


def _batch(words: list[list[int]], tags: list[list[int]]) -> TaggerBatch:
    B, T = len(words), max(map(len, words))
    w = torch.zeros(B, T, dtype=torch.long)
    t = torch.zeros(B, T, dtype=torch.long)
    for i, (a, b) in enumerate(zip(words, tags)):
        w[i, : len(a)], t[i, : len(b)] = torch.tensor(a), torch.tensor(b)
    uniq, inv = torch.unique(w, return_inverse=True)
    chars = (uniq.unsqueeze(1) % 7 + 2).repeat(1, 2)  # every word spelled with 2 characters
    return TaggerBatch(w, (w > 0).long() * 2, chars, torch.full((len(uniq),), 2), inv,
                       torch.tensor([len(a) for a in words]), t)


def _tagger(crf: bool, seed: int = 0) -> SequenceTagger:
    torch.manual_seed(seed)
    cfg = TaggerConfig(hidden_size=16, word_embed_size=8, char_embed_size=4, char_hidden_size=4, casing_size=2,
                       dropout=0.0, crf=crf, vocab_size=12, num_chars=10, num_tags=len(LABELS))
    cons = tuple(torch.tensor(a) for a in tagschemes.allowed(LABELS, "bioes"))
    return SequenceTagger(cfg, cons)


@pytest.mark.parametrize("crf", [True, False])
def test_padding_changes_neither_loss_nor_tags(crf):
    m = _tagger(crf).eval()
    short = _batch([[3, 4, 5]], [[0, 1, 3]])
    padded = _batch([[3, 4, 5], [6, 7, 8, 9, 10, 11]], [[0, 1, 3], [4, 3, 0, 2, 1, 3]])
    a = m.nll(m.emissions(short), short)
    b = m.nll(m.emissions(padded), padded)
    assert torch.allclose(a[0], b[0], atol=1e-5)
    assert m.decode(short)[0].tolist() == m.decode(padded)[0, :3].tolist()


@pytest.mark.parametrize("crf", [True, False])
def test_tagger_learns_a_tiny_tagging_rule(crf):
    # word 3 starts an entity that words 4 continue; word 5 is a one-word entity; others are O
    sents = [[3, 4, 4, 6], [6, 5, 7], [3, 4, 6, 5], [7, 6, 3, 4, 4, 4]]
    rule = {3: 0, 5: 4, 6: 3, 7: 3}
    tags = [[rule.get(w, 2) for w in s] for s in sents]
    for s, t in zip(sents, tags):  # the last 4 of a chunk ends it
        for i, w in enumerate(s):
            if w == 4 and (i + 1 == len(s) or s[i + 1] != 4):
                t[i] = 1
    b = _batch(sents, tags)
    m = _tagger(crf)
    opt = torch.optim.Adam(m.parameters(), lr=0.05)
    first = float(m(b).detach())
    for _ in range(40):
        opt.zero_grad()
        m(b).backward()
        opt.step()
    m.eval()
    assert float(m.loss(b).detach()) < first / 10
    pred = m.decode(b)
    for i, t in enumerate(tags):
        assert pred[i, : len(t)].tolist() == t


def test_config_errors_are_clear():
    with pytest.raises(ValueError, match="num_tags must be >= 1"):
        SequenceTagger(TaggerConfig(vocab_size=5, num_chars=5))
    with pytest.raises(ValueError, match="dropout"):
        SequenceTagger(TaggerConfig(vocab_size=5, num_chars=5, num_tags=3, dropout=1.0))
