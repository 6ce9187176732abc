"""SIGINT and SIGTERM: a training saves last.pt after its step and says how to continue; resuming
then writes the same metrics and reaches the same weights as a run never interrupted."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from rnnkit import cli
from rnnkit.cli import main
from rnnkit.tasks import runs
from rnnkit.training import Trainer, checkpoint

FLAGS = ["--lag", "5", "--hidden-size", "4", "--valid-size", "8", "--test-size", "8", "--no-progress",
         "--threads", "1", "--log-every", "3", "--eval-every", "10", "--max-steps", "20"]


pytestmark = pytest.mark.usefixtures("one_thread")  # tiny tensors: see tests/conftest.py


def train_records(run: Path) -> list[tuple[int, float]]:
    recs = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [(r["step"], r["loss"]) for r in recs if r["split"] == "train"]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_saves_the_run_and_resume_matches_an_uninterrupted_one(tmp_path: Path, capsys, monkeypatch,
                                                                         signum):
    ref, run = tmp_path / "ref", tmp_path / "run"
    assert main(["train", "adding", "--out", str(ref), *FLAGS]) == 0
    limits = Trainer._check_limits

    def signal_at_step_7(self):
        if self.step == 7 and self.signum is None:
            os.kill(os.getpid(), signum)  # as `kill` or Ctrl-C would, in the middle of the run
        limits(self)

    monkeypatch.setattr(Trainer, "_check_limits", signal_at_step_7)
    capsys.readouterr()
    assert main(["train", "adding", "--out", str(run), *FLAGS]) == 128 + signum
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == (f"rnnkit: {'terminated (SIGTERM)' if signum == signal.SIGTERM else 'interrupted'}; "
                       f"{run / 'last.pt'} holds the run at step 8: continue it with rnnkit train adding "
                       f"--resume --out {run}"), err
    assert checkpoint.load(run / "last.pt")["trainer"]["step"] == 8  # the step after the signal, completed
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL and signal.getsignal(signal.SIGINT) is \
        signal.default_int_handler  # the handlers are put back
    monkeypatch.undo()
    assert main(["train", "adding", "--out", str(run), "--resume", "--no-progress"]) == 0
    assert train_records(run) == train_records(ref)  # the same steps (1, 4, 7, ...) and the same losses
    a, b = checkpoint.load(ref / "last.pt")["model"], checkpoint.load(run / "last.pt")["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_an_interrupt_before_the_first_checkpoint_does_not_suggest_resume(tmp_path: Path, capsys, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    run = tmp_path / "run"
    monkeypatch.setattr(runs, "prepare", interrupted)  # Ctrl-C while the command starts
    assert main(["train", "adding", "--out", str(run), *FLAGS]) == 130
    err = capsys.readouterr().err
    assert err == f"rnnkit: interrupted; no checkpoint was written yet: run the same command again to start {run} " \
                  f"afresh\n" and "--resume" not in err
    monkeypatch.setattr(cli, "build_parser", interrupted)  # even before the arguments are parsed
    assert main(["train", "adding"]) == 130
    assert capsys.readouterr().err == "rnnkit: interrupted\n"


def test_sigterm_from_another_process(tmp_path: Path):
    run = tmp_path / "run"
    argv = [sys.executable, "-m", "rnnkit", "train", "adding", "--out", str(run), *FLAGS[:-2], "--max-steps",
            "1000000", "--eval-every", "5"]
    p = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    try:
        deadline = time.monotonic() + 120
        while not (run / "last.pt").is_file() and time.monotonic() < deadline and p.poll() is None:
            time.sleep(0.2)
        assert (run / "last.pt").is_file()
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=60)
    finally:
        p.kill()
    assert p.returncode == 143, err
    assert err.strip().splitlines()[-1].startswith("rnnkit: terminated (SIGTERM); ") and "Traceback" not in err
    assert f"--resume --out {run}" in err
    assert not (run / runs.LOCK).exists() and not [n for n in os.listdir(run) if ".tmp" in n]
