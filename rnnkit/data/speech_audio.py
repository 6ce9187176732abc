"""Speech input from real users: resampling, stereo mix-down, and features computed on a live stream.

:mod:`rnnkit.data.audio` insists on the trained sample rate and one channel so a dataset can't silently
change its features. A recogniser facing users' recordings instead converts them here:

* :func:`resample` -- band-limited (Kaiser-windowed sinc, polyphase) rate conversion in torch;
* :func:`load_recording` -- any PCM WAV to mono float32 at the model's rate, silent or too-short
  recordings an error naming the file;
* :class:`StreamingFeatures` -- the frames of :class:`~rnnkit.data.audio.FeatureExtractor` computed
  incrementally as samples arrive, equal to the offline features of the whole signal.
"""

from __future__ import annotations

import io
import math
import wave
from pathlib import Path

import torch
from torch import Tensor

from rnnkit.data.audio import LOG_FLOOR, PRE_EMPHASIS, AudioConfig, FeatureExtractor, read_wav
from rnnkit.errors import RnnkitError

ZERO_CROSSINGS = 32  # sinc lobes kept each side of the centre: sharper transition band for more taps
ROLLOFF = 0.94  # cutoff as a fraction of the lower Nyquist rate: the transition band ends near Nyquist, not past it
KAISER_BETA = 8.6  # stop band about 86 dB down (Kaiser's formula A = beta / 0.1102 + 8.7)
MAX_BANK = 1 << 25  # filter-bank elements: rates without a large common divisor (44101 -> 8000) would need GBs
SILENCE = 1e-4  # peak below this fraction of full scale: nothing but dither or a muted microphone


def _half_width(up: int, down: int) -> int:
    """Input samples each side of a block that the low-pass kernel reaches (``ZERO_CROSSINGS`` lobes)."""
    return math.ceil(ZERO_CROSSINGS * down / (min(up, down) * ROLLOFF))


def _filter_bank(up: int, down: int) -> tuple[Tensor, int]:
    """``(up, 1, 2 * width + down)`` polyphase filters and ``width`` (input samples each side of a block).

    Output sample ``n = q * up + j`` lies at input time ``t = n * down / up = q * down + j * down / up``;
    phase ``j``'s filter holds the low-pass kernel sampled at the input samples ``q * down + k - width``
    (``k`` the tap) relative to that time, so one ``conv1d`` with stride ``down`` gives every phase at once.
    """
    cutoff = min(up, down) * ROLLOFF  # in units where the input rate is ``down``: cycles per input sample * down
    width = _half_width(up, down)
    taps = torch.arange(-width, width + down, dtype=torch.float64) / down  # tap times in input blocks ...
    t = taps[None, :] - torch.arange(up, dtype=torch.float64)[:, None] / up  # ... relative to each phase's output
    t = t * cutoff  # in half-periods of the cutoff: the sinc's zero crossings lie at the integers
    inside = t.abs() <= ZERO_CROSSINGS
    # Kaiser window over +-ZERO_CROSSINGS: I0(beta sqrt(1 - (t/Z)^2)) / I0(beta)
    ratio = (t / ZERO_CROSSINGS).clamp(-1, 1)
    window = torch.special.i0(KAISER_BETA * torch.sqrt(1 - ratio**2)) / torch.special.i0(torch.tensor(KAISER_BETA,
                                                                                                 dtype=torch.float64))
    sinc = torch.where(t == 0, torch.ones_like(t), torch.sin(math.pi * t) / (math.pi * t))
    # cutoff / down: the low-pass gain that keeps a passband tone's amplitude when the rate goes either way
    kernel = torch.where(inside, sinc * window, torch.zeros_like(t)) * (cutoff / down)
    return kernel[:, None, :].float(), width


def resample(x: Tensor, rate_in: int, rate_out: int) -> Tensor:
    """A mono waveform ``(N,)`` at ``rate_in`` Hz resampled to ``rate_out`` Hz: ``(round(N * rate_out / rate_in),)``.

    Method: rational conversion by ``up / down = rate_out / rate_in`` (reduced by their gcd) with a windowed-sinc
    low-pass at ``ROLLOFF`` (0.94) times the lower of the two Nyquist rates, so nothing above the new Nyquist rate
    aliases into the output (downsampling) and no spectral images appear (upsampling). The ideal interpolator
    ``sinc`` is cut to ``ZERO_CROSSINGS`` (32) lobes each side and tapered with a Kaiser window (beta 8.6, about
    86 dB stop band). Written polyphase: the ``up`` phases of the filter are the output channels of one
    ``conv1d`` with stride ``down`` over the zero-padded input (samples outside the signal count as silence),
    so the cost is ``N * up * taps / down`` multiply-adds and nothing is computed at the upsampled rate.
    Equal rates return the input unchanged (as float32).
    """
    if rate_in < 1 or rate_out < 1:
        raise RnnkitError(f"sample rates must be positive, got {rate_in} Hz -> {rate_out} Hz")
    if x.dim() != 1:
        raise RnnkitError(f"resample expects a mono waveform (N,), got shape {tuple(x.shape)}")
    x = x.float()
    if rate_in == rate_out:
        return x
    g = math.gcd(rate_in, rate_out)
    up, down = rate_out // g, rate_in // g
    n_out = round(x.shape[0] * rate_out / rate_in)
    if up * (2 * _half_width(up, down) + down) > MAX_BANK:
        raise RnnkitError(f"can't resample {rate_in} Hz -> {rate_out} Hz: the rates share no large common "
                          f"divisor (ratio {up}/{down}); resample to a rounder rate first")
    if n_out == 0:
        return x.new_zeros(0)
    kernel, width = _filter_bank(up, down)
    padded = torch.nn.functional.pad(x[None, None], (width, width + down))
    out = torch.nn.functional.conv1d(padded, kernel, stride=down)  # (1, up, blocks): phase j of block q
    return out[0].T.reshape(-1)[:n_out].contiguous()


def load_recording(source: str | Path | bytes, name: str, sample_rate: int, *,
                   win_ms: float = AudioConfig.win_ms) -> Tensor:
    """A user's PCM WAV (any rate, any channel count, 8- to 32-bit) as mono float32 ``(N,)`` at ``sample_rate``.

    Channels are mixed down by their mean, then :func:`resample` converts the rate. A silent recording (peak under
    1e-4 of full scale) or one shorter than one ``win_ms`` analysis window is an error naming ``name``, as is a
    file that is not PCM WAV.
    """
    x = read_wav(source, name, sample_rate=None, channels=None)
    rate = _wav_rate(source)
    if x.dim() == 2:
        x = x.mean(dim=1)
    peak = float(x.abs().max())
    if peak < SILENCE:
        raise RnnkitError(f"{name}: the recording is silent (peak {peak:.1e} of full scale)")
    x = resample(x, rate, sample_rate)
    need = max(2, round(sample_rate * win_ms / 1000))
    if x.shape[0] < need:
        raise RnnkitError(f"{name}: {1000 * x.shape[0] / sample_rate:.1f} ms of audio, shorter than one "
                          f"{win_ms:g} ms analysis window")
    return x


def _wav_rate(source: str | Path | bytes) -> int:
    """The sample rate in a WAV header that :func:`read_wav` has already accepted."""
    with wave.open(io.BytesIO(source) if isinstance(source, bytes) else str(source), "rb") as w:
        return w.getframerate()


class StreamingFeatures:
    """The frames of a :class:`FeatureExtractor` computed while samples arrive (a live microphone).

    ``push(chunk)`` returns the frames completed by the samples so far, ``finish()`` the rest at the end of the
    stream (and readies the object for the next one). Concatenated they equal ``extractor(whole_signal)`` for any
    chunking: each frame is computed from the same pre-emphasised samples with the same ops (``torch.stft``,
    power, mel matrix, log, DCT). Deltas need frames from the future, so a config with ``deltas`` is an error.

    Bitwise equality: the FFT gives each frame the same bits whatever the batch, but BLAS (MKL) multiplies a
    matrix of under about 6 rows by other kernels than a taller one, with another summation order (a last-bit
    difference). So frames go through the mel and DCT matrices in batches of at least ``min_batch`` (16) rows,
    padded with zero frames, and none is returned before the stream is known to have ``min_batch`` frames
    (``(min_batch - 1) * hop`` samples, 150 ms at the default 10 ms hop); a shorter stream's frames all come
    from ``finish()`` in one batch, as offline. ``min_batch=1`` returns every frame as soon as it is complete,
    equal to the offline features within float32 rounding (about 1e-6) instead.

    Latency: with ``center=True`` frame ``i`` covers samples ``[i * hop - n_fft // 2, i * hop + n_fft // 2)``, so it
    is complete once ``i * hop + n_fft // 2`` samples are in -- ``n_fft // 2`` samples (16 ms at 8 kHz with the
    default 25 ms window, n_fft 256) after its centre; see :meth:`frames_ready_after`.
    """

    def __init__(self, extractor: FeatureExtractor | AudioConfig, min_batch: int = 16) -> None:
        fx = extractor if isinstance(extractor, FeatureExtractor) else FeatureExtractor(extractor)
        if fx.cfg.deltas:
            raise RnnkitError("streaming features need deltas off (--no-deltas): deltas look 2 frames ahead and "
                              "at the whole recording's last frame")
        if min_batch < 1:
            raise RnnkitError(f"min_batch must be >= 1, got {min_batch}")
        self.fx = fx
        self.hop, self.n_fft, self.min_batch = fx.hop, fx.n_fft, min_batch
        self._reset()

    def _reset(self) -> None:
        self.n_samples = 0  # samples pushed in this stream
        self.frames_done = 0  # frames returned so far
        self._prev: Tensor | None = None  # last raw sample: pre-emphasis of the next chunk's first
        # pre-emphasised signal after center=True's n_fft // 2 leading zeros; _buf[0] is padded index _start
        self._buf = torch.zeros(self.n_fft // 2)
        self._start = 0

    def frames_ready_after(self, n_samples: int) -> int:
        """How many frames ``push`` has returned once ``n_samples`` samples are in (``finish`` returns the rest).

        Frame ``i`` is complete with samples up to index ``i * hop + n_fft // 2 - 1``; with ``min_batch > 1`` none
        is returned before ``1 + n_samples // hop`` (the frames a stream of that length has) reaches ``min_batch``.
        """
        half = self.n_fft // 2
        if n_samples < half or 1 + n_samples // self.hop < self.min_batch:
            return 0
        return (n_samples - half) // self.hop + 1

    def push(self, samples: Tensor) -> Tensor:
        """Adds a chunk ``(n,)`` of raw samples; returns the ``(k, I)`` frames it completes (``k`` may be 0)."""
        if samples.dim() != 1:
            raise RnnkitError(f"push expects a mono chunk (n,), got shape {tuple(samples.shape)}")
        x = samples.float()
        if x.shape[0] == 0:
            return self._frames(self.frames_done)
        # the offline pre-emphasis x[1:] - 0.97 x[:-1] written the same way, so every sample is bitwise equal
        head = x[:1] if self._prev is None else x[:1] - PRE_EMPHASIS * self._prev
        y = torch.cat([head, x[1:] - PRE_EMPHASIS * x[:-1]])
        self._prev = x[-1:].clone()
        self._buf = torch.cat([self._buf, y])
        self.n_samples += x.shape[0]
        return self._frames(self.frames_ready_after(self.n_samples))

    def finish(self) -> Tensor:
        """The frames left at the end of the stream ``(k, I)``; then a new stream starts.

        Offline, a recording under ``n_fft`` samples is zero-padded to ``n_fft`` and ``torch.stft`` gives
        ``1 + len // hop`` centred frames (``n_fft`` is even); the frames reaching past the end see zeros.
        """
        total = 1 + max(self.n_samples, self.n_fft) // self.hop
        end = (total - 1) * self.hop + self.n_fft - self._start  # padded samples the last frame needs, in _buf
        if end > self._buf.shape[0]:
            self._buf = torch.cat([self._buf, self._buf.new_zeros(end - self._buf.shape[0])])
        # a stream of under min_batch frames: one batch of exactly its frames, the matrix shapes offline has
        out = self._frames(total, pad=total >= self.min_batch)
        self._reset()
        return out

    def _frames(self, upto: int, pad: bool = True) -> Tensor:
        """Frames ``frames_done .. upto - 1`` from the buffer, which then drops the samples no later frame needs."""
        fx = self.fx
        k = upto - self.frames_done
        if k <= 0:
            return torch.zeros(0, fx.cfg.size)
        lo = self.frames_done * self.hop - self._start
        seg = self._buf[lo : lo + (k - 1) * self.hop + self.n_fft]
        if pad and k < self.min_batch:  # zero frames after the real ones: see the class docstring
            seg = torch.cat([seg, seg.new_zeros((self.min_batch - k) * self.hop)])
        spec = torch.stft(seg, self.n_fft, self.hop, fx.win, fx.window, center=False,
                          return_complex=True)  # (n_fft/2 + 1, max(k, min_batch))
        # the rest exactly as FeatureExtractor.__call__
        power = spec.abs().pow(2).T
        feats = torch.log(power @ fx.mel.T + LOG_FLOOR)
        if fx.cfg.features == "mfcc":
            feats = feats @ fx.dct.T
        self.frames_done = upto
        keep = upto * self.hop - self._start  # where the next frame starts
        self._buf = self._buf[keep:].clone()
        self._start += keep
        return feats[:k]
