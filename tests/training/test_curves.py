"""curves.png: the loss with the unit of the task's loss, and the metric that picks best.pt."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pytest

from rnnkit.tasks.classify import ClassifyTask
from rnnkit.tasks.lm import LMTask
from rnnkit.tasks.memory import DigitsTask, GeneratedTask
from rnnkit.tasks.tag import TagTask
from rnnkit.training import log
from tests.training.test_select import Scripted, fit

RECORDS = [{"step": 1, "split": "train", "loss": 1.2}, {"step": 2, "split": "valid", "loss": 1.0, "acc": 0.6},
           {"step": 3, "split": "train", "loss": 0.9}, {"step": 4, "split": "valid", "loss": 0.8, "acc": 0.7},
           {"step": 6, "split": "valid", "loss": 0.7, "acc": 0.7}, {"step": 8, "split": "valid", "loss": 0.9,
                                                                    "acc": 0.65}]


def test_a_score_gets_its_own_axes_with_best_pt_marked():
    fig = log.curves_figure(RECORDS, "classify: GRU", "loss (cross-entropy per sequence)", "acc")
    left, right = fig.axes
    assert left.get_ylabel() == "loss (cross-entropy per sequence)"
    assert right.get_ylabel() == "validation acc (higher is better)"
    curve, best = right.get_lines()
    assert list(curve.get_xdata()) == [2, 4, 6, 8] and list(curve.get_ydata()) == [0.6, 0.7, 0.7, 0.65]
    assert list(best.get_xdata()) == [6]  # the tie at 0.7 goes to the lower loss, as the Trainer picks
    plt.close(fig)


@pytest.mark.parametrize("metric", ["loss", "last", None, "f1"])  # f1: not in the records
def test_the_loss_alone_when_it_selects(metric: str | None):
    fig = log.curves_figure(RECORDS, "", "loss (nats per token)", metric)
    assert len(fig.axes) == 1 and fig.axes[0].get_ylabel() == "loss (nats per token)"
    plt.close(fig)


def test_the_trainer_plots_the_task_s_loss_unit_and_selection(tmp_path: Path, monkeypatch):
    seen = []
    monkeypatch.setattr("rnnkit.training.trainer.plot_curves", lambda records, path, **kw: seen.append(kw))
    monkeypatch.setattr(Scripted, "loss_label", "loss (cross-entropy per sequence)", raising=False)
    fit(tmp_path / "r", "acc")
    assert seen[-1]["loss_label"] == "loss (cross-entropy per sequence)" and seen[-1]["metric"] == "acc"
    assert (tmp_path / "r" / "metrics.jsonl").is_file()


def test_no_task_but_the_token_ones_says_per_token():
    assert LMTask.loss_label == "loss (nats per token)" and TagTask.loss_label == "loss (nats per word)"
    for cls in (ClassifyTask, DigitsTask):
        assert "per sequence" in cls.loss_label
    adding, copy = (GeneratedTask.__new__(GeneratedTask) for _ in range(2))
    adding.problem, copy.problem = "adding", "copy"
    assert adding.loss_label == "loss (MSE per sequence)" and "per output step" in copy.loss_label


def test_metrics_csv_tables_the_jsonl_records(tmp_path: Path):
    import csv
    import json

    fit(tmp_path / "r", "acc")
    records = [json.loads(line) for line in (tmp_path / "r" / "metrics.jsonl").read_text().splitlines()]
    with (tmp_path / "r" / "metrics.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(records) and {"step", "split", "loss", "acc", "lr"} <= set(rows[0])
    for row, rec in zip(rows, records):
        assert row["split"] == rec["split"] and float(row["loss"]) == pytest.approx(rec["loss"])
        assert row["acc"] == (str(rec["acc"]) if "acc" in rec else "")
