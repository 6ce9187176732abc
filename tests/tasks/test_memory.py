"""`rnnkit train adding | copy | seqdigits` end to end, on short runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from rnnkit.cli import main
from rnnkit.tasks import memory
from rnnkit.tasks.memory import GeneratedConfig, GeneratedTask

SMALL = ["--hidden-size", "16", "--no-progress", "--log-every", "5"]


def records(run: Path) -> list[dict]:
    return [json.loads(r) for r in (run / "metrics.jsonl").read_text().splitlines()]


def test_generated_batches_are_fixed_by_seed_epoch_and_index():
    task = GeneratedTask("adding", GeneratedConfig(lag=12, batch_size=4, steps_per_epoch=5, valid_size=8,
                                                   test_size=8), seed=3)
    full = list(task.batches(epoch=1, start=0))
    tail = list(task.batches(epoch=1, start=2))
    assert len(full) == 5 and all(torch.equal(a[0], b[0]) for a, b in zip(full[2:], tail))
    assert not torch.equal(full[0][0], next(task.batches(epoch=2, start=0))[0])
    again = GeneratedTask("adding", task.cfg, seed=4)
    assert torch.equal(again.valid[0], task.valid[0]) and torch.equal(again.test[0], task.test[0])
    assert not torch.equal(task.valid[0], task.test[0])


def test_adding_learns_a_short_lag(tmp_path: Path, capsys):
    run = tmp_path / "add"
    assert main(["train", "adding", "--lag", "10", "--out", str(run), *SMALL, "--hidden-size", "32",
                 "--lr", "1e-2", "--epochs", "4", "--eval-every", "100", "--steps-per-epoch", "100",
                 "--valid-size", "500", "--test-size", "500"]) == 0
    test = [r for r in records(run) if r["split"] == "test"][-1]
    assert test["loss"] < 0.05 < test["baseline"]  # far below answering 1 (0.167)
    assert {"config.json", "curves.png", "best.pt", "last.pt"} <= {p.name for p in run.iterdir()}
    model, conf, _ = memory.load_run(run)
    assert conf["task"] == "adding" and model.config.input_size == 2


def test_copy_and_seqdigits_run(tmp_path: Path, capsys):
    run = tmp_path / "copy"
    assert main(["train", "copy", "--lag", "5", "--out", str(run), *SMALL, "--max-steps", "10",
                 "--eval-every", "10", "--valid-size", "50", "--test-size", "50"]) == 0
    test = [r for r in records(run) if r["split"] == "test"][-1]
    assert 0 <= test["acc"] <= 1 and test["baseline"] == pytest.approx(10 * 2.0794415416798357 / 25)
    pytest.importorskip("sklearn")
    run = tmp_path / "digits"
    assert main(["train", "seqdigits", "--out", str(run), *SMALL, "--cell", "gru", "--max-steps", "6",
                 "--eval-every", "3", "--batch-size", "16"]) == 0
    test = [r for r in records(run) if r["split"] == "test"][-1]
    assert 0 <= test["acc"] <= 1 and "loss" in test
    assert main(["train", "seqdigits", "--out", str(run), *SMALL, "--resume", "--max-steps", "8"]) == 0
    assert torch.load(run / "last.pt", weights_only=True)["trainer"]["step"] == 8


def test_bad_values(tmp_path: Path, capsys):
    assert main(["train", "adding", "--lag", "1", "--out", str(tmp_path / "a")]) == 2
    assert "--lag must be >= 2" in capsys.readouterr().err
    lm_run = tmp_path / "lm"
    lm_run.mkdir()
    (lm_run / "config.json").write_text('{"task": "lm"}')
    (lm_run / "last.pt").write_bytes(b"")
    assert main(["train", "copy", "--out", str(lm_run), "--resume"]) == 2
    assert "holds a 'lm' run, not 'copy'" in capsys.readouterr().err


def test_select_acc_picks_best_pt_by_the_validation_accuracy(tmp_path: Path, capsys):
    pytest.importorskip("sklearn")
    run = tmp_path / "digits"
    assert main(["train", "seqdigits", "--out", str(run), *SMALL, "--cell", "gru", "--max-steps", "8",
                 "--eval-every", "2", "--batch-size", "16", "--select", "acc"]) == 0
    valid = [r for r in records(run) if r["split"] == "valid"]
    best = max(valid, key=lambda r: (r["acc"], -r["loss"]))
    assert torch.load(run / "best.pt", weights_only=True)["trainer"]["step"] == best["step"]
    capsys.readouterr()
    assert main(["train", "adding", "--lag", "5", "--out", str(tmp_path / "a"), *SMALL, "--select", "acc"]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "rnnkit: error: train options: --select acc: this task's validation reports loss (or use last: the latest "
        "evaluation)")
    assert not (tmp_path / "a").exists()  # refused before any work: nothing left behind
