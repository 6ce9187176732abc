"""best.pt picked by the metric --select names: the loss, a score the task reports, or the last evaluation."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from rnnkit.errors import RnnkitError
from rnnkit.training import StatelessTask, TrainConfig, Trainer, checkpoint

# the validation metrics of evaluations 1, 2, ...: the loss and the accuracy disagree about the best one
SCRIPT = [(1.0, 0.50), (0.8, 0.70), (0.6, 0.65), (0.7, 0.70), (0.9, 0.60)]


class Scripted(StatelessTask):
    """Two batches an epoch of a 1-weight model; evaluate() reports the next row of SCRIPT."""

    scores = ("acc",)
    default_select = "acc"

    def __init__(self) -> None:
        self.calls = 0

    def num_batches(self) -> int:
        return 2

    def batches(self, epoch: int, start: int):
        for _ in range(start, 2):
            yield torch.ones(1, 1)

    def train_step(self, model: nn.Module, batch: torch.Tensor):
        return model(batch).pow(2).mean(), 1

    def evaluate(self, model: nn.Module) -> dict[str, float]:
        loss, acc = SCRIPT[self.calls]
        self.calls += 1
        return {"loss": loss, "acc": acc}

    def state_dict(self) -> dict:
        return {"calls": self.calls}

    def load_state_dict(self, state: dict) -> None:
        self.calls = state["calls"]


def fit(run: Path, select: str, **kw) -> dict:
    torch.manual_seed(0)
    cfg = TrainConfig(epochs=len(SCRIPT), eval_every=2, progress=False, device="cpu", select=select, **kw)
    return Trainer(nn.Linear(1, 1), Scripted(), cfg, run, meta={"task": "scripted"}).fit()


def best_step(run: Path) -> int:
    return checkpoint.load(run / "best.pt")["trainer"]["step"]


@pytest.mark.parametrize(("select", "step"), [("auto", 8), ("acc", 8), ("loss", 6), ("last", 10)])
def test_best_pt_follows_the_selected_metric(tmp_path: Path, select: str, step: int):
    # acc: 0.70 at steps 4 and 8, the tie going to the lower loss (0.7 at step 8); loss: 0.6 at step 6
    summary = fit(tmp_path / select, select)
    assert best_step(tmp_path / select) == step
    assert summary["select"] == ("acc" if select == "auto" else select) and summary["best_loss"] == 0.6
    assert sorted(p.name for p in (tmp_path / select).glob("*.pt")) == ["best.pt", "last.pt"]


def test_patience_waits_on_the_selected_metric(tmp_path: Path):
    # the accuracy drops at evaluation 3 (step 6), the loss only at evaluation 4 (step 8)
    summary = fit(tmp_path / "acc", "acc", patience=1)
    assert summary["steps"] == 6 and summary["stop_reason"] == "early stop: no better validation acc in 1 evaluations"
    assert fit(tmp_path / "loss", "loss", patience=1)["steps"] == 8
    assert fit(tmp_path / "last", "last", patience=1)["steps"] == 8  # last: patience waits on the loss


def test_a_resumed_run_keeps_its_best(tmp_path: Path):
    run = tmp_path / "r"

    class Stop(Exception):
        pass

    def stop_at_9(t: Trainer) -> None:
        if t.step == 9:
            raise Stop

    torch.manual_seed(0)
    cfg = TrainConfig(epochs=len(SCRIPT), eval_every=2, progress=False, device="cpu", select="acc")
    with pytest.raises(Stop):
        Trainer(nn.Linear(1, 1), Scripted(), cfg, run, meta={"task": "scripted"}, on_step=[stop_at_9]).fit()
    summary = Trainer(nn.Linear(1, 1), Scripted(), cfg, run, meta={"task": "scripted"}).fit(resume=run / "last.pt")
    # the evaluation after the resume (acc 0.6) is worse than the best before it: best.pt stays at step 8
    assert best_step(run) == 8 and summary["best"] == {"loss": 0.7, "acc": 0.7}


def test_a_metric_the_task_does_not_report_is_a_one_line_error():
    with pytest.raises(RnnkitError, match=r"^--select f1: this task's validation reports loss, acc \(or use last"):
        Trainer(nn.Linear(1, 1), Scripted(), TrainConfig(select="f1", progress=False, device="cpu"))
