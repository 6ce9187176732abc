"""Folk melodies as tokens, in the spirit of folk-rnn (Sturm et al. 2016).

A tune is its condition, ``(metre, mode, tonic)`` (``("6/8", "major", "D")``), which the model
reads into its initial state, and a body of tokens::

    <s> p74 d1/2 p76 d1/2 ... | p78 d3/2 ... | ... | </s>

``pNN`` is a note of MIDI pitch NN, ``r`` a rest, each followed by its duration ``dN/M`` in
quarter notes (a triplet eighth is ``d1/3``); ``|`` closes every bar. With transposition (the
folk recipe's default, as in folk-rnn) every tune is moved by at most a tritone to the tonic C
first, so one pitch token means one scale degree across the corpus; composing in D then moves
the result back up.
"""

from __future__ import annotations

from fractions import Fraction

from rnnkit.errors import RnnkitError
from rnnkit.music.tune import Note, Tune, shift_to_c

BOS, EOS, BAR, REST = "<s>", "</s>", "|", "r"
SPECIALS = (BOS, EOS, BAR, REST)


def pitch_token(midi: int | None) -> str:
    return REST if midi is None else f"p{midi}"


def duration_token(d: Fraction) -> str:
    d = Fraction(d)
    return f"d{d.numerator}" if d.denominator == 1 else f"d{d.numerator}/{d.denominator}"


def token_duration(tok: str) -> Fraction:
    """The duration of a ``d...`` token (an error for any other token)."""
    if not tok.startswith("d"):
        raise ValueError(f"{tok!r} is not a duration token")
    return Fraction(tok[1:])


def token_pitch(tok: str) -> int | None:
    if tok == REST:
        return None
    if not tok.startswith("p"):
        raise ValueError(f"{tok!r} is not a pitch token")
    return int(tok[1:])


def is_pitch(tok: str) -> bool:
    return tok == REST or (tok.startswith("p") and tok[1:].isdigit())


def is_duration(tok: str) -> bool:
    return tok.startswith("d") and len(tok) > 1


def transpose_to_c(tune: Tune) -> Tune:
    """``tune`` moved to tonic C (by -6..+5 semitones)."""
    return tune.transposed(shift_to_c(tune.tonic), "C")


def encode(tune: Tune) -> list[str]:
    """``[<s>, body..., </s>]`` of a tune (see the module docstring)."""
    out = [BOS]
    for bar in tune.bars:
        for midi, d in bar:
            out += [pitch_token(midi), duration_token(d)]
        out.append(BAR)
    out.append(EOS)
    return out


def decode(tokens: list[str], metre: str, mode: str, tonic: str, title: str = "") -> Tune:
    """The tune of ``tokens`` (with or without ``<s>`` and ``</s>``); a pitch without a duration after
    it, or a duration without a pitch before it, is an error naming the position."""
    bars: list[list[Note]] = [[]]
    pending: int | None | str = "none"
    for i, tok in enumerate(tokens):
        if tok == BOS and i == 0:
            continue
        if tok == EOS:
            break
        if tok == BAR:
            if pending != "none":
                raise RnnkitError(f"token {i} (|): the pitch before it has no duration")
            if bars[-1]:
                bars.append([])
        elif is_pitch(tok):
            if pending != "none":
                raise RnnkitError(f"token {i} ({tok}): the pitch before it has no duration")
            pending = token_pitch(tok)
        elif is_duration(tok):
            if pending == "none":
                raise RnnkitError(f"token {i} ({tok}): a duration without a pitch before it")
            bars[-1].append((pending, token_duration(tok)))  # type: ignore[arg-type]
            pending = "none"
        else:
            raise RnnkitError(f"token {i}: {tok!r} is not a folk token")
    if not bars[-1]:
        bars.pop()
    return Tune(metre, mode=mode, tonic=tonic, bars=bars, title=title)
