"""`rnnkit train caption` end to end on a few composed images."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from rnnkit.cli import main
from rnnkit.tasks.caption import CaptionDataConfig, CaptionTask, targets, words

pytest.importorskip("sklearn")
pytest.importorskip("sacrebleu")


def test_caption_run_writes_test_metrics(tmp_path: Path, capsys):
    run = tmp_path / "cap"
    assert main(["train", "caption", "--out", str(run), "--train-size", "256", "--valid-size", "40",
                 "--test-size", "40", "--channels", "4", "--hidden-size", "16", "--embed-size", "8",
                 "--max-steps", "8", "--eval-every", "4", "--batch-size", "32", "--beam-size", "2",
                 "--no-progress", "--threads", "1", "--device", "cpu"]) == 0
    recs = [json.loads(r) for r in (run / "metrics.jsonl").read_text().splitlines()]
    test = [r for r in recs if r["split"] == "test"][-1]
    assert {"loss", "exact", "exact_greedy", "bleu", "chrf"} <= set(test)
    assert 0 <= test["exact"] <= 1 and [r["step"] for r in recs if r["split"] == "valid"] == [4, 8]


def test_epochs_draw_fresh_images_and_resume_sees_the_same():
    task = CaptionTask(CaptionDataConfig(train_size=96, valid_size=8, test_size=8, batch_size=32), seed=1)
    first = list(task.batches(0, 0))
    assert len(first) == 3 and first[0][0].shape == (32, 1, 12, 40)
    again = CaptionTask(task.cfg, seed=1)
    assert torch.equal(next(again.batches(0, 2))[0], first[2][0])
    assert not torch.equal(next(task.batches(1, 0))[0], first[0][0])
    y = targets([[3, 1, 4], [0]])
    assert y.shape == (2, 5) and words(y[0].tolist()) == "three one four" and words(y[1].tolist()) == "zero"
