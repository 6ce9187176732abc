"""The corpora: music21's folk tunes and Bach chorales, or a folder of the user's files.

- ``folk``: O'Neill's 1850 collection and Ryan's Mammoth Collection (Irish and Scottish dance
  tunes, ABC), read with music21's ABC tokeniser (:mod:`rnnkit.music.abc`).
- ``essen``: the Essen folk song collection (ABC).
- ``chorales``: the Bach chorales of music21's corpus (MusicXML), four voices.
- a folder: every ``.abc``, ``.mid``/``.midi``, ``.musicxml``/``.mxl``/``.xml`` file in it (recursively),
  read as melodies (the top part of a file with several). A file music21 can't read is named, skipped and
  counted (or, with ``strict``, stops the run); a folder with no readable tune is an error.

Nothing is downloaded: music21's wheel ships its corpus. Reading a built-in corpus takes a while
(chorales: minutes), so its pieces are cached as JSON under ``$RNNKIT_CACHE`` (default
``~/.cache/rnnkit``), keyed by the corpus, music21's version and this reader's version.

The split is fixed and seeded: duplicates (the same notes after moving to the tonic C) are
removed first, keeping the first; then each piece goes by the SHA-1 of ``"{seed}:{its tokens}"``:
0-9 (mod 100) to test, 10-19 to validation, the rest to training. Adding pieces to a corpus never
moves another piece between splits.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

from rnnkit.cache import cache_dir
from rnnkit.errors import RnnkitError
from rnnkit.music import chorale as chorale_mod
from rnnkit.music import folk
from rnnkit.music.abc import read_abc
from rnnkit.music.tune import Tune, bar_sum, normal_metre, parse_key

READER_VERSION = 2
BUILTIN = {"folk": ("oneills1850", "ryansMammoth"), "essen": ("essenFolksong",), "chorales": ("bach",)}
SUFFIXES = {".abc", ".mid", ".midi", ".musicxml", ".mxl", ".xml"}


@dataclasses.dataclass
class Corpus:
    """The pieces of a corpus and what was left out while reading it."""

    kind: str  # "folk" (melodies) or "chorales"
    pieces: list[Any]
    skipped_files: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    skipped_pieces: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    files: int = 0


def kind_of(spec: str) -> str:
    return "chorales" if spec == "chorales" else "folk"


def load(spec: str, strict: bool = False, say: Callable[[str], None] = lambda s: None,
         limit: int = 0, flag: str = "--corpus") -> Corpus:
    """The corpus ``spec`` names: ``folk``, ``essen``, ``chorales``, a folder or one music file (see the module
    docstring). ``limit`` > 0 reads only that many files of a built-in corpus (tests); ``flag`` is the option
    the errors name."""
    if spec in BUILTIN:
        return _builtin(spec, say, limit)
    path = Path(spec)
    if not path.exists():
        raise RnnkitError(f"{flag} {spec}: not one of {', '.join(BUILTIN)}, and no such folder or file")
    return _folder(path, strict, say, flag)


def _music21_version() -> str:
    try:
        import music21
    except ImportError:
        raise RnnkitError("music needs music21: pip install 'rnnkit[music]'") from None
    return music21.__version__


def _cache_dir() -> Path:
    return cache_dir("music")


def _builtin(spec: str, say: Callable[[str], None], limit: int) -> Corpus:
    version = _music21_version()
    from music21 import corpus as m21corpus

    paths = sorted(p for name in BUILTIN[spec] for p in m21corpus.getComposer(name))
    if spec == "chorales":  # the chorales proper (music21 also files some cantatas and others under bach)
        paths = [p for p in paths if Path(p).suffix in (".mxl", ".xml", ".musicxml")]
    if limit:
        paths = paths[:limit]
    if not paths:
        raise RnnkitError(f"music21 {version} holds no files of its {'/'.join(BUILTIN[spec])} corpus")
    cache = _cache_dir() / f"{spec}-{len(paths)}-m21-{version}-v{READER_VERSION}.json"
    if cache.is_file():
        try:
            return _from_json(json.loads(cache.read_text(encoding="utf-8")))
        except (ValueError, KeyError, TypeError):
            say(f"note: the cache {cache} is unreadable; reading the corpus again")
    say(f"reading music21's {spec} corpus ({len(paths)} files; cached in {cache} afterwards)")
    found = _read_files([Path(p) for p in paths], kind_of(spec), strict=False, say=say)
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".tmp")
        tmp.write_text(json.dumps(_to_json(found)), encoding="utf-8")
        tmp.replace(cache)
    except OSError as e:
        say(f"note: could not cache the corpus in {cache} ({e})")
    return found


def _folder(path: Path, strict: bool, say: Callable[[str], None], flag: str = "--corpus") -> Corpus:
    _music21_version()
    files = sorted(p for p in (path.rglob("*") if path.is_dir() else [path]) if p.suffix.lower() in SUFFIXES)
    if not files and not path.is_dir():
        raise RnnkitError(f"{flag} {path}: not a music file (.abc, .mid, .midi, .musicxml, .mxl or .xml) nor a "
                          f"folder of them")
    if not files:
        raise RnnkitError(f"{flag} {path}: no .abc, .mid, .midi, .musicxml, .mxl or .xml file in it")
    found = _read_files(files, "folk", strict, say)
    if not found.pieces:
        why = "; ".join(f"{w}: {r}" for w, r in (found.skipped_files + found.skipped_pieces)[:3])
        raise RnnkitError(f"{flag} {path}: none of its {len(files)} files holds a tune rnnkit can read ({why})")
    return found


def _read_files(files: list[Path], kind: str, strict: bool, say: Callable[[str], None]) -> Corpus:
    from rnnkit.music.quiet import music21_warnings

    with music21_warnings(say, f"reading {len(files)} files"):
        return _read_each(files, kind, strict, say)


def _read_each(files: list[Path], kind: str, strict: bool, say: Callable[[str], None]) -> Corpus:
    out = Corpus(kind, [], files=len(files))
    for i, p in enumerate(files):
        try:
            if kind == "chorales":
                out.pieces.append(_read_chorale(p))
            elif p.suffix.lower() == ".abc":
                tunes, skipped = read_abc(p.read_text(encoding="utf-8", errors="replace"), str(p))
                out.pieces += tunes
                out.skipped_pieces += skipped
            else:
                out.pieces.append(read_melody(p))
        except RnnkitError as e:
            if strict:
                raise RnnkitError(f"{e} (--strict stops at the first unreadable file)") from None
            msg = str(e)
            out.skipped_files.append((str(p), msg[len(str(p)) + 2:] if msg.startswith(str(p)) else msg))
        if (i + 1) % 100 == 0:
            say(f"  {i + 1}/{len(files)} files, {len(out.pieces)} pieces")
    if out.skipped_files:
        say(f"skipped {len(out.skipped_files)} of {len(files)} files music21 could not read as music, e.g. "
            f"{out.skipped_files[0][0]}: {out.skipped_files[0][1]}")
    return out


def _read_chorale(p: Path) -> chorale_mod.Chorale:
    from music21 import converter

    try:
        score = converter.parse(str(p))
    except Exception as e:
        raise RnnkitError(f"{p}: music21 cannot read it ({type(e).__name__}: {str(e)[:100]})") from None
    ch = chorale_mod.from_score(score, str(p))
    ch.source = Path(p).name
    return ch


def read_melody(p: Path) -> Tune:
    """A MIDI or MusicXML file's top part as a tune (its first metre and key; bars as its measures)."""
    from music21 import converter, key, meter

    try:
        score = converter.parse(str(p))
    except Exception as e:
        raise RnnkitError(f"{p}: music21 cannot read it ({type(e).__name__}: {str(e)[:100]})") from None
    parts = list(getattr(score, "parts", [])) or [score]
    part = parts[0]
    ts = next(iter(part.recurse().getElementsByClass(meter.TimeSignature)), None)
    metre = normal_metre(ts.ratioString) if ts is not None else "4/4"
    k = next(iter(part.recurse().getElementsByClass(key.Key)), None) or part.analyze("key")
    tonic, mode = parse_key(f"{k.tonic.name} {k.mode}")
    measured = part.makeMeasures() if not part.getElementsByClass("Measure") else part
    bars = []
    for m in measured.getElementsByClass("Measure"):
        bar = []
        for el in m.notesAndRests:
            d = Fraction(el.quarterLength).limit_denominator(48)
            if d <= 0:
                continue
            bar.append((None if el.isRest else max(pp.midi for pp in el.pitches), d))
        if bar:
            bars.append(bar)
    if len(bars) < 2:
        raise RnnkitError(f"{p}: fewer than two bars of notes")
    return Tune(metre, tonic, mode, bars, str(score.metadata.title or "") if score.metadata else "", str(p))


# -- cache -----------------------------------------------------------------------------
def _to_json(c: Corpus) -> dict[str, Any]:
    def piece(x: Any) -> dict[str, Any]:
        if isinstance(x, Tune):
            return {"metre": x.metre, "tonic": x.tonic, "mode": x.mode, "title": x.title, "source": x.source,
                    "bars": [[[m, str(d)] for m, d in bar] for bar in x.bars]}
        return {"metre": x.metre, "tonic": x.tonic, "mode": x.mode, "title": x.title, "source": x.source,
                "frames": [[[list(v) for v in f.voices], f.fermata, f.bar] for f in x.frames]}

    return {"kind": c.kind, "files": c.files, "pieces": [piece(x) for x in c.pieces],
            "skipped_files": c.skipped_files, "skipped_pieces": c.skipped_pieces}


def _from_json(d: dict[str, Any]) -> Corpus:
    pieces: list[Any] = []
    for x in d["pieces"]:
        if "bars" in x:
            bars = [[(m, Fraction(s)) for m, s in bar] for bar in x["bars"]]
            pieces.append(Tune(x["metre"], x["tonic"], x["mode"], bars, x["title"], x["source"]))
        else:
            frames = [chorale_mod.Frame([(m, bool(s)) for m, s in v], bool(f), bool(b)) for v, f, b in x["frames"]]
            pieces.append(chorale_mod.Chorale(x["metre"], x["tonic"], x["mode"], frames, x["title"], x["source"]))
    return Corpus(d["kind"], pieces, [tuple(s) for s in d["skipped_files"]],
                  [tuple(s) for s in d["skipped_pieces"]], d["files"])


# -- tokens and the split ----------------------------------------------------------------
@dataclasses.dataclass
class Piece:
    """A piece as the model sees it: its condition, its tokens, where it came from."""

    condition: tuple[str, str, str]  # (metre, mode, tonic)
    tokens: list[str]
    source: str = ""


def tokens_of(x: Any, transpose: bool) -> Piece:
    mod = chorale_mod if isinstance(x, chorale_mod.Chorale) else folk
    y = mod.transpose_to_c(x) if transpose else x
    return Piece((y.metre, y.mode, y.tonic), mod.encode(y), x.source)


def split(c: Corpus, transpose: bool, seed: int = 0, say: Callable[[str], None] = lambda s: None
          ) -> dict[str, list[Piece]]:
    """``{"train", "valid", "test"}`` pieces, duplicates removed (see the module docstring)."""
    seen: set[str] = set()
    out: dict[str, list[Piece]] = {"train": [], "valid": [], "test": []}
    dupes = 0
    for x in c.pieces:
        key = " ".join(tokens_of(x, True).tokens)
        if key in seen:
            dupes += 1
            continue
        seen.add(key)
        h = int(hashlib.sha1(f"{seed}:{key}".encode()).hexdigest(), 16) % 100
        out["test" if h < 10 else "valid" if h < 20 else "train"].append(tokens_of(x, transpose))
    if dupes:
        say(f"removed {dupes} duplicate pieces (the same notes after moving to the tonic C)")
    return out


def check_bars(t: Tune) -> bool:
    """Every bar holds the metre's length, but a pickup first bar and a last bar that completes it."""
    full = t.bar_length
    sums = [bar_sum(b) for b in t.bars]
    if not sums or any(s != full for s in sums[1:-1]) or any(s > full or s <= 0 for s in sums):
        return False
    if len(sums) == 1:
        return sums[0] == full
    return sums[-1] == full or sums[0] + sums[-1] == full
