"""Reading ABC tunes with music21's ABC tokeniser (``music21.abcFormat.ABCHandler``).

The tokeniser gives each note its pitch under the key signature and its length (broken rhythm
applied); this module adds what it leaves out: an accidental holds to the end of its bar, grace
notes are left out, a chord is read as its top note. Repeat signs and endings are read as bar lines.
A tune is skipped, with the reason, when it changes metre or key, has several voices or tuplets,
or its inner bars do not add up to the metre (a pickup first bar and a short last bar are kept).
Building music21 streams from the same text takes about twenty times longer.
"""

from __future__ import annotations

import re
from fractions import Fraction

from rnnkit.errors import RnnkitError
from rnnkit.music.tune import Note, Tune, bar_sum, metre_length, normal_metre, parse_key

_ACC = re.compile(r"^([_^=]+)([A-Ga-g])([,']*)")


def _midi(name: str) -> int:
    from music21 import pitch

    return int(pitch.Pitch(name).midi)


def read_abc(text: str, source: str = "") -> tuple[list[Tune], list[tuple[str, str]]]:
    """``(tunes, skipped)`` of an ABC text holding one or more tunes (``X:`` fields);
    ``skipped`` is ``(where, why)`` for every tune left out."""
    from music21.abcFormat import ABCHandler

    if "X:" not in text:
        text = "X:1\n" + text
    handler = ABCHandler()
    try:
        handler.process(text)
    except Exception as e:  # music21 raises many kinds on broken ABC
        raise RnnkitError(f"{source}: music21 cannot read it as ABC ({type(e).__name__}: {e})") from None
    tunes, skipped = [], []
    try:
        parts = handler.splitByReferenceNumber()
    except Exception as e:
        raise RnnkitError(f"{source}: music21 cannot split it into tunes ({type(e).__name__}: {e})") from None
    for number, part in parts.items():
        where = f"{source} X:{number}"
        try:
            tune = _tune(part.tokens, where)
        except _Skip as e:
            skipped.append((where, str(e)))
            continue
        tune.source = where
        tunes.append(tune)
    return tunes, skipped


class _Skip(Exception):
    pass


def _tune(tokens: list, where: str) -> Tune:
    metre = key = None
    title = ""
    bars: list[list[Note]] = [[]]
    held: dict[str, str] = {}  # accidentals written in this bar: "C5" -> "C#5"
    grace = False
    started = False
    triplet = 0  # notes left in the current triplet
    for tok in tokens:
        kind = type(tok).__name__
        if kind == "ABCMetadata":
            if tok.tag == "T" and not title:
                title = tok.data.strip()
            elif tok.tag == "V":
                raise _Skip("several voices")
            elif tok.isMeter():
                ts = tok.getTimeSignatureObject()
                if ts is None:
                    raise _Skip("no metre (M:none)")
                value = normal_metre(ts.ratioString)
                if metre is not None and value != metre and started:
                    raise _Skip("changes metre")
                metre = value
            elif tok.isKey():
                ks = tok.getKeySignatureObject()
                mode = getattr(ks, "mode", None) or "major"
                tonic = ks.tonic.name if hasattr(ks, "tonic") else ks.asKey("major").tonic.name
                value = parse_key(f"{tonic} {mode}")
                if key is not None and value != key and started:
                    raise _Skip("changes key")
                key = value
        elif kind == "ABCTuplet":
            m = re.fullmatch(r"\((\d)(?::(\d?))?(?::(\d?))?", tok.src.strip())
            if not m or m.group(1) != "3" or (m.group(2) or "2") != "2":
                raise _Skip(f"a tuplet other than a triplet ({tok.src.strip()})")
            triplet = int(m.group(3) or 3)
        elif kind == "ABCGraceStart":
            grace = True
        elif kind == "ABCGraceStop":
            grace = False
        elif kind == "ABCBar":
            if bars[-1]:
                bars.append([])
            held = {}
        elif kind in ("ABCNote", "ABCChord") and not grace:
            started = True
            ql = tok.quarterLength
            if not ql:
                continue
            dur = Fraction(ql).limit_denominator(64)
            if triplet:
                dur, triplet = dur * Fraction(2, 3), triplet - 1
            if tok.isRest:
                bars[-1].append((None, dur))
                continue
            note = tok
            if kind == "ABCChord":
                subs = [s for s in tok.subTokens if type(s).__name__ == "ABCNote" and s.pitchName]
                if not subs:
                    continue
                note = max(subs, key=lambda s: _midi(s.pitchName))
            name = note.pitchName
            if not name:
                continue
            plain = name[0] + re.sub(r"\D", "", name)  # "C#5", "Cn5" (natural), "C5" -> "C5"
            if _ACC.match(note.src.lstrip("(.~HLMOPSTuv!+")):
                held[plain] = name
            else:
                name = held.get(plain, name)
            bars[-1].append((_midi(name), dur))
    if not bars[-1]:
        bars.pop()
    if metre is None:
        raise _Skip("no metre")
    if key is None:
        raise _Skip("no key")
    if len(bars) < 2:
        raise _Skip("fewer than two bars")
    full = metre_length(metre)
    bars = _join_split_bars(bars, full)
    for i, bar in enumerate(bars):
        total = bar_sum(bar)
        if total > full or (0 < i < len(bars) - 1 and total != full):
            raise _Skip(f"bar {i + 1} holds {total} quarter notes, not {full} ({metre})")
    return Tune(metre, key[0], key[1], bars, title)


def _join_split_bars(bars: list[list[Note]], full: Fraction) -> list[list[Note]]:
    """Two neighbouring short bars that add up to one (the end of a section and the next one's pickup,
    written on either side of a double bar or repeat sign) as one bar."""
    out: list[list[Note]] = []
    for bar in bars:
        if len(out) > 1 and bar_sum(out[-1]) < full and bar_sum(out[-1]) + bar_sum(bar) == full:
            out[-1] = out[-1] + bar
        else:
            out.append(bar)
    return out
