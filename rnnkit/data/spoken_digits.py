"""Connected spoken digits composed from real recordings, and a user's own transcribed recordings.

**Connected digits** (in the manner of TIDIGITS): an utterance is 1-7 recordings of single digits by
one speaker of the Free Spoken Digit Dataset (``{digit}_{speaker}_{index}.wav``, 8 kHz), joined with
pauses of low noise, its transcript the digits separated by spaces (``"3 1 4"``). Everything is
drawn from a ``torch.Generator``: the same seed composes the same utterances. Two protocols split
the *recordings* before any utterance is composed, so no test recording is ever heard in training:

- ``recordings``: FSDD's usual split: indices 0-4 of every speaker and digit are test, 5-9
  validation, the rest (10-49) training; every speaker is seen in training (an easier task);
- ``speaker:NAME``: every recording of speaker NAME is test (the speaker-independent task), every
  recording of the next speaker in alphabetical order (cyclically) validation, so that what is
  chosen on validation is chosen for a voice never heard too; the other four speakers train.
  ``valid_speaker`` names another validation speaker, or ``"none"``: all the other speakers train
  (leave one speaker out) and their recordings 5-9 are validation: seen voices, which say little
  about an unseen one, so such a run keeps its last checkpoint rather than choosing by them.

**A user's recordings**: a folder (or tar archive) of WAV files and a transcript TSV
``file<TAB>text`` naming them (relative to the TSV's folder, or as the archive names them);
character-level targets, any symbols.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch
from torch import Tensor

from rnnkit.data import audio
from rnnkit.errors import RnnkitError

PROTOCOLS = ("recordings", "speaker:NAME")
FSDD_RATE = 8000
VALID_INDICES = range(5, 10)  # validation recordings by index: --protocol recordings and --valid-speaker none


@dataclasses.dataclass
class Recording:
    """One single-digit recording: its samples ``(N,)``, the digit and the speaker."""

    samples: Tensor
    digit: str
    speaker: str
    index: int


@dataclasses.dataclass
class Utterance:
    """A composed utterance: samples ``(N,)``, transcript, speaker, and where each digit ends (seconds)."""

    samples: Tensor
    text: str
    speaker: str
    ends: list[float]


def load_fsdd(path: str | Path) -> list[Recording]:
    """Every recording of FSDD's ``recordings.tar.xz`` (or a folder of its WAV files)."""
    out = []
    for name, raw in audio.wav_files(path):
        digit, index = audio.parse_name(name)
        stem = Path(name.rsplit(":", 1)[-1]).stem.split("_")
        if not digit.isdigit() or len(digit) != 1 or index is None or len(stem) != 3:
            raise RnnkitError(f"{name}: expected an FSDD name {{digit}}_{{speaker}}_{{index}}.wav, e.g. "
                              f"7_jackson_32.wav")
        out.append(Recording(audio.read_wav(raw, name, FSDD_RATE), digit, stem[1], index))
    if not out:
        raise RnnkitError(f"{path}: no recordings")
    return out


def split_recordings(recs: list[Recording], protocol: str, valid_speaker: str = "next"
                     ) -> dict[str, list[Recording]]:
    """``{"train", "valid", "test"}`` pools of recordings by ``protocol`` and, for ``speaker:NAME``,
    ``valid_speaker`` (``next``, a name or ``none``; see the module docstring); an empty pool is an
    error that says which and why."""
    pools = _split(recs, protocol, valid_speaker)
    rule = {"train": "index 10 or more", "valid": "index 5-9", "test": "index 0-4"}
    for name, pool in pools.items():
        if not pool:
            by_index = protocol == "recordings" or (name == "valid" and valid_speaker == "none")
            why = rule[name] if by_index else "its speaker"
            raise RnnkitError(f"--protocol {protocol}: no {name} recordings ({why}, from the last '_' field of the "
                              f"name) among the {len(recs)} given; give more recordings or another --protocol "
                              f"(recordings, speaker:NAME)")
    return pools


def _split(recs: list[Recording], protocol: str, valid_speaker: str) -> dict[str, list[Recording]]:
    speakers = sorted({r.speaker for r in recs})
    if protocol == "recordings":
        return {"train": [r for r in recs if r.index >= 10], "valid": [r for r in recs if r.index in VALID_INDICES],
                "test": [r for r in recs if r.index < 5]}
    if protocol.startswith("speaker:"):
        held = protocol.split(":", 1)[1]
        if held not in speakers:
            raise RnnkitError(f"--protocol {protocol}: no speaker {held!r}; the speakers are {', '.join(speakers)}")
        if len(speakers) < 3:
            raise RnnkitError(f"--protocol {protocol}: needs 3 speakers or more (test, validation, training), "
                              f"found {len(speakers)}")
        if valid_speaker == "none":
            rest = [r for r in recs if r.speaker != held]
            return {"train": [r for r in rest if r.index not in VALID_INDICES],
                    "valid": [r for r in rest if r.index in VALID_INDICES],
                    "test": [r for r in recs if r.speaker == held]}
        if valid_speaker == "next":
            valid = speakers[(speakers.index(held) + 1) % len(speakers)]
        elif valid_speaker in speakers and valid_speaker != held:
            valid = valid_speaker
        else:
            raise RnnkitError(f"--valid-speaker {valid_speaker}: expected next, none or a speaker other than the test "
                              f"speaker {held!r} ({', '.join(s for s in speakers if s != held)})")
        return {"train": [r for r in recs if r.speaker not in (held, valid)],
                "valid": [r for r in recs if r.speaker == valid], "test": [r for r in recs if r.speaker == held]}
    raise RnnkitError(f"--protocol must be recordings or speaker:NAME (NAME one of {', '.join(speakers)}), "
                      f"got {protocol!r}")


_SPEED_STEP = 200  # Hz: perturbed rates are multiples of it, so that resampling's filter bank stays small


def perturbed(r: Recording, rate: int, cache: dict[tuple[int, int], Tensor]) -> Tensor:
    """``r``'s samples resampled from ``rate`` Hz to ``FSDD_RATE`` (played faster for ``rate`` > 8000: higher
    pitch, shorter), cached by recording and rate."""
    from rnnkit.data.speech_audio import resample

    key = (id(r), rate)
    if key not in cache:
        cache[key] = r.samples if rate == FSDD_RATE else resample(r.samples, rate, FSDD_RATE)
    return cache[key]


def compose(pool: list[Recording], n: int, gen: torch.Generator, max_digits: int = 7, min_digits: int = 1,
            pause: tuple[float, float] = (0.05, 0.35), noise: float = 0.002, gain_db: float = 0.0,
            speed: float = 0.0, cache: dict[tuple[int, int], Tensor] | None = None) -> list[Utterance]:
    """``n`` utterances from ``pool``: a speaker at random, ``min_digits..max_digits`` of their recordings
    (a digit, then one of its recordings, uniformly), joined by pauses drawn from ``pause`` seconds (also
    before the first and after the last), all over Gaussian noise of standard deviation ``noise``; each
    utterance scaled by a gain drawn uniformly from +-``gain_db`` dB (0: none). ``speed`` > 0: each
    recording played at a speed drawn from [1 - speed, 1 + speed] (Ko et al. 2015's speed perturbation:
    pitch, formants and tempo move together, as between speakers), in steps of 2.5%."""
    cache = {} if cache is None else cache
    steps = int(speed * FSDD_RATE // _SPEED_STEP)
    by_speaker: dict[str, dict[str, list[Recording]]] = {}
    for r in pool:
        by_speaker.setdefault(r.speaker, {}).setdefault(r.digit, []).append(r)
    speakers = sorted(by_speaker)
    if not speakers:
        raise RnnkitError("no recordings to compose utterances from")

    def pick(k: int) -> int:
        return int(torch.randint(k, (1,), generator=gen))

    out = []
    for _ in range(n):
        spk = speakers[pick(len(speakers))]
        digits = sorted(by_speaker[spk])
        count = min_digits + pick(max_digits - min_digits + 1)
        parts, text, ends, t = [], [], [], 0
        for _ in range(count):
            gap = int(FSDD_RATE * (pause[0] + (pause[1] - pause[0]) * float(torch.rand((), generator=gen))))
            parts.append(torch.zeros(gap))
            t += gap
            d = digits[pick(len(digits))]
            recs = by_speaker[spk][d]
            rec = recs[pick(len(recs))]
            x = perturbed(rec, FSDD_RATE + _SPEED_STEP * (pick(2 * steps + 1) - steps), cache) if steps else \
                rec.samples
            parts.append(x)
            t += x.shape[0]
            text.append(d)
            ends.append(t / FSDD_RATE)
        gap = int(FSDD_RATE * (pause[0] + (pause[1] - pause[0]) * float(torch.rand((), generator=gen))))
        parts.append(torch.zeros(gap))
        x = torch.cat(parts)
        x = x + noise * torch.randn(x.shape, generator=gen)
        if gain_db:
            x = x * 10 ** ((2 * float(torch.rand((), generator=gen)) - 1) * gain_db / 20)
        out.append(Utterance(x.clamp(-1, 1), " ".join(text), spk, ends))
    return out


def read_transcripts(tsv: str | Path, recordings: str | Path | None = None) -> list[tuple[str, str]]:
    """``(wav name, text)`` pairs of a ``file<TAB>text`` transcript file. Names are resolved against
    ``recordings`` (a folder or an archive, as :func:`rnnkit.data.audio.wav_files` names its members) or,
    without it, against the TSV's own folder. A line without a tab, an empty text or a file that is not
    there is an error naming the line."""
    from rnnkit.data.parallel import read_lines

    tsv = Path(tsv)
    base = Path(recordings) if recordings else tsv.parent
    pairs = []
    for i, line in enumerate(read_lines(tsv), 1):
        if not line.strip():
            continue
        cols = line.split("\t")
        if len(cols) != 2 or not cols[0].strip():
            raise RnnkitError(f"{tsv}:{i}: expected 'file.wav<TAB>transcript'")
        text = " ".join(cols[1].split())
        if not text:
            raise RnnkitError(f"{tsv}:{i}: the transcript of {cols[0].strip()} is empty")
        name = cols[0].strip()
        if base.is_dir() and not (base / name).is_file():
            raise RnnkitError(f"{tsv}:{i}: {base / name}: no such file")
        pairs.append((str(base / name) if base.is_dir() else name, text))
    if not pairs:
        raise RnnkitError(f"{tsv}: no transcribed recordings")
    return pairs
