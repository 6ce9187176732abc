"""Chorale frames: tokens round trip; a music21 score round trips through frames."""

from __future__ import annotations

from rnnkit.music import chorale
from rnnkit.music.chorale import Chorale, Frame


def _chorale() -> Chorale:
    frames = []
    for t in range(32):  # two bars of 4/4 in sixteenths: half notes, a fermata on the last
        start = t % 8 == 0
        frames.append(Frame([(72 - (t // 16), start), (67, start), (64, start), (48, start)],
                            fermata=t == 16, bar=t % 16 == 0))
    return Chorale("4/4", "C", "major", frames)


def test_tokens_round_trip():
    ch = _chorale()
    tokens = chorale.encode(ch)
    assert tokens[:5] == ["<s>", "n72", "n67", "n64", "n48"] and tokens[5] == "h72"
    assert tokens.count("|") == 1 and tokens.count("F") == 1
    assert tokens[tokens.index("|") + 1] == "F"
    assert chorale.decode(tokens, "4/4", "major", "C").frames == ch.frames


def test_a_score_round_trips_through_frames():
    ch = _chorale()
    score = chorale.to_score(ch)
    assert len(score.parts) == 4
    back = chorale.from_score(score, "test")
    assert back.metre == "4/4" and (back.tonic, back.mode) == ("C", "major")
    assert back.frames == ch.frames


def test_a_held_token_with_nothing_to_hold_becomes_a_note():
    ch = chorale.decode(["h60", "h55", "r", "n40", "h61", "h55", "r", "h40"], "4/4", "major", "C")
    assert [v[1] for v in ch.frames[0].voices] == [True, True, False, True]
    assert ch.frames[1].voices[0] == (61, True) and ch.frames[1].voices[1] == (55, False)
