"""Users' recordings: band-limited resampling, stereo mix-down, bad files, and streaming features equal to offline."""

from __future__ import annotations

import io
import math
import time
import wave
from pathlib import Path

import pytest
import torch

from rnnkit.data import audio
from rnnkit.data.speech_audio import StreamingFeatures, load_recording, resample
from rnnkit.errors import RnnkitError

pytestmark = pytest.mark.usefixtures("one_thread")  # small tensors: see tests/conftest.py


def sine(freq: float, seconds: float, rate: int, amp: float = 0.5) -> torch.Tensor:
    t = torch.arange(round(seconds * rate), dtype=torch.float64) / rate
    return (amp * torch.sin(2 * math.pi * freq * t)).float()


def peak_hz(x: torch.Tensor, rate: int) -> float:
    spectrum = torch.fft.rfft(x.double() * torch.hann_window(x.shape[0], dtype=torch.float64)).abs()
    return float(spectrum.argmax()) * rate / x.shape[0]


def rms(x: torch.Tensor) -> float:
    return float(x.double().pow(2).mean().sqrt())


def stereo_wav(left: torch.Tensor, right: torch.Tensor, rate: int) -> bytes:
    """16-bit interleaved stereo, written with the standard library as another program would."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(rate)
        ints = (torch.stack([left, right], 1).clamp(-1, 1) * 32767).round().short()
        w.writeframes(ints.numpy().tobytes())
    return buf.getvalue()


def test_resample_keeps_a_tone_there_and_back():
    x = sine(440, 1.0, 44100)
    down = resample(x, 44100, 8000)
    assert down.shape == (8000,) and down.dtype == torch.float32
    assert abs(peak_hz(down, 8000) - 440) <= 1.0
    inner = slice(400, -400)  # away from the edges, where the filter sees the zeros outside the signal
    assert abs(rms(down[inner]) / rms(x) - 1) < 0.02
    back = resample(down, 8000, 44100)
    assert back.shape == (44100,) and abs(peak_hz(back, 44100) - 440) <= 1.0
    assert abs(rms(back[2205:-2205]) / rms(x) - 1) < 0.02
    assert float((back - x)[2205:-2205].abs().max()) < 0.01  # phase kept too: no delay


def test_resample_removes_what_would_alias():
    # 6 kHz is above 8 kHz's Nyquist rate: kept, it would fold down to 2 kHz
    x = sine(6000, 1.0, 44100)
    y = resample(x, 44100, 8000)
    attenuation_db = 20 * math.log10(rms(y[400:-400]) / rms(x))
    assert attenuation_db <= -40, attenuation_db


@pytest.mark.parametrize(("n", "rate_in", "rate_out"), [(1000, 44100, 8000), (999, 8000, 44100), (12345, 48000, 16000),
                                                        (7, 22050, 8000), (1, 16000, 8000), (0, 44100, 8000)])
def test_resample_length(n: int, rate_in: int, rate_out: int):
    assert resample(torch.randn(n), rate_in, rate_out).shape == (round(n * rate_out / rate_in),)


def test_resample_identity_and_errors():
    x = torch.randn(500)
    assert torch.equal(resample(x, 8000, 8000), x)
    for rates in ((0, 8000), (8000, -1)):
        with pytest.raises(RnnkitError, match="sample rates must be positive"):
            resample(x, *rates)
    with pytest.raises(RnnkitError, match=r"mono waveform \(N,\)"):
        resample(torch.randn(2, 500), 16000, 8000)


def test_resample_ten_seconds_is_fast():
    x = torch.randn(441000)
    resample(x[:44100], 44100, 8000)  # first call: kernel set-up outside the timing
    start = time.perf_counter()
    y = resample(x, 44100, 8000)
    assert y.shape == (80000,) and time.perf_counter() - start < 1.0


def test_load_recording_mixes_down_and_resamples(tmp_path: Path):
    left, right = sine(440, 0.5, 44100, 0.6), sine(1000, 0.5, 44100, 0.3)
    raw = stereo_wav(left, right, 44100)
    (tmp_path / "s.wav").write_bytes(raw)
    x = load_recording(tmp_path / "s.wav", "s.wav", 8000)
    assert x.shape == (4000,) and x.dtype == torch.float32
    # the int16 file's own mean, resampled: what a user gets from sox in.wav -c 1 -r 8000
    pcm = torch.frombuffer(bytearray(raw[44:]), dtype=torch.int16).float().view(-1, 2) / 32768
    assert torch.allclose(x, resample(pcm.mean(1), 44100, 8000), atol=1e-6)
    expected = resample((left + right) / 2, 44100, 8000)
    assert float((x - expected).abs().max()) < 1e-3
    assert torch.equal(load_recording(raw, "s.wav", 8000), x)  # bytes as well as paths


def test_bad_recordings_are_one_line_errors():
    silent = stereo_wav(torch.zeros(4410), torch.zeros(4410), 44100)
    with pytest.raises(RnnkitError, match=r"^quiet.wav: the recording is silent \(peak 0.0e\+00 of full scale\)$"):
        load_recording(silent, "quiet.wav", 8000)
    good = stereo_wav(sine(440, 0.1, 44100), sine(440, 0.1, 44100), 44100)
    cases = {"cut.wav": good[:30], "notes.wav": b"hello, this is not audio at all", "empty.wav": b""}
    for name, raw in cases.items():
        with pytest.raises(RnnkitError) as e:
            load_recording(raw, name, 8000)
        assert str(e.value).startswith(f"{name}: not a PCM WAV file") and "\n" not in str(e.value)
    blip = stereo_wav(sine(440, 0.002, 44100), sine(440, 0.002, 44100), 44100)  # 2 ms
    with pytest.raises(RnnkitError, match=r"^blip.wav: 2.0 ms of audio, shorter than one 25 ms analysis window$"):
        load_recording(blip, "blip.wav", 8000)


def speechlike(seconds: float = 1.3, rate: int = 8000) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    n = round(seconds * rate)
    t = torch.arange(n) / rate
    envelope = 0.5 + 0.5 * torch.sin(2 * math.pi * 3 * t)  # syllable-like loudness changes, some near silence
    tones = 0.3 * torch.sin(2 * math.pi * 220 * t) + 0.2 * torch.sin(2 * math.pi * 1300 * t + 1.0)
    return (envelope * tones + 0.05 * torch.randn(n, generator=g)).float()


def stream(fx: StreamingFeatures, x: torch.Tensor, sizes: list[int]) -> torch.Tensor:
    out, i = [], 0
    for size in sizes:
        out.append(fx.push(x[i : i + size]))
        i += size
    assert i >= x.shape[0]
    out.append(fx.finish())
    return torch.cat(out)


def chunkings(n: int) -> dict[str, list[int]]:
    g = torch.Generator().manual_seed(1)
    random = torch.randint(1, 700, (n,), generator=g).tolist()  # more than enough chunks; the extras push nothing
    return {"one sample": [1] * n, "100 ms": [800] * (n // 800 + 1), "whole": [n], "random": random,
            "empty chunks": [0, 300, 0, 0, n]}


def assert_same(online: torch.Tensor, offline: torch.Tensor, bitwise: bool) -> None:
    assert online.shape == offline.shape
    assert float((online - offline).abs().max()) <= 1e-5
    if bitwise and torch.backends.mkl.is_available():  # the batch-size rule behind bitwise equality is MKL's
        assert torch.equal(online, offline)


@pytest.mark.parametrize("features", ["logmel", "mfcc"])
def test_streaming_equals_offline(features: str):
    cfg = audio.AudioConfig(features=features, deltas=False)
    x = speechlike()
    offline = audio.FeatureExtractor(cfg)(x)
    assert offline.shape == (131, cfg.size)
    fx = StreamingFeatures(cfg)
    for sizes in chunkings(x.shape[0]).values():
        assert_same(stream(fx, x, sizes), offline, bitwise=True)  # finish() readies fx for the next stream
    fast = StreamingFeatures(audio.FeatureExtractor(cfg), min_batch=1)
    assert_same(stream(fast, x, [1] * x.shape[0]), offline, bitwise=False)


def test_streaming_latency():
    fx = StreamingFeatures(audio.AudioConfig(deltas=False), min_batch=1)  # hop 80, n_fft 256
    assert [fx.frames_ready_after(n) for n in (0, 127, 128, 207, 208)] == [0, 0, 1, 1, 2]
    assert fx.push(torch.randn(127)).shape == (0, 13) and fx.push(torch.randn(1)).shape == (1, 13)
    held = StreamingFeatures(audio.AudioConfig(deltas=False))
    assert held.frames_ready_after(15 * 80 - 1) == 0 and held.frames_ready_after(15 * 80) == 14


@pytest.mark.parametrize("n", [0, 1, 100, 255, 256, 300, 1199, 1200])
def test_streaming_short_signals(n: int):
    # under n_fft samples FeatureExtractor pads to n_fft; under min_batch frames finish() returns them all
    cfg = audio.AudioConfig(features="mfcc", deltas=False)
    x = speechlike()[:n]
    offline = audio.FeatureExtractor(cfg)(x)
    for sizes in ([n], [1] * n, [7] * (n // 7 + 1)):
        assert_same(stream(StreamingFeatures(cfg), x, sizes), offline, bitwise=True)


def test_streaming_refuses_deltas():
    with pytest.raises(RnnkitError, match="streaming features need deltas off"):
        StreamingFeatures(audio.AudioConfig(deltas=True))
