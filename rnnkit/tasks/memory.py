"""Long-range memory benchmarks: ``rnnkit train adding | copy | seqdigits``.

- ``adding``: the adding problem at lag T (:func:`rnnkit.data.synthetic.adding_batch`),
  many-to-one regression, loss MSE; solved below MSE 0.01 (answering 1 scores ~0.167).
- ``copy``: the copy-memory problem with T blanks (:func:`rnnkit.data.synthetic.copy_batch`),
  aligned many-to-many, loss the per-step cross-entropy; the memoryless baseline is
  ``10 log 8 / (T + 20)``; also the accuracy on the recalled symbols.
- ``seqdigits``: scikit-learn's 8x8 digits pixel by pixel (:mod:`rnnkit.data.digits`), 64
  steps, many-to-one classification, loss cross-entropy, also accuracy.

Generated problems draw every training batch from a seed fixed by (seed, epoch, batch,
rank): a resumed run sees the same batches, and an "epoch" is ``--steps-per-epoch``
batches. Validation and test sets are generated once from ``--data-seed`` (different
streams), so every cell and every run is scored on the same sequences.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit import config as cfgmod
from rnnkit.config import field
from rnnkit.data import digits, synthetic
from rnnkit.errors import RnnkitError
from rnnkit.models.sequence import SequenceConfig, SequenceModel
from rnnkit.tasks import runs
from rnnkit.training import StatelessTask, TrainConfig, Trainer, distributed
from rnnkit.training.trainer import resolve_device

PROBLEMS = ("adding", "copy", "seqdigits")
SOLVED_MSE = 0.01  # the adding problem counts as solved below this test MSE
EVAL_CHUNK = 500  # sequences per forward pass when scoring


@dataclasses.dataclass
class GeneratedConfig:
    """A generated problem (adding, copy): its lag and how many sequences are drawn."""

    lag: int = field(100, "T: the sequence length (adding) or the number of blank steps to remember across (copy)")
    batch_size: int = field(64, "sequences per training step (split across processes under torchrun)")
    steps_per_epoch: int = field(100, "training batches per epoch (every batch is freshly generated)")
    valid_size: int = field(1000, "validation sequences (generated once from --data-seed)")
    test_size: int = field(2000, "test sequences, scored with the best model after training")
    data_seed: int = field(1, "seed of the validation and test sequences")
    symbols: int = field(8, "copy: number of symbols")
    length: int = field(10, "copy: symbols to remember")


@dataclasses.dataclass
class DigitsConfig:
    """Sequential digits: how the 1,797 images are split and batched."""

    batch_size: int = field(32, "images per training step (split across processes under torchrun)")
    valid_fraction: float = field(0.1, "fraction of each class held out for validation")
    test_fraction: float = field(0.2, "fraction of each class held out for the test")
    split_seed: int = field(0, "seed of the stratified split")


def sections(problem: str) -> dict[str, type]:
    return {"data": DigitsConfig if problem == "seqdigits" else GeneratedConfig, "model": SequenceConfig,
            "train": TrainConfig}


def check_data(problem: str, data: Any) -> None:
    """One-line errors for values no run can use."""
    if problem == "seqdigits":
        if data.batch_size < 1:
            raise RnnkitError(f"--batch-size must be >= 1, got {data.batch_size}")
        return
    for name, low in (("lag", 2 if problem == "adding" else 1), ("batch_size", 1), ("steps_per_epoch", 1),
                      ("valid_size", 1), ("test_size", 1), ("symbols", 1), ("length", 1)):
        if getattr(data, name) < low:
            raise RnnkitError(f"--{name.replace('_', '-')} must be >= {low}, got {getattr(data, name)}")


def _score(model: nn.Module, x: Tensor, y: Tensor, problem: str, recall: int = 0) -> dict[str, float]:
    """Metrics of ``model`` on a fixed set: ``loss`` (MSE or per-step cross-entropy), and accuracy
    (of the class; for copy, of the last ``recall`` steps, where the symbols are written back)."""
    device = next(model.parameters()).device
    total, correct, count = 0.0, 0, 0
    for i in range(0, x.shape[0], EVAL_CHUNK):
        xb, yb = x[i : i + EVAL_CHUNK].to(device), y[i : i + EVAL_CHUNK].to(device)
        out = model(xb).float()
        if problem == "adding":
            total += float(F.mse_loss(out, yb, reduction="sum"))
        else:
            total += float(F.cross_entropy(out.reshape(-1, out.shape[-1]), yb.reshape(-1), reduction="sum"))
            pred = out.argmax(-1)
            if problem == "copy":
                correct += int((pred[:, -recall:] == yb[:, -recall:]).sum())
                count += yb[:, -recall:].numel()
            else:
                correct += int((pred == yb).sum())
                count += yb.numel()
    metrics = {"loss": total / y.numel()}
    if count:
        metrics["acc"] = correct / count
    return metrics


class GeneratedTask(StatelessTask):
    """The adding or copy problem as a Trainer task (see the module docstring)."""

    def __init__(self, problem: str, data: GeneratedConfig, seed: int = 0,
                 dist: distributed.DistInfo | None = None) -> None:
        dist = dist or distributed.current()
        if data.batch_size % dist.world_size:
            raise RnnkitError(f"--batch-size {data.batch_size} must be divisible by the {dist.world_size} processes")
        self.problem, self.cfg, self.seed, self.dist = problem, data, seed, dist
        self.rows = data.batch_size // dist.world_size
        self.valid = self.make(data.valid_size, torch.Generator().manual_seed(10**12 + data.data_seed))
        self.test = self.make(data.test_size, torch.Generator().manual_seed(2 * 10**12 + data.data_seed))

    @property
    def loss_label(self) -> str:
        return "loss (MSE per sequence)" if self.problem == "adding" else "loss (nats per output step)"

    @property
    def scores(self) -> tuple[str, ...]:
        """What --select may pick best.pt by besides the loss: copy's recall accuracy; adding has none."""
        return ("acc",) if self.problem == "copy" else ()

    def make(self, n: int, gen: torch.Generator) -> tuple[Tensor, Tensor]:
        c = self.cfg
        if self.problem == "adding":
            return synthetic.adding_batch(n, c.lag, gen)
        return synthetic.copy_batch(n, c.lag, gen, c.symbols, c.length)

    def baseline(self) -> float:
        """The loss of the memoryless answer: MSE ~0.167 (adding) or ``L log S / (T + 2L)`` (copy)."""
        if self.problem == "adding":
            return synthetic.ADDING_BASELINE_MSE
        return synthetic.copy_baseline(self.cfg.lag, self.cfg.symbols, self.cfg.length)

    def num_batches(self) -> int:
        return self.cfg.steps_per_epoch

    def batches(self, epoch: int, start: int) -> Iterator[tuple[Tensor, Tensor]]:
        for i in range(start, self.cfg.steps_per_epoch):
            # one seed per (seed, epoch, batch, rank): a resumed run draws the very same batches
            index = (epoch * self.cfg.steps_per_epoch + i) * self.dist.world_size + self.dist.rank
            yield self.make(self.rows, torch.Generator().manual_seed(self.seed * 10**9 + index))

    def train_step(self, model: nn.Module, batch: tuple[Tensor, Tensor]) -> tuple[Tensor, int]:
        x, y = batch
        device = next(model.parameters()).device
        out = model(x.to(device))
        if self.problem == "adding":
            loss = F.mse_loss(out.float(), y.to(device))
        else:
            loss = F.cross_entropy(out.float().flatten(0, 1), y.to(device).flatten())
        return loss, x.shape[0]

    def evaluate(self, model: nn.Module) -> dict[str, float]:
        return self.score(model, self.valid)

    def score(self, model: nn.Module, split: tuple[Tensor, Tensor]) -> dict[str, float]:
        return _score(model, *split, self.problem, self.cfg.length if self.problem == "copy" else 0)


class DigitsTask(StatelessTask):
    """Sequential digits as a Trainer task: the training images reshuffled every epoch (seeded)."""

    loss_label = "loss (cross-entropy per sequence)"
    scores = ("acc",)  # what --select may pick best.pt by besides the loss

    def __init__(self, data: DigitsConfig, seed: int = 0, dist: distributed.DistInfo | None = None) -> None:
        dist = dist or distributed.current()
        if data.batch_size % dist.world_size:
            raise RnnkitError(f"--batch-size {data.batch_size} must be divisible by the {dist.world_size} processes")
        x, y = digits.load_digit_sequences()
        train, valid, test = digits.split(y, (data.valid_fraction, data.test_fraction), data.split_seed)
        self.x, self.y = x[train], y[train]
        self.valid, self.test = (x[valid], y[valid]), (x[test], y[test])
        self.cfg, self.seed, self.dist = data, seed, dist

    def num_batches(self) -> int:
        return -(-self.x.shape[0] // self.cfg.batch_size)

    def batches(self, epoch: int, start: int) -> Iterator[tuple[Tensor, Tensor]]:
        order = torch.randperm(self.x.shape[0], generator=torch.Generator().manual_seed(self.seed * 10**6 + epoch))
        B, rows = self.cfg.batch_size, self.cfg.batch_size // self.dist.world_size
        for i in range(start, self.num_batches()):
            idx = order[i * B : (i + 1) * B][self.dist.rank * rows : (self.dist.rank + 1) * rows]
            if idx.numel() == 0:
                idx = order[:rows]  # every rank must take a step (DDP): the last short batch repeats the first rows
            yield self.x[idx], self.y[idx]

    def train_step(self, model: nn.Module, batch: tuple[Tensor, Tensor]) -> tuple[Tensor, int]:
        x, y = batch
        device = next(model.parameters()).device
        return F.cross_entropy(model(x.to(device)).float(), y.to(device)), x.shape[0]

    def evaluate(self, model: nn.Module) -> dict[str, float]:
        return self.score(model, self.valid)

    def score(self, model: nn.Module, split: tuple[Tensor, Tensor]) -> dict[str, float]:
        return _score(model, *split, "seqdigits")


def make_task(problem: str, data: Any, seed: int = 0, dist: distributed.DistInfo | None = None) -> Any:
    if problem not in PROBLEMS:
        raise RnnkitError(f"unknown problem {problem!r}: expected one of {', '.join(PROBLEMS)}")
    check_data(problem, data)
    return DigitsTask(data, seed, dist) if problem == "seqdigits" else GeneratedTask(problem, data, seed, dist)


def model_config(problem: str, model: SequenceConfig, data: Any) -> SequenceConfig:
    """The task's fields of the model config: inputs, outputs and readout."""
    if problem == "adding":
        return dataclasses.replace(model, input_size=2, vocab_size=0, output_size=1, readout="last")
    if problem == "copy":
        return dataclasses.replace(model, input_size=0, vocab_size=data.symbols + 2, output_size=data.symbols + 2,
                                   readout="all")
    return dataclasses.replace(model, input_size=1, vocab_size=0, output_size=10, readout="last")


def train(problem: str, run_dir: Path, configs: dict[str, Any], resume: bool = False, quiet: bool = False,
          on_step: list[Any] | None = None) -> dict[str, Any]:
    """Train ``problem`` into ``run_dir``; returns the Trainer's summary with the test metrics of the best model."""
    data, model_cfg, train_cfg = configs["data"], configs["model"], configs["train"]
    check_data(problem, data)
    with runs.training(run_dir, train_cfg) as dist:
        return _train(problem, run_dir, data, model_cfg, train_cfg, dist, resume, quiet, on_step)


def _train(problem: str, run_dir: Path, data: Any, model_cfg: SequenceConfig, train_cfg: TrainConfig,
           dist: distributed.DistInfo, resume: bool, quiet: bool, on_step: list[Any] | None) -> dict[str, Any]:
    say = (lambda *a: None) if quiet or not dist.is_main else (lambda *a: print(*a, file=sys.stderr))
    task = make_task(problem, data, train_cfg.seed, dist)
    model_cfg = model_config(problem, model_cfg, data)
    torch.manual_seed(train_cfg.seed)
    try:
        model = SequenceModel(model_cfg)
    except (ValueError, TypeError) as e:
        raise RnnkitError(f"model options: {cfgmod.as_flags(str(e), SequenceConfig)}") from None
    resolved = {"task": problem, "data": cfgmod.to_dict(data), "model": cfgmod.to_dict(model_cfg),
                "train": cfgmod.to_dict(train_cfg)}
    if dist.is_main:
        runs.write_config(run_dir, resolved)
    what = (f"lag {data.lag}" if problem != "seqdigits" else
            f"{task.x.shape[0]} / {task.valid[0].shape[0]} / {task.test[0].shape[0]} train / valid / test images")
    base = f"; memoryless baseline {task.baseline():.4f}" if problem != "seqdigits" else ""
    say(f"run {run_dir}: {problem}, {what}{base}; {model_cfg.num_layers}x{model_cfg.hidden_size} "
        f"{model_cfg.cell.upper()}, {sum(p.numel() for p in model.parameters()):,} parameters")
    meta = {"task": problem, "config": resolved, "title": f"{problem}: {model_cfg.cell.upper()} ({run_dir.name})"}
    try:
        trainer = Trainer(model, task, train_cfg, run_dir, meta=meta, on_step=on_step)
    except (ValueError, TypeError) as e:
        raise RnnkitError(f"train options: {cfgmod.as_flags(str(e), TrainConfig)}") from None
    summary = trainer.fit(resume=run_dir / "last.pt" if resume else None)
    model.load_state_dict(runs.load_checkpoint(run_dir, problem)[1]["model"])  # a corrupt best.pt: last.pt
    model.eval()
    with torch.no_grad():
        summary["test"] = task.score(model, task.test)
    if problem != "seqdigits":
        summary["test"]["baseline"] = task.baseline()
    trainer.log.write({"step": trainer.step, "split": "test", **summary["test"]})
    say("test (best model): " + " | ".join(f"{k} {v:.4g}" for k, v in summary["test"].items()))
    return summary


def load_run(run: str | Path, device: str = "cpu") -> tuple[SequenceModel, dict[str, Any], Path]:
    """``(model in eval mode, resolved config, checkpoint path)`` of a trained memory-task run."""
    dev = resolve_device(device)
    path, ckpt = runs.load_checkpoint(run)
    if ckpt.get("task") not in PROBLEMS:
        raise RnnkitError(f"checkpoint {path} is from a {ckpt.get('task')!r} run, not one of {', '.join(PROBLEMS)}")
    try:
        conf = ckpt["config"]
        model_cfg = cfgmod.build(SequenceConfig, conf["model"], f"{path} (model config)", internal=True)
        model = SequenceModel(model_cfg)
        model.load_state_dict(ckpt["model"])
    except (KeyError, TypeError, ValueError, RuntimeError) as e:
        raise RnnkitError(f"checkpoint {path} lacks a valid model ({str(e).splitlines()[0]})") from None
    return model.to(dev).eval(), conf, path
