"""Tag schemes: conversion through chunks, validity, constraints, scheme detection and mixed schemes."""

from __future__ import annotations

import itertools

import pytest

from rnnkit.data import tagschemes as ts
from rnnkit.errors import RnnkitError

IOB1 = ["I-PER", "I-PER", "O", "I-LOC", "B-LOC", "I-MISC", "O", "I-ORG"]
BIO = ["B-PER", "I-PER", "O", "B-LOC", "B-LOC", "B-MISC", "O", "B-ORG"]
BIOES = ["B-PER", "E-PER", "O", "S-LOC", "S-LOC", "S-MISC", "O", "S-ORG"]


def test_chunks_and_conversions():
    want = [("PER", 0, 2), ("LOC", 3, 4), ("LOC", 4, 5), ("MISC", 5, 6), ("ORG", 7, 8)]
    assert ts.chunks(IOB1, "iob1") == want
    assert ts.chunks(BIO, "bio") == want
    assert ts.chunks(BIOES, "bioes") == want
    assert ts.convert(IOB1, "iob1", "bio") == BIO
    assert ts.convert(IOB1, "iob1", "bioes") == BIOES
    assert ts.convert(BIOES, "bioes", "bio") == BIO
    assert ts.convert(BIO, "bio", "bioes") == BIOES


def test_lenient_reading_of_broken_sequences():
    # like conlleval: an I- after O starts a chunk; an E- without B- is a chunk of its own
    assert ts.chunks(["O", "I-PER", "I-PER"], "bio") == [("PER", 1, 3)]
    assert ts.chunks(["E-PER", "B-LOC", "E-ORG"], "bioes") == [("PER", 0, 1), ("LOC", 1, 2), ("ORG", 2, 3)]


@pytest.mark.parametrize("scheme", ["bio", "bioes"])
def test_allowed_matches_is_valid_by_enumeration(scheme):
    labels = ["O"] + [f"{p}-{t}" for t in ("A", "B") for p in ts.PREFIXES[scheme]]
    start, trans, end = ts.allowed(labels, scheme)
    for n in (1, 2, 3):
        for seq in itertools.product(range(len(labels)), repeat=n):
            tags = [labels[i] for i in seq]
            legal = start[seq[0]] and end[seq[-1]] and all(trans[a][b] for a, b in zip(seq, seq[1:]))
            # legal exactly when writing its own chunks back gives the same tags
            assert legal == (ts.from_chunks(ts.chunks(tags, scheme), n, scheme) == tags), tags


def test_allowed_rejects_foreign_labels():
    with pytest.raises(ValueError, match="not a BIO tag"):
        ts.allowed(["O", "S-PER"], "bio")


def test_detector_finds_each_scheme():
    for tags, want in ((IOB1, "iob1"), (BIO, "bio"), (BIOES, "bioes"), (["NOUN", "VERB"], "none")):
        d = ts.SchemeDetector()
        d.add(tags, [f"f:{i + 1}" for i in range(len(tags))])
        assert d.scheme == want


def test_detector_mixed_schemes_name_both_places():
    d = ts.SchemeDetector()
    d.add(IOB1, [f"a.txt:{i + 1}" for i in range(len(IOB1))])
    with pytest.raises(RnnkitError, match=r"b.txt:1: mixed tag schemes.*a.txt:1 \(I-PER\)"):
        d.add(BIO, [f"b.txt:{i + 1}" for i in range(len(BIO))])
    d = ts.SchemeDetector()
    with pytest.raises(RnnkitError, match=r"f:2: mixed tag schemes: tag 'B-PER'.* f:1 \(NOUN\) reads as plain tags"):
        d.add(["NOUN", "B-PER"], ["f:1", "f:2"])


def test_real_conll2003_reads_as_iob1_and_converts_losslessly(data_dir):
    from rnnkit.data.conll import read_conll

    sents = read_conll(data_dir / "conll2003" / "eng.testb")
    d = ts.SchemeDetector()
    for s in sents:
        d.add(s.tags, [s.where(i) for i in range(len(s.tags))])
    assert d.scheme == "iob1"
    entities = 0
    for s in sents:
        bioes = ts.convert(s.tags, "iob1", "bioes")
        assert ts.is_valid(bioes, "bioes")
        assert ts.chunks(bioes, "bioes") == ts.chunks(s.tags, "iob1")
        entities += len(ts.chunks(s.tags, "iob1"))
    assert entities == 5648  # the test set's published entity count
