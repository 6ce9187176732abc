"""A small synthesiser in numpy: notes to a 16-bit mono WAV anyone can play, no system synthesizer needed.

Each note is additive: six harmonics of amplitude ``1 / k**1.3``, each decaying as
``exp(-t (1.5 + k) / duration_scale)`` like a plucked string, with a 5 ms attack and a 30 ms release
so that notes do not click. Notes are mixed and the result is normalised to -1 dBFS.
"""

from __future__ import annotations

import wave
from collections.abc import Iterable
from pathlib import Path

import numpy as np

RATE = 22_050


def midi_hz(midi: int) -> float:
    return 440.0 * 2 ** ((midi - 69) / 12)


def render(notes: Iterable[tuple[float, float, int]], rate: int = RATE, harmonics: int = 6) -> np.ndarray:
    """Samples (float, -1..1) of ``notes``: ``(start seconds, length seconds, midi)`` each."""
    notes = [(float(s), float(d), int(m)) for s, d, m in notes if d > 0]
    end = max((s + d for s, d, _ in notes), default=0.0) + 0.5
    out = np.zeros(int(end * rate) + 1)
    attack, release = int(0.005 * rate), int(0.03 * rate)
    for start, dur, midi in notes:
        n = int(dur * rate) + release
        t = np.arange(n) / rate
        f = midi_hz(midi)
        tone = np.zeros(n)
        for k in range(1, harmonics + 1):
            if k * f >= rate / 2:
                break
            tone += np.sin(2 * np.pi * k * f * t) * np.exp(-t * (1.5 + k)) / k ** 1.3
        env = np.ones(n)
        env[:attack] = np.linspace(0, 1, attack)
        env[-release:] *= np.linspace(1, 0, release)
        i = int(start * rate)
        out[i : i + n] += (tone * env)[: len(out) - i]
    peak = np.abs(out).max()
    return out / peak * 0.89 if peak > 0 else out


def write_wav(path: str | Path, samples: np.ndarray, rate: int = RATE) -> Path:
    """``samples`` (-1..1) as a 16-bit mono PCM WAV file (standard library ``wave``)."""
    path = Path(path)
    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return path


def events_of_score(score, qpm: float) -> list[tuple[float, float, int]]:
    """``(start s, length s, midi)`` of every note of a music21 score at ``qpm`` quarter notes per minute
    (tied notes joined: the sound of a tie continues)."""
    sec = 60.0 / qpm
    out = []
    for part in getattr(score, "parts", None) or [score]:
        for n in part.flatten().stripTies().notes:
            for p in n.pitches:
                out.append((float(n.offset) * sec, float(n.quarterLength) * sec, int(p.midi)))
    return out
