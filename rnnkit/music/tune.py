"""A melody as rnnkit's music code sees it: metre, key (tonic and mode), and bars of notes.

A note is ``(midi, duration)``: ``midi`` the MIDI pitch (``None`` for a rest), ``duration`` a
:class:`fractions.Fraction` of a quarter note. Keys and metres are parsed from the words a user
types (``"D major"``, ``"Ador"``, ``"E minor"``, ``"6/8"``) with one-line errors.
"""

from __future__ import annotations

import dataclasses
import re
from fractions import Fraction

from rnnkit.errors import RnnkitError

#: the modes a key may have, and the ABC abbreviations of each (``K:Ador``, ``K:Em``)
MODES = {"major": ("maj", "ion", "ionian", ""), "minor": ("min", "m", "aeo", "aeolian"),
         "dorian": ("dor",), "mixolydian": ("mix",), "lydian": ("lyd",), "phrygian": ("phr",), "locrian": ("loc",)}
STEPS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}

Note = tuple["int | None", Fraction]


@dataclasses.dataclass
class Tune:
    """One melody: ``bars`` is a list of bars, each a list of ``(midi or None, duration)``."""

    metre: str
    tonic: str
    mode: str
    bars: list[list[Note]]
    title: str = ""
    source: str = ""

    @property
    def bar_length(self) -> Fraction:
        return metre_length(self.metre)

    def notes(self) -> list[Note]:
        return [n for bar in self.bars for n in bar]

    def transposed(self, semitones: int, tonic: str) -> Tune:
        """The same tune ``semitones`` higher, now with tonic ``tonic``."""
        bars = [[(None if m is None else m + semitones, d) for m, d in bar] for bar in self.bars]
        return dataclasses.replace(self, bars=bars, tonic=tonic)


def metre_length(metre: str) -> Fraction:
    """Quarter notes in one bar of ``metre`` (``"6/8"`` -> 3)."""
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", metre)
    if not m or int(m.group(1)) < 1 or int(m.group(2)) not in (1, 2, 4, 8, 16, 32):
        raise RnnkitError(f"metre {metre!r}: expected N/D with D a power of two up to 32 (6/8, 4/4, 3/4, ...)")
    return Fraction(int(m.group(1)) * 4, int(m.group(2)))


def normal_metre(metre: str) -> str:
    """``" 6 / 8 "`` -> ``"6/8"``; ``C`` -> ``4/4``, ``C|`` -> ``2/2``; an error for anything else."""
    text = metre.strip()
    text = {"C": "4/4", "C|": "2/2"}.get(text, text)
    metre_length(text)
    n, d = (int(v) for v in text.split("/"))
    return f"{n}/{d}"


def tonic_pc(tonic: str) -> int:
    """Pitch class of a tonic name (``"F#"``, ``"B-"``, ``"Bb"``)."""
    m = re.fullmatch(r"([A-Ga-g])([#b-]*)", tonic.strip())
    if not m:
        raise RnnkitError(f"tonic {tonic!r}: expected a note name A-G with an optional # or b")
    acc = m.group(2)
    return (STEPS[m.group(1).upper()] + acc.count("#") - acc.count("b") - acc.count("-")) % 12


def normal_tonic(tonic: str) -> str:
    """A tonic in music21's spelling (``"Bb"`` -> ``"B-"``, ``"f#"`` -> ``"F#"``)."""
    m = re.fullmatch(r"([A-Ga-g])([#b-]*)", tonic.strip())
    if not m:
        raise RnnkitError(f"tonic {tonic!r}: expected a note name A-G with an optional # or b")
    return m.group(1).upper() + m.group(2).replace("b", "-")


def parse_key(text: str) -> tuple[str, str]:
    """``(tonic, mode)`` of ``"D major"``, ``"E minor"``, ``"A dorian"``, ``"Ador"``, ``"Em"``, ``"D"``."""
    m = re.fullmatch(r"\s*([A-Ga-g])([#b-]?)\s*([A-Za-z]*)\s*", text)
    if not m:
        raise RnnkitError(f"key {text!r}: expected a tonic and a mode, e.g. 'D major', 'E minor', 'A dorian', 'Ador'")
    word = m.group(3).lower()
    for mode, abbrevs in MODES.items():
        if word == mode or word in abbrevs or (len(word) >= 3 and mode.startswith(word)):
            return normal_tonic(m.group(1) + m.group(2)), mode
    raise RnnkitError(f"key {text!r}: unknown mode {m.group(3)!r}; expected one of {', '.join(MODES)}")


def shift_to_c(tonic: str) -> int:
    """Semitones (-6..5) that move ``tonic`` to C by the smaller step."""
    return (-tonic_pc(tonic) + 6) % 12 - 6


def bar_sum(bar: list[Note]) -> Fraction:
    return sum((d for _, d in bar), Fraction(0))
