"""The Trainer on a small real text: resume equivalence, schedules, clipping, non-finite steps,
early stopping, logs and plots."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from rnnkit.data import Vocab, line_sequences
from rnnkit.models import LanguageModel, LMConfig
from rnnkit.tasks.demo import corpus_text
from rnnkit.tasks.lm import LineLMTask, LMDataConfig, LMTask
from rnnkit.training import NonFiniteError, TrainConfig, Trainer

TEXT = corpus_text()[:3000]


def setup(seed: int = 0, train_chars: int = 2400, lines: bool = False, **train_kw):
    """A 2x16 LSTM char model on Python's help text; 4 streams x 16 steps (37 batches an epoch),
    or with ``lines`` batches of 4 whole lines (full BPTT)."""
    vocab = Vocab.build(TEXT, "char")
    torch.manual_seed(seed)
    model = LanguageModel(LMConfig(vocab_size=len(vocab), embed_size=8, hidden_size=16, num_layers=2,
                                   dropout=0.1))
    if lines:
        train, valid = (line_sequences(vocab.encode_lines(t)[0], vocab.sep) for t in (TEXT[:2400], TEXT[2400:]))
        task = LineLMTask(train, valid, LMDataConfig(batch_size=4, bptt=0, eval_batch_size=4), seed=0)
    else:
        train_ids, valid_ids = vocab.encode(TEXT[:train_chars])[0], vocab.encode(TEXT[train_chars:])[0]
        task = LMTask(train_ids, valid_ids, LMDataConfig(batch_size=4, bptt=16, eval_batch_size=4))
    cfg = TrainConfig(**{"progress": False, "epochs": 50, "eval_every": 10, "log_every": 5, "lr": 3e-3,
                         **train_kw})
    return model, task, cfg


class Killed(Exception):
    pass


def kill_at(step: int):
    def hook(trainer: Trainer) -> None:
        if trainer.step == step:
            raise Killed

    return hook


@pytest.mark.parametrize("kill,every,lines", [(7, 4, False), (12, 4, False), (23, 11, False), (12, 4, True)])
def test_resume_reaches_the_same_weights(tmp_path: Path, kill: int, every: int, lines: bool):
    # 700 training chars: 11 batches an epoch, so the runs cross epoch boundaries;
    # whole lines: 11 batches an epoch, reshuffled each epoch
    kw = {"max_steps": 30, "checkpoint_every": every, "train_chars": 700, "lines": lines}
    model, task, cfg = setup(**kw)
    Trainer(model, task, cfg, tmp_path / "a").fit()

    model_b, task_b, cfg_b = setup(**kw)
    with pytest.raises(Killed):
        Trainer(model_b, task_b, cfg_b, tmp_path / "b", on_step=[kill_at(kill)]).fit()
    model_c, task_c, cfg_c = setup(seed=1, **kw)  # other initial weights: the checkpoint must replace them
    summary = Trainer(model_c, task_c, cfg_c, tmp_path / "b").fit(resume=tmp_path / "b" / "last.pt")
    assert summary["steps"] == 30
    for (name, a), (_, c) in zip(model.state_dict().items(), model_c.state_dict().items()):
        assert torch.equal(a, c), name
    valid = [[r for r in map(json.loads, (tmp_path / d / "metrics.jsonl").read_text().splitlines())
              if r["split"] == "valid"] for d in ("a", "b")]
    assert [r["loss"] for r in valid[0]] == [r["loss"] for r in valid[1]]  # the log was rewound, not doubled


def test_learns_and_writes_the_run_files(tmp_path: Path):
    model, task, cfg = setup(max_steps=60, eval_every=20)
    first = task.evaluate(model.eval())["loss"]
    summary = Trainer(model.train(), task, cfg, tmp_path).fit()
    assert summary["best_loss"] < first - 0.5
    assert {"metrics.jsonl", "curves.png", "best.pt", "last.pt"} <= {p.name for p in tmp_path.iterdir()}
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in records if r["split"] == "train"]
    assert {"loss", "bpc", "ppl", "lr", "grad_norm", "clipped", "tok_per_s"} <= set(train[0])
    assert [r["step"] for r in records if r["split"] == "valid"] == [20, 40, 60]
    assert (tmp_path / "curves.png").read_bytes()[:4] == b"\x89PNG"


def test_clipping_is_logged(tmp_path: Path):
    model, task, cfg = setup(max_steps=10, clip_norm=1e-3, log_every=3)
    Trainer(model, task, cfg, tmp_path).fit()
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in records if r["split"] == "train"]
    assert [r["step"] for r in train] == [1, 4, 7, 10]
    assert all(r["clipped"] == 1.0 and r["grad_norm"] > 1e-3 for r in train)
    # AdamW normalises the step size, so check the clipped gradients directly as well
    model2, task2, cfg2 = setup(max_steps=1, clip_norm=1e-3, optimizer="sgd", lr=1.0, eval_every=100)
    start = [p.detach().clone() for p in model2.parameters()]
    Trainer(model2, task2, cfg2).fit()
    moved = math.sqrt(sum(float((p.detach() - s).pow(2).sum()) for p, s in zip(model2.parameters(), start)))
    assert moved == pytest.approx(1e-3, rel=1e-3)


def test_value_clipping_is_logged(tmp_path: Path):
    model, task, cfg = setup(max_steps=6, clip_norm=0.0, clip_value=1e-6, log_every=3)
    Trainer(model, task, cfg, tmp_path).fit()
    train = [json.loads(r) for r in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in train if r["split"] == "train"]
    assert train and all(r["clipped_value"] == 1.0 and r["clipped"] == 0.0 for r in train)
    model, task, cfg = setup(max_steps=3, clip_norm=0.0, clip_value=1e6, log_every=3)
    Trainer(model, task, cfg, tmp_path / "big").fit()
    train = [json.loads(r) for r in (tmp_path / "big" / "metrics.jsonl").read_text().splitlines()]
    assert all(r["clipped_value"] == 0.0 for r in train if r["split"] == "train")


def test_lr_schedules():
    model, task, cfg = setup(schedule="cosine", warmup_steps=10, min_lr=0.1, lr=1.0, max_steps=110)
    t = Trainer(model, task, cfg)
    assert t.lr_at(0) == pytest.approx(0.1) and t.lr_at(9) == pytest.approx(1.0)
    assert t.lr_at(10) == pytest.approx(1.0) and t.lr_at(60) == pytest.approx(0.55)
    assert t.lr_at(110) == pytest.approx(0.1)
    # Zaremba et al.: full rate for 4 epochs, then halved every epoch
    model, task, cfg = setup(schedule="epoch-decay", decay_after=4, lr_decay=0.5, lr=1.0)
    t = Trainer(model, task, cfg)
    n = task.num_batches()
    assert [t.lr_at(e * n) for e in range(7)] == [1, 1, 1, 1, 0.5, 0.25, 0.125]
    assert t.lr_at(4 * n - 1) == 1


class NaNAt(LMTask):
    def __init__(self, base: LMTask, steps: set[int]) -> None:
        self.__dict__.update(base.__dict__)
        self.bad, self.calls = steps, 0

    def train_step(self, model, batch):
        loss, n = super().train_step(model, batch)
        self.calls += 1
        return (loss * float("nan") if self.calls in self.bad else loss), n


def test_nonfinite_steps_are_skipped_or_stop(tmp_path: Path, capsys):
    model, task, cfg = setup(max_steps=6, eval_every=100)
    seen = []

    def snapshot(trainer: Trainer) -> None:
        seen.append([p.detach().clone() for p in trainer.model.parameters()])

    Trainer(model, NaNAt(task, {3}), cfg, tmp_path / "skip", on_step=[snapshot]).fit()
    assert all(torch.equal(a, b) for a, b in zip(seen[1], seen[2]))  # step 3 changed nothing
    assert not all(torch.equal(a, b) for a, b in zip(seen[2], seen[3]))
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert "non-finite loss at step 2" in capsys.readouterr().err
    model, task, cfg = setup(max_steps=6, nonfinite="stop")
    with pytest.raises(NonFiniteError, match="non-finite loss at step 2 .*stopped"):
        Trainer(model, NaNAt(task, {3}), cfg).fit()
    model, task, cfg = setup(max_steps=30)
    with pytest.raises(NonFiniteError, match="10 steps in a row"):
        Trainer(model, NaNAt(task, set(range(2, 40))), cfg).fit()


def test_early_stopping_and_plateau(tmp_path: Path):
    model, task, cfg = setup(lr=0.0, patience=2, eval_every=5, max_steps=100, schedule="plateau", lr_decay=0.5)
    t = Trainer(model, task, cfg, tmp_path)
    summary = t.fit()
    assert summary["steps"] == 15 and "early stop" in summary["stop_reason"]
    assert t.plateau_scale == 0.25  # halved at each of the two evaluations that did not improve


def test_time_limit():
    model, task, cfg = setup(max_time=0.5, eval_every=1000)
    summary = Trainer(model, task, cfg).fit()
    assert "time limit" in summary["stop_reason"] and 0.5 <= summary["seconds"] < 5


def test_bf16_autocast_on_cpu():
    model, task, cfg = setup(max_steps=3, precision="bf16", eval_every=3)
    summary = Trainer(model, task, cfg).fit()
    assert math.isfinite(summary["best_loss"])


def test_target_loss_stops_and_a_resume_does_nothing_more(tmp_path: Path):
    model, task, cfg = setup(target_loss=10.0, eval_every=5, max_steps=100)
    summary = Trainer(model, task, cfg, tmp_path).fit()
    assert summary["steps"] == 5 and "below the target 10" in summary["stop_reason"]
    model, task, cfg = setup(target_loss=10.0, eval_every=5, max_steps=100)
    again = Trainer(model, task, cfg, tmp_path).fit(resume=tmp_path / "last.pt")
    assert again["steps"] == 5 and "below the target" in again["stop_reason"]
