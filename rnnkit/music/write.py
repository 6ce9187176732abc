"""Writing pieces: ABC text for folk tunes, and music21 scores for MusicXML and MIDI.

The ABC is ABC 2.1 with ``L:1/16``: a note's length is written in sixteenths (``A2`` an eighth,
``A3/2`` a dotted sixteenth), a triplet note as ``(3:2:1A2`` (three in the time of two, for one
note), so any duration sequence a model writes is spelled exactly. Pitches are spelled in the key
(its scale degrees as the key signature has them, other notes with sharps in sharp keys and flats in
flat ones), with ``^``, ``_`` and ``=`` where the key signature or an earlier note in the bar says
otherwise.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

from rnnkit.errors import RnnkitError
from rnnkit.music.tune import STEPS, Tune

ABC_MODES = {"major": "maj", "minor": "min", "dorian": "dor", "mixolydian": "mix", "lydian": "lyd",
             "phrygian": "phr", "locrian": "loc"}
_SHARPS = ("C", "^C", "D", "^D", "E", "F", "^F", "G", "^G", "A", "^A", "B")
_FLATS = ("C", "_D", "D", "_E", "E", "F", "_G", "G", "_A", "A", "_B", "B")
_MAJOR = (0, 2, 4, 5, 7, 9, 11)


def key_signature(tonic: str, mode: str) -> dict[str, int]:
    """``{letter: alteration}`` of the key signature of ``tonic`` ``mode`` (``D major``: F and C sharp)."""
    from music21 import key

    ks = key.Key(tonic, mode)
    return {p.step: int(p.accidental.alter) if p.accidental else 0 for p in ks.getPitches()[:7]}


def _spell(midi: int, sig: dict[str, int], flat_key: bool) -> tuple[str, int, int]:
    """``(letter, alteration, octave)`` of ``midi`` in a key with signature ``sig``."""
    pc = midi % 12
    for letter, alter in sig.items():
        if (STEPS[letter] + alter) % 12 == pc:
            octave = (midi - alter) // 12 - 1  # B# in C: the octave of the B
            return letter, alter, octave
    name = (_FLATS if flat_key else _SHARPS)[pc]
    letter, alter = name[-1], (-1 if name[0] == "_" else 1 if name[0] == "^" else 0)
    return letter, alter, (midi - alter) // 12 - 1


def _abc_pitch(letter: str, octave: int) -> str:
    if octave >= 5:
        return letter.lower() + "'" * (octave - 5)
    return letter + "," * (4 - octave)


def _abc_length(d: Fraction) -> tuple[str, str]:
    """``(prefix, length)`` of a duration in quarter notes under ``L:1/16``."""
    prefix = ""
    units = Fraction(d) * 4
    if units.denominator % 3 == 0:  # a triplet note: written as 3/2 of its length
        prefix, units = "(3:2:1", units * Fraction(3, 2)
    if units.denominator not in (1, 2, 4, 8, 16, 32, 64):
        raise RnnkitError(f"duration {d} quarter notes cannot be written in ABC")
    if units == 1:
        return prefix, ""
    if units.denominator == 1:
        return prefix, str(units.numerator)
    return prefix, f"{units.numerator}/{units.denominator}"


def abc_text(tune: Tune, title: str = "", number: int = 1) -> str:
    """The ABC text of ``tune``; music21 reads it back to the same notes and bars."""
    sig = key_signature(tune.tonic, tune.mode)
    flat_key = any(a < 0 for a in sig.values())
    head = [f"X:{number}", f"T:{title or tune.title or 'Untitled'}", f"M:{tune.metre}", "L:1/16",
            f"K:{tune.tonic.replace('-', 'b')}{ABC_MODES.get(tune.mode, 'maj')}"]
    bars_text = []
    for bar in tune.bars:
        held: dict[tuple[str, int], int] = {}
        out = []
        for midi, d in bar:
            prefix, length = _abc_length(d)
            if midi is None:
                out.append(f"{prefix}z{length}")
                continue
            letter, alter, octave = _spell(midi, sig, flat_key)
            current = held.get((letter, octave), sig.get(letter, 0))
            acc = ""
            if alter != current:
                acc = {-2: "__", -1: "_", 0: "=", 1: "^", 2: "^^"}[alter]
                held[(letter, octave)] = alter
            out.append(f"{prefix}{acc}{_abc_pitch(letter, octave)}{length}")
        bars_text.append(" ".join(out))
    lines = [" | ".join(bars_text[i : i + 4]) for i in range(0, len(bars_text), 4)]
    return "\n".join(head + [line + (" |]" if i == len(lines) - 1 else " |") for i, line in enumerate(lines)]) + "\n"


def parse_abc(text: str):
    """The music21 score of an ABC text (an error naming the first line of it music21 rejects)."""
    from music21 import converter

    try:
        return converter.parse(text, format="abc")
    except Exception as e:
        raise RnnkitError(f"music21 cannot read the ABC ({type(e).__name__}: {str(e)[:120]})") from None


def write_score(score, path: Path, fmt: str) -> Path:
    """``score`` as ``fmt`` (``musicxml`` or ``midi``) at ``path``."""
    try:
        out = score.write(fmt, fp=str(path))
    except Exception as e:
        raise RnnkitError(f"{path}: music21 could not write {fmt} ({type(e).__name__}: {str(e)[:120]})") from None
    return Path(out)

