"""Four-voice chorales as sixteenth-note frames, in the spirit of BachBot (Liang 2016).

Every frame (a sixteenth note) is written soprano, alto, tenor, bass: ``nNN`` a note of MIDI pitch
NN that starts in this frame, ``hNN`` one held from the frame before, ``r`` silence. A frame that
begins a bar is preceded by ``|``, one on which the soprano has a fermata by ``F``::

    <s> F n67 n62 n59 n43 h67 h62 h59 h43 ... | n69 ... </s>

The condition, as for folk tunes, is ``(metre, mode, tonic)``; transposition moves every chorale
to the tonic C.
"""

from __future__ import annotations

import dataclasses
from fractions import Fraction

from rnnkit.errors import RnnkitError
from rnnkit.music.tune import shift_to_c

BOS, EOS, BAR, FERMATA, REST = "<s>", "</s>", "|", "F", "r"
VOICES = ("soprano", "alto", "tenor", "bass")
FRAME = Fraction(1, 4)  # quarter notes per frame: a sixteenth
#: the usual ranges of the four voices (MIDI), for the "voices in range" share
RANGES = {"soprano": (60, 81), "alto": (53, 74), "tenor": (48, 69), "bass": (36, 64)}

Voice = tuple["int | None", bool]  # (midi or None, starts here)


@dataclasses.dataclass
class Frame:
    voices: list[Voice]
    fermata: bool = False
    bar: bool = False


@dataclasses.dataclass
class Chorale:
    metre: str
    tonic: str
    mode: str
    frames: list[Frame]
    title: str = ""
    source: str = ""

    def transposed(self, semitones: int, tonic: str) -> Chorale:
        frames = [Frame([(None if m is None else m + semitones, s) for m, s in f.voices], f.fermata, f.bar)
                  for f in self.frames]
        return dataclasses.replace(self, frames=frames, tonic=tonic)


def transpose_to_c(ch: Chorale) -> Chorale:
    return ch.transposed(shift_to_c(ch.tonic), "C")


def voice_token(v: Voice) -> str:
    midi, start = v
    return REST if midi is None else f"{'n' if start else 'h'}{midi}"


def is_voice(tok: str) -> bool:
    return tok == REST or (tok[:1] in ("n", "h") and tok[1:].isdigit())


def encode(ch: Chorale) -> list[str]:
    out = [BOS]
    for i, f in enumerate(ch.frames):
        if f.bar and i:
            out.append(BAR)
        if f.fermata:
            out.append(FERMATA)
        out += [voice_token(v) for v in f.voices]
    out.append(EOS)
    return out


def decode(tokens: list[str], metre: str, mode: str, tonic: str, title: str = "") -> Chorale:
    """The chorale of ``tokens``; a trailing incomplete frame is dropped, a held note with nothing to
    hold becomes a new note."""
    frames: list[Frame] = []
    voices: list[Voice] = []
    bar, fermata = True, False
    for i, tok in enumerate(tokens):
        if tok == BOS and i == 0:
            continue
        if tok == EOS:
            break
        if tok == BAR:
            bar = True
        elif tok == FERMATA:
            fermata = True
        elif is_voice(tok):
            midi = None if tok == REST else int(tok[1:])
            start = tok.startswith("n")
            k = len(voices)
            prev = frames[-1].voices[k] if frames else (None, False)
            if not start and midi is not None and prev[0] != midi:
                start = True
            voices.append((midi, start))
            if len(voices) == 4:
                frames.append(Frame(voices, fermata, bar))
                voices, bar, fermata = [], False, False
        else:
            raise RnnkitError(f"token {i}: {tok!r} is not a chorale token")
    return Chorale(metre, tonic, mode, frames, title)


def from_score(score, where: str) -> Chorale:
    """A music21 score of four parts (soprano first) as frames; an error for any other score."""
    from music21 import expressions, meter

    parts = list(score.parts)
    if len(parts) != 4:
        raise RnnkitError(f"{where}: {len(parts)} parts, not four")
    ts = next(iter(score.recurse().getElementsByClass(meter.TimeSignature)), None)
    if ts is None:
        raise RnnkitError(f"{where}: no time signature")
    key = score.analyze("key")
    length = Fraction(score.highestTime).limit_denominator(16)
    n = int(length / FRAME)
    if n < 4:
        raise RnnkitError(f"{where}: too short")
    grid: list[list[Voice]] = [[(None, False)] * 4 for _ in range(n)]
    fermatas = [False] * n
    for k, part in enumerate(parts):
        for el in part.flatten().notes:
            start = int(Fraction(el.offset).limit_denominator(64) / FRAME)
            stop = int(round(Fraction(el.offset + el.quarterLength).limit_denominator(64) / FRAME))
            midi = max(p.midi for p in el.pitches)
            tied_on = el.tie is not None and el.tie.type in ("continue", "stop")
            for t in range(start, min(max(stop, start + 1), n)):
                grid[t][k] = (midi, t == start and not tied_on)
            if k == 0 and any(isinstance(e, expressions.Fermata) for e in el.expressions) and start < n:
                fermatas[start] = True
    bars = {int(Fraction(m.offset).limit_denominator(64) / FRAME) for m in parts[0].getElementsByClass("Measure")}
    frames = [Frame(grid[t], fermatas[t], t in bars) for t in range(n)]
    return Chorale(f"{ts.numerator}/{ts.denominator}", key.tonic.name, key.mode, frames,
                   str(score.metadata.title or "") if score.metadata else "")


def to_score(ch: Chorale):
    """A music21 score of four parts from the frames (held frames joined into notes)."""
    from music21 import clef, expressions, key, meter, note, stream

    score = stream.Score()
    for k, name in enumerate(VOICES):
        part = stream.Part(id=name)
        part.partName = name.capitalize()
        part.append(clef.TrebleClef() if k < 2 else clef.BassClef())
        part.append(key.Key(ch.tonic, ch.mode if ch.mode in ("major", "minor") else "major"))
        part.append(meter.TimeSignature(ch.metre))
        events: list[tuple[int | None, int, bool]] = []  # (midi, frames, fermata)
        for f in ch.frames:
            midi, start = f.voices[k]
            if events and not start and events[-1][0] == midi:
                events[-1] = (midi, events[-1][1] + 1, events[-1][2])
            else:
                events.append((midi, 1, f.fermata and k == 0))
        for midi, frames, ferm in events:
            el = note.Rest() if midi is None else note.Note(midi)
            el.quarterLength = float(frames * FRAME)
            if ferm:
                el.expressions.append(expressions.Fermata())
            part.append(el)
        part.makeMeasures(inPlace=True)
        part.makeTies(inPlace=True)
        score.insert(0, part)
    return score
