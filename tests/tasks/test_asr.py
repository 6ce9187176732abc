"""rnnkit train asr / transcribe / evaluate end to end on a few FSDD recordings (seconds), and bad input."""

from __future__ import annotations

import io
import json
import math
import wave
from pathlib import Path

import pytest
import torch

from rnnkit.cli import main
from rnnkit.data.audio import read_wav
from tests.conftest import fsdd_recordings, one_line_error

TINY = ["--hidden-size", "16", "--num-layers", "1", "--proj-size", "16", "--train-size", "48", "--valid-size", "8",
        "--test-size", "8", "--max-digits", "3", "--batch-size", "8", "--max-steps", "6", "--eval-every", "3",
        "--no-progress", "--warmup-steps", "0", "--beam-size", "3"]


@pytest.fixture(scope="module")
def fsdd(tmp_path_factory) -> Path:
    """Recordings 0-14 of digits 0-2 by three speakers: the recordings protocol's test (0-4), valid (5-9) and
    train shares, and a test, a validation and a training speaker."""
    wanted = {f"recordings/{digit}_{spk}_{i}.wav" for digit in (0, 1, 2) for spk in ("george", "jackson", "lucas")
              for i in range(15)}
    return fsdd_recordings(tmp_path_factory.mktemp("fsdd"), wanted)


def write_wav(path: Path, samples: torch.Tensor, rate: int) -> None:
    """16-bit PCM; ``samples`` (N,) mono or (N, C)."""
    x = samples if samples.dim() == 2 else samples[:, None]
    pcm = (x.clamp(-1, 1) * 32767).round().to(torch.int16)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(x.shape[1])
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.numpy().tobytes())


@pytest.fixture(scope="module")
def uni_run(fsdd: Path, tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("asr") / "uni"
    # the streaming defaults (running normalisation) and a lookahead: streamed must still equal offline
    assert main(["train", "asr", "--data", str(fsdd), "--out", str(run), "--no-bidirectional", "--lookahead", "2",
                 *TINY]) == 0
    return run


def test_a_run_saved_before_running_normalisation_keeps_global(uni_run: Path, tmp_path: Path):
    from rnnkit.tasks.asr import load_run
    from rnnkit.training.checkpoint import save_atomic

    assert load_run(uni_run)[0].normalisation == "running"
    ckpt = torch.load(uni_run / "best.pt", weights_only=False)
    del ckpt["config"]["model"]["lookahead"]  # as written before the option existed (the run had none)
    ckpt["config"]["model"]["normalise"] = "auto"
    ckpt["model"].pop("row")
    old = tmp_path / "old"
    old.mkdir()
    save_atomic({k: v for k, v in ckpt.items() if k != "checksum"}, old / "best.pt")
    assert load_run(old)[0].normalisation == "global"


def test_train_writes_the_test_report_and_streams_as_offline(uni_run: Path):
    for name in ("best.pt", "last.pt", "config.json", "metrics.jsonl", "curves.png", "test.tsv", "confusion.md",
                 "alignment.png", "test.json"):
        assert (uni_run / name).is_file(), name
    test = json.loads((uni_run / "test.json").read_text())
    assert test["utterances"] == 8 and set(test["speakers"]) <= {"george", "jackson", "lucas"}
    assert math.isfinite(test["wer"]) and math.isfinite(test["wer_greedy"]) and test["beam_size"] == 3
    s = test["stream"]  # a unidirectional model: the test utterances streamed in 100 ms chunks
    assert s["identical"] == s["utterances"] == 8 and 0 < s["rtf"] < 1
    rows = (uni_run / "test.tsv").read_text().splitlines()
    assert rows[0] == "speaker\treference\tgreedy\tbeam" and len(rows) == 9
    records = [json.loads(line) for line in (uni_run / "metrics.jsonl").read_text().splitlines()]
    assert any(r.get("split") == "valid" and "wer" in r and "wacc" in r for r in records)


def test_bidirectional_run_and_speaker_protocol(fsdd: Path, tmp_path: Path, capsys):
    run = tmp_path / "bi"
    assert main(["train", "asr", "--data", str(fsdd), "--out", str(run), "--protocol", "speaker:jackson", "--speed",
                 "0.1", "--vtlp", "0.1", "--normalise", "utterance", *TINY]) == 0
    assert "test speakers jackson" in capsys.readouterr().err
    test = json.loads((run / "test.json").read_text())
    assert set(test["speakers"]) == {"jackson"} and "stream" not in test
    wav = sorted(fsdd.glob("*.wav"))[0]
    assert "--no-bidirectional" in one_line_error(capsys, ["transcribe", str(run), str(wav), "--stream"])


def test_leave_one_speaker_out_keeps_the_last_checkpoint(fsdd: Path, tmp_path: Path, capsys):
    run = tmp_path / "loso"
    assert main(["train", "asr", "--data", str(fsdd), "--out", str(run), "--protocol", "speaker:george",
                 "--valid-speaker", "none", *TINY]) == 0
    err = capsys.readouterr().err
    # both other speakers train; recordings 5-9 of them validate, and can't pick a checkpoint for a new voice
    assert "recordings 60 / 30 / 45" in err and "best.pt: the last evaluation" in err
    assert set(json.loads((run / "test.json").read_text())["speakers"]) == {"george"}


def test_transcribe_files_stereo_44k_and_stdin(uni_run: Path, fsdd: Path, tmp_path: Path, capsys):
    wav = fsdd / "2_george_3.wav"
    capsys.readouterr()
    assert main(["transcribe", str(uni_run), str(wav), "--json"]) == 0
    offline = json.loads(capsys.readouterr().out)
    assert offline["file"] == str(wav) and set(offline) == {"file", "text", "tokens", "seconds"}
    assert main(["transcribe", str(uni_run), str(wav), "--json", "--stream", "--beam-size", "1"]) == 0
    streamed = json.loads(capsys.readouterr().out)
    assert main(["transcribe", str(uni_run), str(wav), "--json", "--beam-size", "1"]) == 0
    assert streamed["text"] == json.loads(capsys.readouterr().out)["text"]  # greedy: streamed == offline
    # a user's recording: 44.1 kHz stereo, the same speech in both channels at different levels
    x = read_wav(wav.read_bytes(), str(wav))
    import numpy as np
    t_out = np.arange(round(x.shape[0] * 44100 / 8000)) * 8000 / 44100
    up = torch.from_numpy(np.interp(t_out, np.arange(x.shape[0]), x.numpy())).float()
    stereo = tmp_path / "user.wav"
    write_wav(stereo, torch.stack([0.9 * up, 0.5 * up], 1), 44100)
    assert main(["transcribe", str(uni_run), str(stereo)]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith(f"{stereo}\t")
    # live: raw 16-bit PCM on stdin, symbols printed as they come
    pcm = (x.clamp(-1, 1) * 32767).round().to(torch.int16).numpy().tobytes()
    import sys

    class Stdin:
        buffer = io.BytesIO(pcm)

    old = sys.stdin
    sys.stdin = Stdin()  # type: ignore[assignment]
    try:
        assert main(["transcribe", str(uni_run), "-"]) == 0
    finally:
        sys.stdin = old
    assert " ".join(capsys.readouterr().out.split()) == streamed["text"]


@pytest.mark.parametrize(("content", "match"), [
    (b"", "not a PCM WAV file (the file is empty)"),
    (b"RIFF\x10\x00\x00\x00WAVEfmt ", "not a PCM WAV file"),
    (b"hello, this is text", "not a PCM WAV file"),
    ("silent", "the recording is silent"),
])
def test_bad_recordings_are_one_line_errors(uni_run: Path, tmp_path: Path, capsys, content, match):
    bad = tmp_path / "bad.wav"
    if content == "silent":
        write_wav(bad, torch.zeros(8000), 8000)
    else:
        bad.write_bytes(content)
    err = one_line_error(capsys, ["transcribe", str(uni_run), str(bad)])
    assert str(bad) in err and match in err, err


def test_evaluate_on_a_transcript_and_its_errors(uni_run: Path, fsdd: Path, tmp_path: Path, capsys):
    tsv = tmp_path / "t.tsv"
    tsv.write_text(f"{fsdd / '0_george_1.wav'}\t0\n{fsdd / '1_jackson_2.wav'}\t1\n", encoding="utf-8")
    capsys.readouterr()
    assert main(["evaluate", str(uni_run), "--data", str(tsv), "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["task"] == "asr" and res["recordings"] == 2 and 0 <= res["cer"] and math.isfinite(res["wer"])
    tsv.write_text(f"{fsdd / '0_george_1.wav'}\tzero\n", encoding="utf-8")
    err = one_line_error(capsys, ["evaluate", str(uni_run), "--data", str(tsv)])
    assert "the symbol 'z' is not one the model can write" in err
    tsv.write_text(f"{fsdd / '0_george_1.wav'}\t0\n{tmp_path / 'missing.wav'}\t1\n", encoding="utf-8")
    assert "t.tsv:2:" in one_line_error(capsys, ["evaluate", str(uni_run), "--data", str(tsv)])
    assert "on a file<TAB>text transcript" in one_line_error(capsys, ["evaluate", str(uni_run), "--data", str(fsdd)])


def test_train_on_your_own_transcribed_recordings(fsdd: Path, tmp_path: Path, capsys):
    words = {"0": "zero", "1": "one", "2": "two"}
    lines = [f"{p.name}\t{words[p.name[0]]}" for p in sorted(fsdd.glob("*.wav"))]
    (tmp_path / "all.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    run = tmp_path / "own"
    assert main(["train", "asr", "--data", str(fsdd), "--transcripts", str(tmp_path / "all.tsv"), "--out", str(run),
                 *TINY]) == 0
    conf = json.loads((run / "config.json").read_text())
    assert conf["symbols"] == " enortwz"
    # a transcript naming a file that isn't there: the line, before any run directory is made
    (tmp_path / "bad.tsv").write_text("0_george_0.wav\tzero\nnope.wav\tone\n", encoding="utf-8")
    err = one_line_error(capsys, ["train", "asr", "--data", str(fsdd), "--transcripts", str(tmp_path / "bad.tsv"),
                            "--out", str(tmp_path / "r2"), *TINY])
    assert "bad.tsv:2:" in err and "nope.wav: no such file" in err
    assert not (tmp_path / "r2").exists()


def test_vtlp_warps_the_training_features_only(fsdd: Path):
    from rnnkit.tasks.asr import ASRDataConfig, Corpus, SpeechAudioConfig

    plain, warped = (Corpus(ASRDataConfig(data=str(fsdd), train_size=6, valid_size=2, test_size=2, vtlp=v),
                            SpeechAudioConfig(), lambda *a: None) for v in (0.0, 0.1))
    a, b = plain.train_items(0, 0), warped.train_items(0, 0)
    assert [it.text for it in a] == [it.text for it in b]  # the same compositions
    assert any(not torch.equal(x.feats, y.feats) for x, y in zip(a, b))
    assert all(x.feats.shape == y.feats.shape for x, y in zip(a, b))
    assert all(torch.equal(x.feats, y.feats) for x, y in zip(plain.valid + plain.test, warped.valid + warped.test))
    assert all(torch.equal(x, y) for x, y in zip(plain.statistics(), warped.statistics()))


def test_option_errors(tmp_path: Path, capsys):
    assert "--data is required" in one_line_error(capsys, ["train", "asr", "--out", str(tmp_path / "r")])
    assert "--protocol must be recordings or speaker:NAME" in one_line_error(
        capsys, ["train", "asr", "--data", str(tmp_path), "--protocol", "nobody", "--out", str(tmp_path / "r")])
    assert "--valid-speaker none: only with --protocol speaker:NAME (connected digits), got --protocol recordings" \
        in one_line_error(capsys, ["train", "asr", "--data", str(tmp_path), "--valid-speaker", "none", "--out",
                                   str(tmp_path / "r")])
    assert "--vtlp must be in [0, 0.5)" in one_line_error(
        capsys, ["train", "asr", "--data", str(tmp_path), "--vtlp", "0.6", "--out", str(tmp_path / "r")])
    assert "--beam-size must be >= 1" in one_line_error(
        capsys, ["train", "asr", "--data", str(tmp_path), "--beam-size", "0", "--out", str(tmp_path / "r")])
    assert not (tmp_path / "r").exists()
