"""Folk tokens: tunes to tokens and back, through ABC text and music21, with transposition."""

from __future__ import annotations

from fractions import Fraction as F

import pytest

from rnnkit.errors import RnnkitError
from rnnkit.music import folk
from rnnkit.music.abc import read_abc
from rnnkit.music.tune import Tune, parse_key
from rnnkit.music.write import abc_text

JIG = """X:7
T:Test Jig
M:6/8
L:1/8
K:D
A | d2 f ed^c | d>e f (3gfe d | =c2 c {g}BAG | [FA]2 z D3 :|
"""


def test_a_tune_round_trips_through_tokens():
    tune = Tune("6/8", "D", "major", [[(69, F(1, 2))], [(74, F(1)), (None, F(1, 2)), (78, F(3, 2))],
                                      [(79, F(1, 3)), (81, F(1, 3)), (79, F(1, 3)), (76, F(2))]])
    tokens = folk.encode(tune)
    assert tokens[:5] == ["<s>", "p69", "d1/2", "|", "p74"] and tokens[-2:] == ["|", "</s>"]
    assert "r" in tokens and "d1/3" in tokens
    back = folk.decode(tokens, "6/8", "major", "D")
    assert back.bars == tune.bars


def test_abc_reading_applies_key_bar_accidentals_triplets_and_broken_rhythm():
    (tune,), skipped = read_abc(JIG, "jig.abc")
    assert not skipped and tune.title == "Test Jig" and (tune.metre, tune.tonic, tune.mode) == ("6/8", "D", "major")
    assert tune.bars[0] == [(69, F(1, 2))]  # the pickup
    assert [m for m, _ in tune.bars[1]] == [74, 78, 76, 74, 73]  # f is F# in D major; ^c written (C# anyway)
    assert [d for _, d in tune.bars[2]] == [F(3, 4), F(1, 4), F(1, 2), F(1, 3), F(1, 3), F(1, 3), F(1, 2)]
    assert [m for m, _ in tune.bars[3]] == [72, 72, 71, 69, 67]  # =c holds to the bar's end; the grace note is left out
    assert tune.bars[4] == [(69, F(1)), (None, F(1, 2)), (62, F(3, 2))]  # a chord is read as its top note


def test_written_abc_reads_back_to_the_same_tune():
    (tune,), _ = read_abc(JIG, "jig.abc")
    for t in (tune, tune.transposed(-3, "B"), tune.transposed(4, "F#")):
        mode = "minor" if t.tonic == "B" else t.mode
        t = Tune(t.metre, t.tonic, mode, t.bars)
        (back,), skipped = read_abc(abc_text(t), "written.abc")
        assert not skipped
        assert back.bars == t.bars, abc_text(t)
        assert (back.tonic, back.mode, back.metre) == (t.tonic, t.mode, t.metre)


def test_transposition_moves_to_c_by_at_most_a_tritone():
    (tune,), _ = read_abc(JIG, "jig.abc")
    c = folk.transpose_to_c(tune)
    assert c.tonic == "C" and c.bars[0][0][0] == 69 - 2
    low = folk.transpose_to_c(Tune("4/4", "G", "major", [[(67, F(4))], [(67, F(4))]]))
    assert low.bars[0][0][0] == 72  # G up a fourth, not down a fifth


def test_bad_tokens_and_keys_are_named():
    with pytest.raises(RnnkitError, match="token 2"):
        folk.decode(["<s>", "p60", "p62", "d1"], "4/4", "major", "C")
    with pytest.raises(RnnkitError, match="without a pitch"):
        folk.decode(["d1"], "4/4", "major", "C")
    assert parse_key("Ador") == ("A", "dorian") and parse_key("E minor") == ("E", "minor")
    assert parse_key("Bb major") == ("B-", "major") and parse_key("D") == ("D", "major")
    with pytest.raises(RnnkitError, match="unknown mode 'bogus'"):
        parse_key("D bogus")
    with pytest.raises(RnnkitError, match="expected a tonic"):
        parse_key("H major")
