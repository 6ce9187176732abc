"""WAV audio to feature sequences: PCM read with the standard library's ``wave``, log-mel and MFCC in torch.

Pipeline for one recording of ``N`` samples at rate ``R`` (every step a tensor op)::

    x      = PCM / full scale, pre-emphasised x_t - 0.97 x_{t-1}                    (N,)
    S      = |STFT(x)|^2, Hann window win_ms, hop hop_ms, FFT size next power of 2  (F, n_fft/2 + 1)
    logmel = log(S M^T + 1e-6), M the triangular mel filterbank (HTK mel scale)     (F, n_mels)
    mfcc   = logmel D^T, D the first n_mfcc rows of the orthonormal DCT-II          (F, n_mfcc)
    (deltas: the features' regression slope over +-2 frames, appended)              (F, 2 * n)

Recordings must have the configured sample rate and one channel: a file with another rate or
channel count is an error naming it (resampling would silently change the features the model
was trained on; convert first, e.g. ``sox in.wav -r 8000 -c 1 out.wav``). 8-, 16-, 24- and 32-bit
integer PCM are read; other encodings (float, compressed) are an error.

Collections of recordings are a directory of ``.wav`` files or a tar archive of them (``.tar``,
``.tar.gz``, ``.tar.xz``, ...; read without extracting), e.g. the Free Spoken Digit Dataset's
``recordings.tar.xz`` with names ``{digit}_{speaker}_{index}.wav``.
"""

from __future__ import annotations

import dataclasses
import io
import math
import struct
import tarfile
import wave
from collections.abc import Iterator
from pathlib import Path

import torch
from torch import Tensor

from rnnkit.config import field
from rnnkit.errors import RnnkitError

FEATURES = ("mfcc", "logmel")
PRE_EMPHASIS = 0.97
LOG_FLOOR = 1e-6  # keeps log() finite in silence; about -138 dB below full scale in power


@dataclasses.dataclass
class AudioConfig:
    """How recordings become feature sequences; saved with a run so prediction computes the same features."""

    sample_rate: int = field(8000, "wav: the sample rate every recording must have (Hz)")
    features: str = field("mfcc", "wav: features per frame", choices=FEATURES)
    n_mels: int = field(40, "wav: mel filterbank channels")
    n_mfcc: int = field(13, "wav: MFCC coefficients kept (features mfcc)")
    win_ms: float = field(25.0, "wav: analysis window (ms)")
    hop_ms: float = field(10.0, "wav: hop between frames (ms)")
    deltas: bool = field(True, "wav: append the features' first differences (delta coefficients)")

    def validate(self) -> None:
        for name in ("sample_rate", "n_mels", "n_mfcc"):
            if getattr(self, name) < 1:
                raise RnnkitError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}")
        if self.n_mfcc > self.n_mels:
            raise RnnkitError(f"--n-mfcc ({self.n_mfcc}) can't exceed --n-mels ({self.n_mels})")
        if not 0 < self.hop_ms <= self.win_ms:
            raise RnnkitError(f"--hop-ms must be in (0, --win-ms], got {self.hop_ms} and {self.win_ms}")
        if round(self.sample_rate * self.win_ms / 1000) < 2:
            raise RnnkitError(f"--win-ms {self.win_ms} is under two samples at {self.sample_rate} Hz")

    @property
    def size(self) -> int:
        """Features per frame ``I``."""
        n = self.n_mfcc if self.features == "mfcc" else self.n_mels
        return 2 * n if self.deltas else n


def read_wav(source: str | Path | bytes, name: str = "", sample_rate: int | None = None,
             channels: int | None = 1) -> Tensor:
    """The samples of a PCM WAV file as float32 ``(N,)`` in [-1, 1] (mono) or ``(N, channels)``.

    ``source``: a path or the file's bytes (``name`` then labels messages). A different sample
    rate than ``sample_rate`` or channel count than ``channels`` (None: any) is an error.
    """
    name = name or str(source)
    try:
        with wave.open(io.BytesIO(source) if isinstance(source, bytes) else str(source), "rb") as w:
            ch, width, rate, n = w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()
            raw = w.readframes(n)
    except FileNotFoundError:
        raise RnnkitError(f"{name}: no such file") from None
    except (wave.Error, EOFError, RuntimeError, ValueError, OverflowError, struct.error) as e:
        # a damaged header makes the wave module fail in many ways, EOFError and RuntimeError without a message
        empty = len(source) == 0 if isinstance(source, bytes) else Path(source).stat().st_size == 0
        why = str(e) or ("the file is empty" if empty else "its header is cut short")
        raise RnnkitError(f"{name}: not a PCM WAV file ({why})") from None
    if sample_rate is not None and rate != sample_rate:
        raise RnnkitError(f"{name}: sample rate {rate} Hz, expected {sample_rate} Hz; resample it first (e.g. "
                          f"sox in.wav -r {sample_rate} out.wav) or train with --sample-rate {rate}")
    if channels is not None and ch != channels:
        raise RnnkitError(f"{name}: {ch} channels, expected {channels}; mix it down first (e.g. sox in.wav -c 1 "
                          f"out.wav)")
    if ch < 1 or width < 1:
        raise RnnkitError(f"{name}: not a PCM WAV file ({ch} channels of {8 * width}-bit samples in its header)")
    frames = len(raw) // (width * ch)
    if frames == 0:
        raise RnnkitError(f"{name}: no samples")
    raw = raw[: frames * width * ch]
    if width == 1:  # 8-bit WAV is unsigned
        x = (torch.frombuffer(bytearray(raw), dtype=torch.uint8).float() - 128) / 128
    elif width == 2:
        x = torch.frombuffer(bytearray(raw), dtype=torch.int16).float() / 32768
    elif width == 3:  # 24-bit little-endian: widen to 32 bits, keep the sign through the top byte
        b = torch.frombuffer(bytearray(raw), dtype=torch.uint8).view(-1, 3).long()
        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        x = (torch.where(v >= 2**23, v - 2**24, v)).float() / 2**23
    elif width == 4:
        x = torch.frombuffer(bytearray(raw), dtype=torch.int32).double().div(2**31).float()
    else:
        raise RnnkitError(f"{name}: {8 * width}-bit samples are not supported (8, 16, 24 or 32-bit PCM)")
    return x.view(frames, ch).squeeze(1) if ch == 1 else x.view(frames, ch)


def hz_to_mel(f: Tensor) -> Tensor:
    """HTK mel scale: ``2595 log10(1 + f / 700)``."""
    return 2595 * torch.log10(1 + f / 700)


def mel_to_hz(m: Tensor) -> Tensor:
    return 700 * (10 ** (m / 2595) - 1)


VTLP_CUTOFF = 0.8  # the warp is linear up to this share of the Nyquist frequency, then meets it


def vtlp_warp(f: Tensor, alpha: float, nyquist: float) -> Tensor:
    """Jaitly & Hinton 2013's vocal tract length warp of frequencies ``f`` (Hz): ``f / alpha`` up to a
    boundary, then the straight line that keeps ``nyquist`` fixed (so no band leaves the spectrum).

    Applied to the filterbank's edges: a voice through the warped filters gives the features the
    unwarped filters give for that voice with its formants ``alpha`` times higher.
    """
    if alpha == 1.0:
        return f
    b = VTLP_CUTOFF * nyquist * min(alpha, 1.0)  # the boundary in warped frequency
    low = f / alpha
    # above the boundary: from (b, b / alpha) to (nyquist, nyquist)
    high = b / alpha + (f - b) * (nyquist - b / alpha) / (nyquist - b)
    return torch.where(f <= b, low, high)


def mel_filterbank(n_mels: int, n_fft: int, sample_rate: int, fmin: float = 0.0, fmax: float | None = None,
                   warp: float = 1.0) -> Tensor:
    """``(n_mels, n_fft // 2 + 1)`` triangular filters, centres equally spaced in mel between ``fmin`` and
    ``fmax`` (default: half the sample rate); each rises from its left neighbour's centre to 1 at its own
    and falls to 0 at its right neighbour's. ``warp`` != 1: the edges moved by :func:`vtlp_warp`."""
    fmax = sample_rate / 2 if fmax is None else fmax
    edges = mel_to_hz(torch.linspace(float(hz_to_mel(torch.tensor(fmin))), float(hz_to_mel(torch.tensor(fmax))),
                                     n_mels + 2, dtype=torch.float64))
    edges = vtlp_warp(edges, warp, sample_rate / 2)
    bins = torch.linspace(0, sample_rate / 2, n_fft // 2 + 1, dtype=torch.float64)
    left, centre, right = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    up = (bins - left) / (centre - left)
    down = (right - bins) / (right - centre)
    return torch.clamp(torch.minimum(up, down), min=0).float()


def dct_matrix(n_out: int, n_in: int) -> Tensor:
    """``(n_out, n_in)``: the first ``n_out`` rows of the orthonormal DCT-II of size ``n_in``."""
    k = torch.arange(n_out, dtype=torch.float64)[:, None]
    n = torch.arange(n_in, dtype=torch.float64)[None, :]
    d = torch.cos(math.pi / n_in * (n + 0.5) * k) * math.sqrt(2 / n_in)
    d[0] /= math.sqrt(2)
    return d.float()


def deltas(feats: Tensor, width: int = 2) -> Tensor:
    """``(F, n)`` regression slopes ``sum_k k (c_{t+k} - c_{t-k}) / (2 sum_k k^2)``, edges repeated."""
    F_ = feats.shape[0]
    padded = torch.cat([feats[:1].expand(width, -1), feats, feats[-1:].expand(width, -1)])
    num = sum(k * (padded[width + k : width + k + F_] - padded[width - k : width - k + F_])
              for k in range(1, width + 1))
    return num / (2 * sum(k * k for k in range(1, width + 1)))


class FeatureExtractor:
    """Computes the features of :class:`AudioConfig` for one recording: ``__call__(samples (N,)) -> (F, I)``."""

    def __init__(self, cfg: AudioConfig) -> None:
        cfg.validate()
        self.cfg = cfg
        self.win = max(2, round(cfg.sample_rate * cfg.win_ms / 1000))
        self.hop = max(1, round(cfg.sample_rate * cfg.hop_ms / 1000))
        self.n_fft = 1 << (self.win - 1).bit_length()
        self.window = torch.hann_window(self.win, periodic=True)
        self.mel = mel_filterbank(cfg.n_mels, self.n_fft, cfg.sample_rate)
        self._warped: dict[float, Tensor] = {1.0: self.mel}
        self.dct = dct_matrix(cfg.n_mfcc, cfg.n_mels)

    def filterbank(self, warp: float = 1.0) -> Tensor:
        """The mel filterbank, warped by ``warp`` (:func:`vtlp_warp`; built once per value)."""
        if warp not in self._warped:
            self._warped[warp] = mel_filterbank(self.cfg.n_mels, self.n_fft, self.cfg.sample_rate, warp=warp)
        return self._warped[warp]

    def __call__(self, x: Tensor, warp: float = 1.0) -> Tensor:
        """Features of ``x (N,)``; ``warp``: vocal tract length perturbation of the filterbank (training)."""
        x = torch.cat([x[:1], x[1:] - PRE_EMPHASIS * x[:-1]])
        if x.shape[0] < self.n_fft:  # a very short recording still gives one frame
            x = torch.nn.functional.pad(x, (0, self.n_fft - x.shape[0]))
        spec = torch.stft(x, self.n_fft, self.hop, self.win, self.window, center=True, pad_mode="constant",
                          return_complex=True)  # (n_fft/2 + 1, F)
        power = spec.abs().pow(2).T  # (F, n_fft/2 + 1)
        feats = torch.log(power @ self.filterbank(warp).T + LOG_FLOOR)  # (F, n_mels)
        if self.cfg.features == "mfcc":
            feats = feats @ self.dct.T  # (F, n_mfcc)
        if self.cfg.deltas:
            feats = torch.cat([feats, deltas(feats)], dim=1)
        return feats


def wav_files(path: str | Path) -> Iterator[tuple[str, bytes]]:
    """``(name, bytes)`` of every ``.wav`` in a directory (sorted) or a tar archive (archive order)."""
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.suffix.lower() == ".wav" and p.is_file())
        if not files:
            raise RnnkitError(f"{path}: no .wav files in this directory")
        for p in files:
            yield str(p), p.read_bytes()
        return
    if not path.is_file():
        what = "file" if path.suffix.lower() == ".wav" else "file, directory or archive"
        raise RnnkitError(f"{path}: no such {what}")
    if path.suffix.lower() == ".wav":
        yield str(path), path.read_bytes()
        return
    try:
        with tarfile.open(path, "r:*") as tar:
            found = False
            for member in tar:
                if member.isfile() and member.name.lower().endswith(".wav"):
                    f = tar.extractfile(member)
                    if f is not None:
                        found = True
                        yield f"{path}:{member.name}", f.read()
    except tarfile.ReadError:  # its text lists every compression tried, over several lines: no help here
        raise RnnkitError(f"{path}: not a .wav file, a directory of .wav files or a tar archive of them") from None
    except (tarfile.TarError, EOFError, OSError) as e:
        why = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise RnnkitError(f"{path}: not a directory of .wav files or a readable tar archive ({why})") from None
    if not found:
        raise RnnkitError(f"{path}: no .wav files in this archive")


def parse_name(name: str) -> tuple[str, int | None]:
    """``(label, index)`` from a file name ``{label}_{...}_{index}.wav`` (FSDD: ``{digit}_{speaker}_{index}``);
    ``index`` is None when the last field is not a number."""
    stem = Path(name.rsplit(":", 1)[-1]).stem
    parts = stem.split("_")
    if len(parts) < 2 or not parts[0]:
        raise RnnkitError(f"{name}: expected a file name {{label}}_..._{{index}}.wav, e.g. 7_jackson_32.wav")
    last = parts[-1]
    return parts[0], int(last) if last.isdigit() else None
