"""The classifier's data-driven defaults and its check for a model that learned nothing.

Options left at ``auto`` (``-1`` / ``0`` for numbers) are chosen from the training data, so that a
new data set trains with no tuning (the choices are printed as one ``defaults:`` line and saved,
resolved, in ``config.json``; an option given explicitly is never changed):

- ``normalize``: ``series`` for ``.ts`` series (each series z-normalised, its level and scale kept as
  extra features unless constant across series: recordings differ in offset and gain), ``global``
  for other features (speech features are comparable across recordings as they are).
- ``frontend`` / ``downsample``: the conv front end when the median training length is above
  ``TARGET_STEPS``, with ``ceil(log2(median / TARGET_STEPS))`` stride-2 blocks
  (:func:`rnnkit.models.frontend.plan_downsample`); token inputs never take one.
- ``epochs`` (0): enough for ``STEP_BUDGET`` optimizer steps, at least ``MIN_EPOCHS`` and at most
  ``MAX_EPOCHS``: a fixed epoch count gives a 40-series data set a handful of steps, far too few
  to leave chance.
- ``warmup_steps`` (-1): 5% of the run's steps (a warm-up keeps the first Adam steps from throwing
  a fresh model off), at most ``MAX_WARMUP``.
- ``eval_every`` (-1): every epoch when a run has at most ``EVALS`` epochs, else ``EVALS`` times in
  the run (each evaluation writes checkpoints).
- ``select`` (``auto``): the best validation accuracy when the validation split has at least
  ``MIN_SELECT`` sequences; on a smaller one an accuracy is too coarse to pick a model by (a few
  sequences), so the final model of the decayed schedule is kept (``last``).

:func:`chance_warnings` compares the trained model with a model that knows only the class
frequencies: a training loss that stays near their entropy (``ln C`` for balanced classes), or a
validation accuracy no better than always answering the most frequent class, is reported.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor

from rnnkit.config import field
from rnnkit.errors import RnnkitError
from rnnkit.models import frontend as fe
from rnnkit.models.classifier import ClassifierConfig
from rnnkit.training.config import TrainConfig

STEP_BUDGET = 1000
MIN_EPOCHS, MAX_EPOCHS = 10, 1000
MAX_WARMUP = 200
EVALS = 10
MIN_SELECT = 100
BEFORE_AUTO = {"normalize": "global", "frontend": "none", "downsample": 0}  # what runs saved without them had
STUCK = 0.9  # a final training loss above this fraction of the class entropy has not left chance
RECENT = 20  # training losses averaged by the early check
EARLY = 0.3  # the early check runs once, after this fraction of the run's steps


@dataclasses.dataclass
class ClassifyTrainConfig(TrainConfig):
    """TrainConfig with the budget, warm-up and evaluation spacing chosen from the data by default."""

    epochs: int = field(0, f"passes over the training data (0: enough for {STEP_BUDGET} steps, "
                        f"{MIN_EPOCHS}-{MAX_EPOCHS} epochs)")
    warmup_steps: int = field(-1, f"linear warm-up steps before the schedule (-1: 5%% of the steps, at most "
                              f"{MAX_WARMUP})")
    eval_every: int = field(-1, f"evaluate every N steps (0: at the end of each epoch; -1: each epoch, or {EVALS} "
                            f"times in a run of more epochs)")

    def validate(self) -> None:
        """As TrainConfig, with the ``auto`` values allowed."""
        auto = {"epochs": 0, "warmup_steps": -1, "eval_every": -1}
        resolved = dataclasses.replace(self, **{k: max(getattr(self, k), 1 if k == "epochs" else 0)
                                                for k in auto})
        TrainConfig.validate(resolved)
        for name, low in auto.items():
            if getattr(self, name) < low:
                raise RnnkitError(f"--{name.replace('_', '-')} must be >= {low}, got {getattr(self, name)}")


def resolve_model(model: ClassifierConfig, fmt: str, lengths: list[int], token_inputs: bool) -> ClassifierConfig:
    """``model`` with ``normalize``, ``frontend`` and ``downsample`` chosen from the training data if ``auto``."""
    normalize, frontend, down = model.normalize, model.frontend, model.downsample
    median = float(torch.tensor(lengths, dtype=torch.float64).median()) if lengths else 0.0
    if token_inputs:
        return dataclasses.replace(model, normalize="global" if normalize == "auto" else normalize,
                                   frontend="none", downsample=0)
    if normalize == "auto":
        normalize = "series" if fmt == "ts" else "global"
    if frontend == "auto":
        frontend = "conv" if fe.plan_downsample(median) > 0 else "none"
    if down < 0:
        down = fe.plan_downsample(median) if frontend == "conv" else 0
    if down > fe.MAX_DOWNSAMPLE:
        raise RnnkitError(f"--downsample must be at most {fe.MAX_DOWNSAMPLE}, got {down}")
    return dataclasses.replace(model, normalize=normalize, frontend=frontend, downsample=down)


def resolve_train(train: TrainConfig, batches_per_epoch: int) -> TrainConfig:
    """A plain TrainConfig with ``epochs``, ``warmup_steps`` and ``eval_every`` chosen from the data if auto."""
    per_epoch = max(1, batches_per_epoch)
    epochs = train.epochs or min(MAX_EPOCHS, max(MIN_EPOCHS, math.ceil(STEP_BUDGET / per_epoch)))
    total = epochs * per_epoch
    if train.max_steps > 0:
        total = min(total, train.max_steps)
    warmup = train.warmup_steps if train.warmup_steps >= 0 else min(MAX_WARMUP, total // 20)
    every = train.eval_every
    if every < 0:
        every = 0 if epochs <= EVALS else max(1, math.ceil(total / EVALS))
    values = {f.name: getattr(train, f.name) for f in dataclasses.fields(TrainConfig)}
    return TrainConfig(**{**values, "epochs": epochs, "warmup_steps": warmup, "eval_every": every})


def resolve_select(select: str, valid_size: int) -> str:
    """``acc`` / ``loss`` / ``last`` as given, or from the validation split's size when ``auto``."""
    if select != "auto":
        return select
    return "acc" if valid_size >= MIN_SELECT else "last"


def describe(model: ClassifierConfig, train: TrainConfig, select: str) -> str:
    """The one ``defaults:`` line of a run."""
    front = (f"conv front end {model.frontend_channels} channels, /{2 ** model.downsample} steps"
             if model.frontend == "conv" else "no front end")
    return (f"defaults: {model.normalize} normalisation, {front}, {train.epochs} epochs, {train.warmup_steps} "
            f"warm-up steps, evaluate {'every epoch' if train.eval_every == 0 else f'every {train.eval_every} steps'}"
            f", keep the {'final' if select == 'last' else 'best-' + select} model")


def entropy(y: Tensor, num_classes: int) -> float:
    """The cross-entropy (nats) of predicting the class frequencies of ``y``: ``ln C`` when balanced."""
    p = torch.bincount(y, minlength=num_classes).double() / max(1, y.numel())
    p = p[p > 0]
    return float(-(p * p.log()).sum())


def chance_warnings(train_loss: float, train_y: Tensor, valid_acc: float, valid_y: Tensor,
                    num_classes: int) -> list[str]:
    """Warnings (``warning: ...``) for a model at chance: see the module docstring."""
    out = []
    h = entropy(train_y, num_classes)
    if h > 0 and train_loss >= STUCK * h:
        out.append(f"warning: the model stayed at chance: its training loss {train_loss:.3f} is still near the "
                   f"{h:.3f} of predicting the class frequencies (ln {num_classes} = {math.log(num_classes):.3f} "
                   f"for balanced classes); it learned nothing. Try a larger --lr or --epochs, or --frontend conv "
                   f"for long series")
    if valid_y.numel():
        majority = float(torch.bincount(valid_y, minlength=num_classes).max()) / valid_y.numel()
        if valid_acc <= majority and not out:
            out.append(f"warning: validation accuracy {valid_acc:.3f} (of {valid_y.numel()} sequences) is no better "
                       f"than always answering the most frequent class ({majority:.3f}): the model may not "
                       f"generalise beyond its training data")
    return out


class EarlyChanceCheck:
    """A Trainer ``on_step`` callback: once, after ``EARLY`` of the run's steps, warn if the mean of the last
    ``RECENT`` training losses is still near the class entropy, so a stuck run can be stopped early."""

    def __init__(self, recent: Sequence[float], train_y: Tensor, num_classes: int, say: Callable[..., Any]) -> None:
        self.recent, self.say, self.done = recent, say, False
        self.entropy = entropy(train_y, num_classes)

    def __call__(self, trainer: Any) -> None:
        if self.done or trainer.step < max(RECENT, EARLY * trainer.total_steps()) or not self.recent:
            return
        self.done = True
        loss = sum(self.recent) / len(self.recent)
        if self.entropy > 0 and loss >= STUCK * self.entropy:
            self.say(f"warning: after {trainer.step} steps the training loss ({loss:.3f}) is still near the "
                     f"{self.entropy:.3f} of predicting the class frequencies: the model is not learning so far")


def split_notes(train_y: Tensor, valid_y: Tensor, classes: list[str]) -> list[str]:
    """Notes for classes the validation split lacks (their accuracy is never measured there)."""
    present = set(valid_y.tolist())
    missing = [c for i, c in enumerate(classes) if i not in present]
    if not missing:
        return []
    counts = torch.bincount(train_y, minlength=len(classes)).tolist()
    few = ", ".join(f"{c} ({counts[classes.index(c)]} in training)" for c in missing[:10])
    return [f"note: {len(missing)} of {len(classes)} classes have no validation example: {few}"
            f"{' ...' if len(missing) > 10 else ''}; pass --valid, or give them more examples"]
