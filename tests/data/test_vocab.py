"""Vocabularies at character and word level."""

from __future__ import annotations

import pytest
import torch

from rnnkit.data import EOS, UNK, Vocab
from rnnkit.errors import RnnkitError


def test_char_vocab_roundtrip():
    v = Vocab.build("Bonjour\nbon", "char")
    assert v.itos[0] == UNK and v.itos[1] == "o"  # then by descending count
    ids, unknown = v.encode("Bonjour")
    assert unknown == 0 and v.decode(ids.tolist()) == "Bonjour"
    ids, unknown = v.encode("Bonjour!")
    assert unknown == 1 and ids[-1] == v.unk
    assert Vocab.from_dict(v.to_dict()) == v


def test_word_vocab_eos_and_min_freq():
    text = "the cat sat\nthe dog sat\n\nthe end\n"
    v = Vocab.build(text, "word", min_freq=2)
    assert v.itos[:2] == [UNK, EOS] and set(v.itos[2:]) == {"the", "sat"}
    ids, unknown = v.encode("the cat sat\n")
    assert [v.itos[i] for i in ids] == ["the", UNK, "sat", EOS] and unknown == 1
    assert v.decode(ids.tolist()) == f"the {UNK} sat \n"


def test_unk_in_text_is_the_special():
    v = Vocab.build(f"a {UNK} b\n", "word")
    ids, unknown = v.encode(f"{UNK} a\n")
    assert ids[0] == v.unk and unknown == 0  # PTB writes <unk> itself


def test_bad_arguments():
    with pytest.raises(RnnkitError, match="unknown level"):
        Vocab.build("x", "byte")
    with pytest.raises(RnnkitError, match="min_freq"):
        Vocab.build("x", "word", min_freq=0)


def test_lines_for_full_bptt():
    from rnnkit.data import IGNORE, LineBatches, line_sequences, pad_batch

    v = Vocab.build("ab\nba\n\nabc\n", "char")
    lines, unknown = v.encode_lines("ab\n\nxb\n")
    seqs = line_sequences(lines, v.sep)
    assert unknown == 1 and len(seqs) == 2
    assert [v.itos[i] for i in seqs[0]] == ["\n", "a", "b", "\n"]
    x, y, lengths = pad_batch([seqs[0], line_sequences([torch.tensor([v.stoi["c"]])], v.sep)[0]])
    assert lengths.tolist() == [3, 2] and y[1, 2] == IGNORE and x.shape == y.shape == (2, 3)
    batches = LineBatches(seqs * 5, 3, seed=1)
    assert len(batches) == 3
    first = list(batches.batches(0))
    assert all(torch.equal(a[0], b[0]) for a, b in zip(first[1:], batches.batches(0, start=1)))
    half = list(LineBatches(seqs * 5, 4, seed=1, rank=1, world=2).batches(0))
    assert all(b[0].shape[0] == 2 for b in half)
    with pytest.raises(RnnkitError, match="one line"):
        _ = Vocab.build("abc", "char").sep
