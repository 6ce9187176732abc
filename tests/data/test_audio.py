"""WAV reading (rate and channel checks) and features: mel filterbank, DCT, log-mel / MFCC of real recordings."""

from __future__ import annotations

import io
import math
import tarfile
import wave
from pathlib import Path

import pytest
import torch

from rnnkit.data import audio
from rnnkit.errors import RnnkitError

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny tensors: see tests/conftest.py


def wav_bytes(samples: torch.Tensor, rate: int = 8000, channels: int = 1, width: int = 2) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        scale = 2 ** (8 * width - 1) - 1
        ints = (samples.clamp(-1, 1) * scale).round().long()
        if width == 1:
            w.writeframes(bytes((ints + 128).tolist()))
        else:
            w.writeframes(b"".join(int(v).to_bytes(width, "little", signed=True) for v in ints.tolist()))
    return buf.getvalue()


def tone(freq: float, seconds: float = 0.5, rate: int = 8000) -> torch.Tensor:
    t = torch.arange(int(seconds * rate)) / rate
    return 0.5 * torch.sin(2 * math.pi * freq * t)


@pytest.mark.parametrize("width", [1, 2, 3, 4])
def test_read_pcm_widths(width: int):
    x = tone(440, 0.05)
    back = audio.read_wav(wav_bytes(x, width=width), "t.wav", 8000)
    assert back.shape == x.shape and float((back - x).abs().max()) < 2.0 / 2 ** (8 * width - 1) + 1e-6


def test_other_rate_or_channels_is_an_error():
    with pytest.raises(RnnkitError, match=r"t.wav: sample rate 16000 Hz, expected 8000 Hz"):
        audio.read_wav(wav_bytes(tone(440, 0.05, 16000), rate=16000), "t.wav", 8000)
    stereo = torch.stack([tone(440, 0.05), tone(220, 0.05)], 1).flatten()
    with pytest.raises(RnnkitError, match=r"t.wav: 2 channels, expected 1"):
        audio.read_wav(wav_bytes(stereo, channels=2), "t.wav", 8000)
    assert audio.read_wav(wav_bytes(stereo, channels=2), "t.wav", channels=2).shape == (400, 2)
    with pytest.raises(RnnkitError, match="t.wav: not a PCM WAV file"):
        audio.read_wav(b"RIFF....not a wave", "t.wav")


def test_mel_filterbank_and_dct():
    fb = audio.mel_filterbank(10, 256, 8000)
    assert fb.shape == (10, 129) and float(fb.max()) <= 1 and (fb > 0).any(1).all()
    centres = fb.argmax(1)
    assert bool((centres[1:] > centres[:-1]).all())  # filters ordered by frequency
    # between the first and the last centre, neighbouring triangles overlap to sum 1
    inner = fb[:, int(centres[0]) + 1 : int(centres[-1])].sum(0)
    assert torch.allclose(inner, torch.ones_like(inner), atol=1e-5)
    d = audio.dct_matrix(12, 12)
    assert torch.allclose(d @ d.T, torch.eye(12), atol=1e-5)


def test_a_tone_lights_its_mel_band():
    cfg = audio.AudioConfig(features="logmel", deltas=False, n_mels=20)
    fx = audio.FeatureExtractor(cfg)
    feats = fx(tone(1000))
    assert feats.shape == (51, 20)  # 4000 samples, hop 80, centred frames
    band = int(feats.mean(0).argmax())
    centre_hz = float(audio.mel_to_hz(torch.linspace(0, float(audio.hz_to_mel(torch.tensor(4000.0))), 22)[band + 1]))
    assert abs(centre_hz - 1000) < 150
    mf = audio.FeatureExtractor(audio.AudioConfig())(tone(1000))
    assert mf.shape == (51, 26) and audio.AudioConfig().size == 26


def test_vtlp_warp_is_continuous_and_keeps_the_band():
    f = torch.linspace(0, 4000, 401, dtype=torch.float64)
    for alpha in (0.9, 1.1):
        w = audio.vtlp_warp(f, alpha, 4000.0)
        assert float(w[0]) == 0 and abs(float(w[-1]) - 4000) < 1e-9  # the band's ends stay
        assert bool((w[1:] > w[:-1]).all()) and float((w[1:] - w[:-1]).max()) < 20  # monotone, no jump
        assert abs(float(w[100]) - 1000 / alpha) < 1e-9  # linear below the boundary
    assert torch.equal(audio.vtlp_warp(f, 1.0, 4000.0), f)


def test_a_warped_extractor_hears_a_tone_as_a_higher_one():
    fx = audio.FeatureExtractor(audio.AudioConfig(features="logmel", deltas=False, n_mels=40))
    assert torch.equal(fx(tone(1000), 1.0), fx(tone(1000)))
    up = fx(tone(1000), 1.1).mean(0)  # formants 10% higher: the tone lands where 1100 Hz would
    assert int(up.argmax()) == int(fx(tone(1100)).mean(0).argmax()) > int(fx(tone(1000)).mean(0).argmax())


def test_deltas_of_a_ramp_are_its_slope():
    ramp = torch.arange(10.0)[:, None] * torch.tensor([[1.0, -2.0]])
    d = audio.deltas(ramp)
    assert torch.allclose(d[2:-2], torch.tensor([[1.0, -2.0]]).expand(6, 2))


def test_collections_and_names(tmp_path: Path):
    (tmp_path / "wavs").mkdir()
    for name in ("3_theo_0.wav", "5_lucas_12.wav"):
        (tmp_path / "wavs" / name).write_bytes(wav_bytes(tone(300, 0.05)))
    with tarfile.open(tmp_path / "w.tar.gz", "w:gz") as tar:
        tar.add(tmp_path / "wavs", arcname="recordings")
    for source in (tmp_path / "wavs", tmp_path / "w.tar.gz"):
        names = sorted(audio.parse_name(n) for n, _ in audio.wav_files(source))
        assert names == [("3", 0), ("5", 12)]
    with pytest.raises(RnnkitError, match=r"expected a file name \{label\}_"):
        audio.parse_name("noise.wav")
    (tmp_path / "empty").mkdir()
    with pytest.raises(RnnkitError, match="no .wav files in this directory"):
        list(audio.wav_files(tmp_path / "empty"))
    with pytest.raises(RnnkitError, match="missing: no such file, directory or archive"):
        list(audio.wav_files(tmp_path / "missing"))
    with pytest.raises(RnnkitError, match="nope.wav: no such file$"):
        list(audio.wav_files(tmp_path / "nope.wav"))


def test_fsdd_recording(data_dir: Path):
    name, raw = next(audio.wav_files(data_dir / "fsdd" / "recordings.tar.xz"))
    x = audio.read_wav(raw, name, 8000)
    assert name.endswith("recordings/0_george_0.wav") and x.shape == (2384,)
    feats = audio.FeatureExtractor(audio.AudioConfig())(x)
    assert feats.shape == (30, 26) and bool(torch.isfinite(feats).all())


def test_a_non_audio_file_is_one_line(tmp_path: Path):
    # tarfile's error lists every compression it tried, one per line: the message says what was expected instead
    text = tmp_path / "notes.txt"
    text.write_text("not audio\n", encoding="utf-8")
    with pytest.raises(RnnkitError) as e:
        list(audio.wav_files(text))
    assert str(e.value) == f"{text}: not a .wav file, a directory of .wav files or a tar archive of them"
