"""Many-to-one sequence classification: ``rnnkit train classify``.

Texts (TSV, CSV, ``label sentence`` lines), UCR/UEA multivariate series (``.ts``) or WAV
recordings (a directory or tar archive) are read by :mod:`rnnkit.tasks.classify_data` and
classified by a :class:`~rnnkit.models.classifier.SequenceClassifier`.

Splits: ``--valid`` / ``--test`` files, else a seeded stratified ``--valid-fraction`` of the training
data is held out for validation; for ``wav-dir`` without ``--test`` the recordings whose index is
below ``--test-below`` are the test set (FSDD's usual split). Training batches are bucketed by
length (:func:`rnnkit.data.batching.bucket_batches`, reshuffled per epoch from the seed, so a resumed
run sees the same batches); evaluation reads batches sorted by length. The loss is cross-entropy,
optionally weighted per class (``--class-weights balanced``: ``N / (C n_c)``, as scikit-learn),
the same weights in training and validation. ``best.pt`` holds the model ``--select`` picks (the best
validation accuracy by default, ties going to the lower loss; or macro-F1, the loss, the last
evaluation); it scores the test set after training (accuracy, macro-F1, ``confusion.png``,
``confusion.json``) and answers ``rnnkit predict`` and ``rnnkit evaluate``. Runs written before
``--select`` moved to the Trainer kept the best accuracy in ``best-acc.pt``; they load as they did.

Options left at ``auto`` (normalisation, the conv front end and its downsampling, epochs, warm-up,
evaluation spacing, the model kept) are chosen from the training data by
:mod:`rnnkit.tasks.classify_auto`, printed as one ``defaults:`` line and saved resolved in
``config.json``; a model that stays at chance says so (``warning:``), while training and after.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit import config as cfgmod
from rnnkit.config import field
from rnnkit.data.audio import AudioConfig
from rnnkit.data.batching import bucket_batches, pad_sequences, sorted_batches
from rnnkit.data.vocab import Vocab
from rnnkit.errors import RnnkitError
from rnnkit.metrics import classification as metrics
from rnnkit.metrics.display import show_all
from rnnkit.models import frontend as fe
from rnnkit.models.classifier import ClassifierConfig, SequenceClassifier
from rnnkit.tasks import classify_auto as ca
from rnnkit.tasks import classify_data as cd
from rnnkit.tasks import classify_search, runs
from rnnkit.training import TrainConfig, Trainer, checkpoint, distributed
from rnnkit.training.task import resolve_select
from rnnkit.training.trainer import resolve_device

TASK = "classify"
POOL = 50  # bucketing pool, in batches


@dataclasses.dataclass
class DataConfig:
    """Where the labelled sequences are, how they are read, split and batched."""

    data: str = field("", "training data: a TSV/CSV/label-sentence file, a .ts file, or a directory or tar "
                      "archive of WAVs", path=True)
    valid: str | None = field(None, "validation data in the same format (default: --valid-fraction of --data)",
                              path=True)
    test: str | None = field(None, "test data in the same format, scored with the best model after training",
                             path=True)
    format: str = field("auto", "how --data is written; auto: a directory or archive is wav-dir, .ts is ts, .csv "
                        "is csv, anything else tsv", choices=("auto", *cd.FORMATS))
    label_column: str = field("0", "tsv/csv: label column, a 0-based index or (with --header) a name")
    text_column: str = field("1", "tsv/csv: text column, a 0-based index or (with --header) a name")
    header: bool = field(False, "tsv/csv: the first row names the columns")
    encoding: str = field("utf-8", "text formats: file encoding, e.g. latin-1")
    tokens: str = field("word", "text formats: whitespace-separated words or characters", choices=("word", "char"))
    lowercase: bool = field(False, "text formats: lower-case the text before splitting it")
    min_freq: int = field(1, "text formats: tokens seen fewer times in training become <unk>")
    nan: str = field("fill", "ts: missing values filled forward in time (trailing padding trimmed), or an error",
                     choices=("fill", "error"))
    test_below: int = field(5, "wav-dir without --test: recordings whose index (the last '_' field of the name) "
                            "is below this are the test set; FSDD's usual split is 5 (0: no test set)")
    valid_fraction: float = field(0.1, "fraction of every class of --data held out for validation without --valid")
    split_seed: int = field(0, "seed of the validation hold-out")
    class_weights: str = field("none", "loss weight per class: none, or balanced (N / (C n_c), for imbalanced "
                               "labels)", choices=("none", "balanced"))
    # [data] select of runs saved before --select moved to [train]: no flag, read only to load those runs
    select: str | None = dataclasses.field(default=None, metadata={"moved": "train"})
    auto: float = field(0.0, "seconds of a small search first (hidden size, learning rate; each scored on the "
                        "validation split, see rnnkit.tasks.classify_search), then the run trains the winner; 0: off")
    batch_size: int = field(32, "sequences per training step (split across processes under torchrun)")
    eval_batch_size: int = field(256, "sequences per forward pass when evaluating")


def sections() -> dict[str, type]:
    return {"data": DataConfig, "audio": AudioConfig, "model": ClassifierConfig, "train": ca.ClassifyTrainConfig}


def resolve_format(data: DataConfig) -> DataConfig:
    """``data`` with ``--format auto`` replaced by the format of ``--data`` (:func:`classify_data.detect_format`);
    the run saves the resolved one, which reads its other files."""
    if data.format != "auto" or not data.data:
        return data
    return dataclasses.replace(data, format=cd.detect_format(data.data))


def check_data(data: DataConfig, audio_cfg: AudioConfig) -> None:
    """One-line errors for option values no run can use."""
    if not data.data:
        raise RnnkitError("--data is required: the training data")
    if data.batch_size < 1 or data.eval_batch_size < 1:
        raise RnnkitError(f"--batch-size and --eval-batch-size must be >= 1, got {data.batch_size} and "
                          f"{data.eval_batch_size}")
    if not 0 < data.valid_fraction < 1:
        raise RnnkitError(f"--valid-fraction must be in (0, 1), got {data.valid_fraction}")
    if not data.auto >= 0:
        raise RnnkitError(f"--auto must be a number of seconds >= 0, got {data.auto}")
    if data.test_below < 0:
        raise RnnkitError(f"--test-below must be >= 0, got {data.test_below}")
    if data.min_freq < 1:
        raise RnnkitError(f"--min-freq must be >= 1, got {data.min_freq}")
    if data.format == "wav-dir":
        audio_cfg.validate()


@dataclasses.dataclass
class Encoded:
    """A split ready for batching: ``inputs`` (``(T,)`` ids or ``(T, I)`` features), ``y (N,)`` class ids."""

    inputs: list[Tensor]
    y: Tensor
    where: list[str]

    @property
    def lengths(self) -> list[int]:
        return [x.shape[0] for x in self.inputs]


def batch_inputs(inputs: list[Tensor]) -> tuple[Tensor, Tensor]:
    """``(padded (B, T) or (B, T, I), lengths (B,))``; padded steps are masked by the model."""
    return pad_sequences(inputs, 0)


class ClassifyTask:
    """Sequence classification as a Trainer task (see the module docstring)."""

    unit = "seq"
    loss_label = "loss (cross-entropy per sequence)"
    scores = ("acc", "macro_f1")  # what --select may pick best.pt by, besides the loss
    fractions = ("acc", "macro_f1")  # stored in [0, 1], printed as percentages (rnnkit.metrics.display)

    def __init__(self, train: Encoded, valid: Encoded, data: DataConfig, weights: Tensor | None, seed: int = 0,
                 dist: distributed.DistInfo | None = None) -> None:
        dist = dist or distributed.current()
        if data.batch_size % dist.world_size:
            raise RnnkitError(f"--batch-size {data.batch_size} must be divisible by the {dist.world_size} processes")
        self.train, self.valid, self.cfg, self.weights, self.seed, self.dist = train, valid, data, weights, seed, dist
        self._lengths = train.lengths
        self.recent: deque[float] = deque(maxlen=ca.RECENT)  # the last training losses

    def _epoch_batches(self, epoch: int) -> list[list[int]]:
        # under DDP every process must take the same number of full steps
        return bucket_batches(self._lengths, self.cfg.batch_size, self.seed, epoch, POOL,
                              drop_last=self.dist.enabled)

    def num_batches(self) -> int:
        return len(self._epoch_batches(0))  # the same count every epoch: pools are cut the same way

    def start_epoch(self, epoch: int) -> None:
        pass

    def batches(self, epoch: int, start: int) -> Iterator[tuple[Tensor, Tensor, Tensor]]:
        rows = self.cfg.batch_size // self.dist.world_size
        for idx in self._epoch_batches(epoch)[start:]:
            if self.dist.enabled:
                idx = idx[self.dist.rank * rows : (self.dist.rank + 1) * rows]
            x, lengths = batch_inputs([self.train.inputs[i] for i in idx])
            yield x, lengths, self.train.y[idx]

    def train_step(self, model: nn.Module, batch: tuple[Tensor, Tensor, Tensor]) -> tuple[Tensor, int]:
        x, lengths, y = batch
        device = _device(model)
        logits = model(x.to(device), lengths)
        w = self.weights.to(device) if self.weights is not None else None
        loss = F.cross_entropy(logits.float(), y.to(device), weight=w)
        self.recent.append(float(loss.detach()))  # for the early check that training left chance
        return loss, y.shape[0]

    @property
    def default_select(self) -> str:
        return ca.resolve_select("auto", len(self.valid.inputs))

    def evaluate(self, model: nn.Module) -> dict[str, float]:
        return score(model, self.valid, self.cfg.eval_batch_size, self.weights)[0]

    def describe(self, loss: float) -> dict[str, float]:
        return {}

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass


def _device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


def predict_log_proba(model: nn.Module, inputs: list[Tensor], batch_size: int) -> Tensor:
    """``(N, C)`` class log-probabilities of ``inputs`` in their order, batched by length."""
    device = _device(model)
    out: list[Tensor | None] = [None] * len(inputs)
    with torch.no_grad():
        for idx in sorted_batches([x.shape[0] for x in inputs], batch_size):
            x, lengths = batch_inputs([inputs[i] for i in idx])
            logp = torch.log_softmax(model(x.to(device), lengths).float(), dim=-1).cpu()
            for row, i in enumerate(idx):
                out[i] = logp[row]
    return torch.stack(out)  # type: ignore[arg-type]


def predict_proba(model: nn.Module, inputs: list[Tensor], batch_size: int) -> Tensor:
    """``(N, C)`` class probabilities of ``inputs`` in their order."""
    return predict_log_proba(model, inputs, batch_size).exp()


def score(model: nn.Module, split: Encoded, batch_size: int,
          weights: Tensor | None = None) -> tuple[dict[str, float], Tensor]:
    """``({"loss", "acc", "macro_f1"}, confusion matrix (C, C))`` of ``model`` on ``split``.

    ``loss`` is the (class-weighted, as in training) mean cross-entropy."""
    logp = predict_log_proba(model, split.inputs, batch_size)
    loss = F.nll_loss(logp, split.y, weight=weights)
    cm = metrics.confusion_matrix(split.y, logp.argmax(1), logp.shape[1])
    return {"loss": float(loss), **metrics.summary(cm)}, cm


def balanced_weights(y: Tensor, num_classes: int) -> Tensor:
    """``N / (C n_c)`` per class: every class weighs the same in the loss in total."""
    counts = torch.bincount(y, minlength=num_classes).float()
    return y.numel() / (num_classes * counts.clamp(min=1))


@dataclasses.dataclass
class Prepared:
    """Everything read from the data: the splits as tensors, the classes, and the vocabulary (texts)."""

    train: Encoded
    valid: Encoded
    test: Encoded | None
    classes: list[str]
    vocab: Vocab | None
    input_size: int


def prepare(data: DataConfig, audio_cfg: AudioConfig, say: Any = print) -> Prepared:
    """Read, split, label and encode the data as ``data`` says (see the module docstring)."""
    data = resolve_format(data)
    check_data(data, audio_cfg)
    train = cd.read_split(data.data, data, audio_cfg, say)
    test = cd.read_split(data.test, data, audio_cfg, say) if data.test else None
    if test is None and data.format == "wav-dir" and data.test_below > 0:
        train, test = cd.split_by_index(train, data.test_below)
    if data.valid:
        valid = cd.read_split(data.valid, data, audio_cfg, say)
    else:
        kept, held = cd.stratified_holdout(train.labels or [], data.valid_fraction, data.split_seed)
        if not held:
            raise RnnkitError(f"{data.data}: too few examples to hold out a validation set; pass --valid")
        train, valid = train.subset(kept), train.subset(held)
    classes = cd.class_order(train.labels or [])
    if len(classes) < 2:
        raise RnnkitError(f"{data.data}: the training data has {len(classes)} class ({', '.join(classes)}); "
                          f"a classifier needs at least 2")
    vocab = None
    if data.format in cd.TEXT_FORMATS:
        vocab = cd.build_vocab(train.items, data.tokens, data.min_freq)

    def encode(split: cd.Split, what: str) -> Encoded:
        inputs = [cd.encode_tokens(t, vocab) for t in split.items] if vocab is not None else list(split.items)
        return Encoded(inputs, cd.label_ids(split, classes, what), split.where)

    tr = encode(train, "training data")
    size = 0 if vocab is not None else tr.inputs[0].shape[1]
    for split in (valid, test):
        if split is not None and vocab is None and split.items[0].shape[1] != size:
            raise RnnkitError(f"{split.where[0]}: {split.items[0].shape[1]} channels, the training data has {size}")
    return Prepared(tr, encode(valid, "validation data"), encode(test, "test data") if test is not None else None,
                    classes, vocab, size)


def model_config(model: ClassifierConfig, prep: Prepared) -> ClassifierConfig:
    """The task's fields of the model config: inputs and classes."""
    return dataclasses.replace(model, vocab_size=len(prep.vocab) if prep.vocab is not None else 0,
                               input_size=prep.input_size, num_classes=len(prep.classes))


def train(run_dir: Path, configs: dict[str, Any], resume: bool = False, quiet: bool = False) -> dict[str, Any]:
    """Train a classifier into ``run_dir``; returns the Trainer's summary with the test metrics of the best model."""
    configs = {**configs, "data": resolve_format(configs["data"])}
    data, audio_cfg, train_cfg = configs["data"], configs["audio"], configs["train"]
    check_data(data, audio_cfg)
    with runs.training(run_dir, train_cfg) as dist:
        return _train(run_dir, configs, dist, resume, quiet)


def _train(run_dir: Path, configs: dict[str, Any], dist: distributed.DistInfo, resume: bool,
           quiet: bool) -> dict[str, Any]:
    say = (lambda *a: None) if quiet or not dist.is_main else (lambda *a: print(*a, file=sys.stderr))
    if configs["data"].auto > 0 and not resume:
        configs = classify_search.search(run_dir, configs, configs["data"].auto,
                                         lambda d, c: _train(d, c, dist, False, True), say)
    data, audio_cfg, model_cfg, train_cfg = configs["data"], configs["audio"], configs["model"], configs["train"]
    if train_cfg.threads > 0:
        torch.set_num_threads(train_cfg.threads)  # reading WAVs computes features with torch too
    prep = prepare(data, audio_cfg, say)
    if resume:
        saved = checkpoint.load(run_dir / "last.pt", TASK)
        if saved.get("classes") != prep.classes or (
                prep.vocab is not None and Vocab.from_dict(saved["vocab"]) != prep.vocab):
            raise RnnkitError(f"the classes or vocabulary of {data.data} differ from those in {run_dir}/last.pt; "
                              f"resume with the same training data and options")
        # a run saved before the data-driven defaults existed had global normalisation and no front end
        old = {k: v for k, v in ca.BEFORE_AUTO.items() if k not in saved.get("config", {}).get("model", {})}
        model_cfg = dataclasses.replace(model_cfg, **old)
    model_cfg = ca.resolve_model(model_config(model_cfg, prep), data.format, prep.train.lengths,
                                 prep.vocab is not None)
    torch.manual_seed(train_cfg.seed)
    try:
        model = SequenceClassifier(model_cfg)
    except (ValueError, TypeError) as e:
        raise RnnkitError(f"model options: {cfgmod.as_flags(str(e), ClassifierConfig)}") from None
    if prep.vocab is None:
        extra = fe.series_extra_stats(prep.train.inputs) if model.normalize == "series" else (None, None)
        model.set_normalization(*cd.feature_stats(prep.train.inputs), *extra)
    weights = balanced_weights(prep.train.y, len(prep.classes)) if data.class_weights == "balanced" else None
    task = ClassifyTask(prep.train, prep.valid, data, weights, train_cfg.seed, dist)
    train_cfg = ca.resolve_train(train_cfg, task.num_batches())
    train_cfg = dataclasses.replace(train_cfg, select=resolve_select(train_cfg.select, task))  # saved resolved
    resolved = {"task": TASK, **{name: cfgmod.to_dict(c) for name, c in
                                 (("data", data), ("audio", audio_cfg), ("model", model_cfg), ("train", train_cfg))}}
    extra_meta = {"classes": prep.classes, "vocab": prep.vocab.to_dict() if prep.vocab is not None else None}
    if dist.is_main:
        runs.write_config(run_dir, resolved)
    sizes = " / ".join(str(len(s.inputs)) if s is not None else "-" for s in (prep.train, prep.valid, prep.test))
    inputs = (f"{len(prep.vocab):,} {data.tokens}s" if prep.vocab is not None else f"{prep.input_size} features")
    say(f"run {run_dir}: {data.format}, {sizes} train / valid / test sequences, {len(prep.classes)} classes, "
        f"{inputs}; {model_cfg.num_layers}x{model_cfg.hidden_size} {'bi' if model_cfg.bidirectional else ''}"
        f"{model_cfg.cell.upper()} {model_cfg.pooling} pooling, {sum(p.numel() for p in model.parameters()):,} "
        f"parameters")
    say(ca.describe(model_cfg, train_cfg, train_cfg.select))
    for note in ca.split_notes(prep.train.y, prep.valid.y, prep.classes):
        say(note)
    meta = {"task": TASK, "config": resolved, **extra_meta,
            "title": f"classify: {model_cfg.cell.upper()} ({run_dir.name})"}
    try:
        trainer = Trainer(model, task, train_cfg, run_dir, meta=meta,
                          on_step=[ca.EarlyChanceCheck(task.recent, prep.train.y, len(prep.classes), say)])
    except (ValueError, TypeError) as e:
        raise RnnkitError(f"train options: {cfgmod.as_flags(str(e), TrainConfig)}") from None
    summary = trainer.fit(resume=run_dir / "last.pt" if resume else None)
    chosen, ckpt = runs.load_checkpoint(run_dir, TASK)
    model.load_state_dict(ckpt["model"])
    model.eval()
    # a model that learned nothing must say so: judged on the whole training split, in eval mode
    fitted = score(model, prep.train, data.eval_batch_size, weights)[0]
    valid = score(model, prep.valid, data.eval_batch_size, weights)[0]
    summary["train_fit"] = fitted
    summary["warnings"] = ca.chance_warnings(fitted["loss"], prep.train.y, valid["acc"], prep.valid.y,
                                             len(prep.classes))
    for line in summary["warnings"]:
        trainer.log.write({"step": trainer.step, "split": "warning", "message": line})
        if dist.is_main:
            print(line, file=sys.stderr)  # even with quiet=True: a chance-level model is never silent
    if prep.test is None:
        return summary
    test, cm = score(model, prep.test, data.eval_batch_size, weights)
    summary["test"] = test
    trainer.log.write({"step": trainer.step, "split": "test", "checkpoint": chosen.name, **test})
    if dist.is_main:
        write_confusion(run_dir, cm, prep.classes, f"test, {len(prep.test.inputs)} sequences, {chosen.name}")
    say(f"test ({chosen.name}): " + show_all(test, ClassifyTask.fractions) +
        f"; confusion matrix in {run_dir / 'confusion.png'}")
    return summary


def write_confusion(run_dir: Path, cm: Tensor, classes: list[str], title: str) -> None:
    """``confusion.png`` and ``confusion.json`` (``{"labels", "matrix"}``, rows true, columns predicted)."""
    metrics.plot_confusion(cm, classes, run_dir / "confusion.png", title)
    (run_dir / "confusion.json").write_text(json.dumps({"labels": classes, "matrix": cm.tolist()}) + "\n",
                                            encoding="utf-8")


@dataclasses.dataclass
class LoadedRun:
    """A trained classifier and what it needs to read new inputs."""

    model: SequenceClassifier
    classes: list[str]
    vocab: Vocab | None
    data: DataConfig
    audio: AudioConfig
    path: Path


def evaluate_file(run: str | Path, path: str, batch_size: int | None = None,
                  device: str = "cpu") -> dict[str, Any]:
    """Accuracy, macro-F1, the (unweighted) loss and the confusion matrix of a run on a labelled file,
    read as the run's training data was (format, columns, tokens; audio features). ``batch_size``
    None: the run's ``--eval-batch-size``."""
    loaded = load_run(run, device)
    data = loaded.data
    split = cd.read_split(str(path), data, loaded.audio)
    if loaded.vocab is not None:
        inputs = [cd.encode_tokens(t, loaded.vocab) for t in split.items]
    else:
        inputs = list(split.items)
        want = loaded.model.config.input_size
        if inputs and inputs[0].shape[1] != want:
            raise RnnkitError(f"{split.where[0]}: {inputs[0].shape[1]} channels, the run was trained on {want}")
    encoded = Encoded(inputs, cd.label_ids(split, loaded.classes, f"file {path}"), split.where)
    res, cm = score(loaded.model, encoded, batch_size or data.eval_batch_size)
    return {"checkpoint": str(loaded.path), "data": str(path), "sequences": len(inputs), **res,
            "confusion": {"labels": loaded.classes, "matrix": cm.tolist()}}


def load_run(run: str | Path, device: str = "cpu") -> LoadedRun:
    """The model (eval mode) and input settings of a trained ``classify`` run: its best.pt (else last.pt;
    an older run's ``best-acc.pt`` when its ``select`` chose that), or the checkpoint file given."""
    dev = resolve_device(device)
    path, ckpt = runs.load_checkpoint(run, TASK)
    try:
        conf = ckpt["config"]
        model_cfg = cfgmod.build(ClassifierConfig, conf["model"], f"{path} (model config)", internal=True)
        model = SequenceClassifier(model_cfg)
        model.load_state_dict(ckpt["model"])
        data = cfgmod.build(DataConfig, conf["data"], f"{path} (data config)", internal=True)
        audio_cfg = cfgmod.build(AudioConfig, conf["audio"], f"{path} (audio config)", internal=True)
        vocab = Vocab.from_dict(ckpt["vocab"]) if ckpt.get("vocab") else None
        classes = list(ckpt["classes"])
    except (KeyError, TypeError, ValueError, RuntimeError) as e:
        raise RnnkitError(f"checkpoint {path} lacks a valid classifier ({str(e).splitlines()[0]})") from None
    return LoadedRun(model.to(dev).eval(), classes, vocab, data, audio_cfg, path)
