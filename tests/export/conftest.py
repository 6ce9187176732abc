"""Tiny trained runs on slices of the real data sets, one per task, shared by the export tests."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
import torch

from rnnkit.cli import main
from tests.conftest import DATA

pytest.importorskip("onnxruntime")


@pytest.fixture(autouse=True)
def _tiny_models(one_thread: None) -> None:
    """Every export test runs on one torch thread (a module mark in a conftest applies to nothing)."""


def _data(*parts: str) -> Path:
    p = DATA.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"shared data not found at {p}")
    return p


def _head(src: Path, dst: Path, n: int) -> Path:
    dst.write_text("".join(src.read_text(encoding="utf-8").splitlines(keepends=True)[:n]), encoding="utf-8")
    return dst


def _sentences(src: Path, dst: Path, n: int) -> Path:
    """The first ``n`` sentences (blank-line separated blocks) of a CoNLL file, gzip kept."""
    opener = gzip.open if src.suffix == ".gz" else open
    with opener(src, "rt", encoding="utf-8") as f:
        blocks = [b for b in f.read().strip("\n").split("\n\n") if not b.startswith("-DOCSTART-")][:n]
    with (gzip.open if dst.suffix == ".gz" else open)(dst, "wt", encoding="utf-8") as f:
        f.write("\n\n".join(blocks) + "\n\n")
    return dst


def _train(argv: list[str]) -> None:
    torch.set_num_threads(1)
    assert main(argv) == 0


@pytest.fixture(scope="session")
def classify_run(tmp_path_factory) -> Path:
    """A bidirectional LSTM with max pooling on 160 SST-2 sentences (its dev set's first 40 as test data)."""
    src = _data("sentiment")
    d = tmp_path_factory.mktemp("classify")
    train = _head(src / "stsa.binary.train", d / "train.txt", 160)
    dev = _head(src / "stsa.binary.dev", d / "dev.txt", 40)
    _train(["train", "classify", "--data", str(train), "--valid", str(dev), "--test", str(dev), "--format",
            "label-sentence", "--hidden-size", "8", "--embed-size", "8", "--epochs", "1", "--no-progress",
            "--threads", "1", "--out", str(d / "run")])
    return d / "run"


@pytest.fixture(scope="session")
def tag_run(tmp_path_factory) -> Path:
    """A BiLSTM-CRF with character features on 80 CoNLL-2003 sentences (BIOES)."""
    src = _data("conll2003")
    d = tmp_path_factory.mktemp("tag")
    train = _sentences(src / "eng.train", d / "train.conll", 80)
    test = _sentences(src / "eng.testb", d / "test.conll", 30)
    _train(["train", "tag", "--data", str(train), "--valid", str(test), "--test", str(test), "--format", "conll",
            "--scheme", "bioes", "--crf", "--char-features", "--epochs", "1", "--hidden-size", "8",
            "--word-embed-size", "8", "--char-embed-size", "4", "--char-hidden-size", "4", "--batch-size", "16",
            "--threads", "1", "--no-progress", "--out", str(d / "run")])
    return d / "run"


@pytest.fixture(scope="session")
def lm_run(tmp_path_factory) -> Path:
    """A character LSTM on the first 6,000 characters of tiny-shakespeare."""
    src = _data("tinyshakespeare", "input.txt")
    d = tmp_path_factory.mktemp("lm")
    text = src.read_text(encoding="utf-8")
    (d / "train.txt").write_text(text[:6000], encoding="utf-8")
    (d / "test.txt").write_text(text[6000:8000], encoding="utf-8")
    _train(["train", "lm", "--data", str(d / "train.txt"), "--valid", str(d / "test.txt"), "--test",
            str(d / "test.txt"), "--hidden-size", "16", "--embed-size", "8", "--num-layers", "2", "--batch-size", "4",
            "--bptt", "16", "--max-steps", "10", "--eval-every", "10", "--no-progress", "--threads", "1",
            "--out", str(d / "run")])
    return d / "run"


@pytest.fixture(scope="session")
def translate_run(tmp_path_factory) -> Path:
    """A bidirectional LSTM encoder and a general-attention decoder on 300 Tatoeba pairs."""
    pairs = _data("tatoeba-eng-fra-5k", "eng-fra.txt")
    d = tmp_path_factory.mktemp("translate")
    _train(["train", "translate", "--data", str(pairs), "--limit", "300", "--held-out", "30", "--embed-size", "16",
            "--hidden-size", "16", "--num-layers", "2", "--max-steps", "6", "--eval-every", "6", "--batch-size", "32",
            "--beam-size", "2", "--max-length", "12", "--no-progress", "--threads", "1", "--device", "cpu",
            "--out", str(d / "run")])
    return d / "run"


@pytest.fixture(scope="session")
def caption_run(tmp_path_factory) -> Path:
    pytest.importorskip("sklearn")
    d = tmp_path_factory.mktemp("caption")
    _train(["train", "caption", "--train-size", "64", "--valid-size", "16", "--test-size", "16", "--channels", "4",
            "--hidden-size", "16", "--embed-size", "8", "--cell", "lstm", "--input-feeding", "--max-steps", "2",
            "--eval-every", "2", "--batch-size", "32", "--beam-size", "1", "--no-progress", "--threads", "1",
            "--device", "cpu", "--out", str(d / "run")])
    return d / "run"


@pytest.fixture(scope="session")
def forecast_run(tmp_path_factory) -> Path:
    pytest.importorskip("statsmodels")
    airline = _data("forecasting", "Airline.csv")
    d = tmp_path_factory.mktemp("forecast")
    _train(["train", "forecast", "--data", str(airline), "--horizon", "6", "--context", "24", "--test", "12",
            "--valid", "12", "--hidden-size", "8", "--cell", "gru", "--decoder", "autoregressive", "--max-steps", "4",
            "--eval-every", "4", "--threads", "1", "--no-progress", "--baselines", "naive", "--out", str(d / "run")])
    return d / "run"
