"""Inputs that used to end in a traceback, or were silently ignored: each is one `rnnkit: error:` line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from rnnkit.cli import main
from rnnkit.tasks.demo import corpus_text
from rnnkit.training import checkpoint
from tests.conftest import one_line_error as error_of

TINY_LM = ["--hidden-size", "8", "--embed-size", "8", "--num-layers", "1", "--batch-size", "2", "--bptt", "8",
           "--no-progress", "--max-steps", "2", "--eval-every", "2", "--threads", "1"]


pytestmark = pytest.mark.usefixtures("one_thread")  # tiny tensors: see tests/conftest.py


@pytest.fixture(scope="module")
def lm_run(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("lm")
    (d / "train.txt").write_text(corpus_text()[:3000], encoding="utf-8")
    assert main(["train", "lm", "--data", str(d / "train.txt"), "--out", str(d / "run"), *TINY_LM]) == 0
    return d


@pytest.mark.parametrize(("flag", "value", "match"), [
    ("--init-range", "nan", "error: --init-range must be a finite number"),
    ("--lr", "inf", "error: --lr must be a finite number"),
    ("--seed", "99999999999999999999", "error: --seed 99999999999999999999 is out of range"),
])
def test_non_finite_and_huge_numbers_in_train_flags(lm_run: Path, tmp_path: Path, capsys, flag, value, match):
    err = error_of(capsys, ["train", "lm", "--data", str(lm_run / "train.txt"), "--out", str(tmp_path / "r"),
                            *TINY_LM, flag, value])
    assert match in err, err
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(("flags", "match"), [
    (["--temperature", "nan"], "--temperature must be a finite number > 0"),
    (["--temperature", "inf"], "--temperature must be a finite number > 0"),
    (["--top-p", "nan"], "--top-p must be in"),
    (["--seed", "99999999999999999999"], "--seed must be in 0 .. 2**63 - 1"),
])
def test_sample_options(lm_run: Path, capsys, flags, match):
    assert match in error_of(capsys, ["sample", str(lm_run / "run"), "--length", "5", *flags])


@pytest.mark.parametrize(("config", "match"), [
    ([], "is corrupt (a JSON list, not an object"),
    ({"task": "adding", "model": "lstm"}, "[model] must be an object of options"),
    ({"task": "adding", "train": None}, "[train] must be an object of options"),
    ({"task": "adding", "train": {"lr": None}}, "lr must be float, got None"),
])
def test_a_damaged_config_json_on_resume(tmp_path: Path, capsys, config, match):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps(config))
    checkpoint.save_atomic(checkpoint.make("adding", {}, model={}), run / "last.pt")
    assert match in error_of(capsys, ["train", "adding", "--out", str(run), "--resume"])


def test_sample_threads(lm_run: Path, capsys):
    assert "--threads must be >= 0" in error_of(capsys, ["sample", str(lm_run / "run"), "--threads", "-1"])
    torch.set_num_threads(2)
    assert main(["sample", str(lm_run / "run"), "--length", "5", "--seed", "1"]) == 0
    assert torch.get_num_threads() == 1  # the default: one token at a time is fastest on one thread


@pytest.mark.parametrize("task", ["lm", "classify", "translate", "tag", "forecast"])
def test_a_directory_as_data_says_is_a_directory(tmp_path: Path, capsys, task):
    d = tmp_path / "d"
    d.mkdir()
    extra = {"tag": ["--valid", str(d)]}.get(task, [])
    err = error_of(capsys, ["train", task, "--data", str(d), *extra, "--out", str(tmp_path / "r")])
    # classify reads a directory as one of WAVs (--format auto): an empty one says it holds none
    assert ("no .wav files in this directory" if task == "classify" else "is a directory") in err, err


def test_a_changed_model_option_on_resume_is_refused_and_the_run_still_resumes(lm_run: Path, tmp_path: Path, capsys):
    run = tmp_path / "run"
    shutil.copytree(lm_run / "run", run)
    before = (run / "config.json").read_text()
    err = error_of(capsys, ["train", "lm", "--out", str(run), "--resume", "--hidden-size", "16", "--max-steps", "3"])
    assert "--hidden-size 16 differs from the run's 8" in err and "start a new run" in err, err
    assert (run / "config.json").read_text() == before  # nothing written: a later resume still works
    assert main(["train", "lm", "--out", str(run), "--resume", "--max-steps", "3", "--no-progress"]) == 0


def test_a_checkpoint_that_does_not_fit_says_why(lm_run: Path, tmp_path: Path, capsys):
    run = tmp_path / "run"
    shutil.copytree(lm_run / "run", run)
    cfg = json.loads((run / "config.json").read_text())
    cfg["model"]["hidden_size"] = 16  # a hand-edited config.json: the model no longer fits its checkpoint
    (run / "config.json").write_text(json.dumps(cfg))
    capsys.readouterr()
    assert main(["train", "lm", "--out", str(run), "--resume", "--max-steps", "3"]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]  # after the notes on the changed options
    assert "does not fit this model: size mismatch for rnn.weight_ih_l0" in err and ".;" not in err, err


def test_report_of_a_directory_that_is_not_a_run(lm_run: Path, tmp_path: Path, capsys):
    err = error_of(capsys, ["report", str(lm_run)])  # the parent of a run: an easy slip
    assert f"{lm_run} is not a run directory" in err and "it holds runs: run" in err, err
    assert not (lm_run / "report.html").exists()
    (tmp_path / "empty").mkdir()
    assert "is not a run directory" in error_of(capsys, ["report", str(tmp_path / "empty")])
    assert "no such run directory" in error_of(capsys, ["report", str(tmp_path / "nothing")])


def test_a_closed_pipe_ends_the_command_quietly():
    import subprocess
    import sys

    # `rnnkit ... | head -1`: the reader closes the pipe early; no "Broken pipe" error line
    p = subprocess.run(f"{sys.executable} -m rnnkit --help | head -c 1", shell=True, capture_output=True, text=True)
    assert p.returncode == 0 and "Broken pipe" not in p.stderr and "Traceback" not in p.stderr, p.stderr
