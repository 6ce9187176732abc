"""What the ABC reader leaves out, and why."""

from __future__ import annotations

from rnnkit.music.abc import read_abc


def _why(text: str) -> str:
    tunes, skipped = read_abc(text, "t.abc")
    assert not tunes and len(skipped) == 1
    return skipped[0][1]


def test_tunes_it_cannot_use_are_skipped_with_the_reason():
    assert _why("X:1\nM:2/4\nL:1/8\nK:G\nGA Bc | d2 d2 |\nM:3/4\nd2 d2 d2 | G6 |]\n") == "changes metre"
    assert "tuplet" in _why("X:1\nM:2/4\nL:1/8\nK:G\n(5GABcd e | d4 | G4 |]\n")
    assert "bar 2 holds 3/2" in _why("X:1\nM:2/4\nL:1/8\nK:G\nGA Bc | d3 | d2 d2 | G4 |]\n")
    assert _why("X:1\nM:none\nL:1/8\nK:G\nGA Bc | d2 d2 |]\n").startswith("no metre")


def test_a_section_end_and_the_next_pickup_are_one_bar():
    tunes, skipped = read_abc("X:1\nM:2/4\nL:1/8\nK:G\nG | AB cd | e3 :: f | gf ed | c3 |]\n", "t.abc")
    assert not skipped
    (t,) = tunes
    assert len(t.bars) == 5 and len(t.bars[2]) == 2  # "e3 :: f" is one bar of 2/4
    tunes, skipped = read_abc("X:1\nT:a\nM:2/4\nL:1/8\nK:G\nGA Bc | d2 d2 |]\n\nX:2\nT:b\nM:3/4\nL:1/8\nK:Em\n"
                              "E2 F2 G2 | B6 |]\n", "two.abc")
    assert [t.title for t in tunes] == ["a", "b"] and tunes[1].mode == "minor"
