"""The checks of generated pieces, on pieces whose answers are known."""

from __future__ import annotations

from fractions import Fraction as F

import numpy as np

from rnnkit.music import chorale, evaluate, folk
from rnnkit.music.corpus import Piece
from rnnkit.music.tune import Tune
from rnnkit.music.vocab import MusicVocab

from .test_chorale import _chorale


def test_folk_checks_count_full_bars_tonic_endings_and_unfinished_tunes():
    good = Tune("2/4", "C", "major", [[(67, F(1, 2))], [(72, F(1)), (64, F(1))], [(62, F(1)), (60, F(1, 2))]])
    long_bar = Tune("2/4", "C", "major", [[(72, F(2))], [(64, F(3))], [(62, F(2))]])
    pieces = [Piece(("2/4", "major", "C"), folk.encode(t)) for t in (good, long_bar)]
    vocab = MusicVocab.build(pieces)
    samples = [vocab.ids(p.tokens)[0].tolist()[1:-1] for p in pieces] + [[vocab.stoi["p60"], -1]]
    conds = [p.condition for p in pieces] * 2
    ref = evaluate.melody_stats([good])
    got = evaluate.folk_metrics(vocab, samples, conds[:3], ref)
    assert got["pieces"] == 3 and got["ended"] == 2 / 3 and got["parsed"] == 2 / 3
    assert got["parsed_bars_full"] == 1 / 3  # the pickup and the last bar complete each other; 3 quarters do not fit
    assert got["ends_on_tonic"] == 1 / 3
    same = evaluate.folk_metrics(vocab, samples[:1], conds[:1], ref)
    assert same["pitch_class_kl"] < 1e-9 and same["interval_emd"] == 0


def test_histogram_distances():
    p, q = np.array([0.5, 0.5, 0.0]), np.array([0.0, 0.5, 0.5])
    d = evaluate.distances(p, q)
    assert d["emd"] == 1.0 and d["kl"] > 5  # all of p's first bin must move one step
    assert evaluate.distances(p, p) == {"kl": 0.0, "emd": 0.0}


def test_chorale_checks_parse_order_and_ranges():
    ch = _chorale()
    crossed = chorale.Chorale("4/4", "C", "major", [chorale.Frame([(48, True), (67, True), (64, True), (72, True)],
                                                                  bar=i == 0) for i in range(16)])
    pieces = [Piece(("4/4", "major", "C"), chorale.encode(c)) for c in (ch, crossed)]
    vocab = MusicVocab.build(pieces)
    samples = [vocab.ids(p.tokens)[0].tolist()[1:-1] for p in pieces]
    got = evaluate.chorale_metrics(vocab, samples, [p.condition for p in pieces],
                                   evaluate.chorale_stats([ch]))
    assert got["parsed"] == 1.0 and got["ended"] == 1.0
    assert got["voice_order"] == 32 / 48  # the crossed chorale's 16 frames have the bass on top
    assert 0 < got["in_range"] < 1
