"""Language modelling: train on a text, evaluate perplexity / bits per character, sample.

Two ways to read a text:

- ``bptt > 0``, truncated BPTT (:class:`LMTask`): the text is one token stream cut into
  ``batch_size`` parallel streams, trained over chunks of ``bptt`` steps with the hidden state
  carried from chunk to chunk (:mod:`rnnkit.data.streams`); evaluation reads the validation
  text the same way (:func:`stream_nll`).
- ``bptt = 0``, full BPTT (:class:`LineLMTask`): every line is a sequence of its own
  (names, sentences, ...), batched with padding and lengths, the gradient flowing through
  the whole line (:mod:`rnnkit.data.lines`); no state is carried between lines.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit import config as cfgmod
from rnnkit.config import field
from rnnkit.data import IGNORE, LineBatches, StreamBatches, Vocab, batchify, line_sequences, pad_batch, read_text
from rnnkit.errors import RnnkitError
from rnnkit.models.lm import LanguageModel, LMConfig
from rnnkit.models.sampling import SampleConfig
from rnnkit.state import detach_state, map_state
from rnnkit.tasks import options, runs
from rnnkit.training import TrainConfig, checkpoint, distributed
from rnnkit.training.trainer import resolve_device

TASK = "lm"
UNKNOWN_LIMIT = 0.5  # refuse to evaluate a text whose tokens are mostly unknown to the vocabulary


@dataclasses.dataclass
class LMDataConfig:
    """Where the text comes from and how it is cut into batches."""

    data: str = field("", "training text file (UTF-8)", path=True)
    valid: str | None = field(None, "validation text file (default: the end of --data, see --valid-fraction)",
                              path=True)
    test: str | None = field(None, "test text file, scored with the best model after training", path=True)
    valid_fraction: float = field(0.1, "fraction at the end of --data held out for validation without --valid")
    level: str = field("char", "tokens: characters, or whitespace-separated words with <eos> per line",
                       choices=("char", "word"))
    min_freq: int = field(1, "word level: words seen fewer times in training become <unk>")
    batch_size: int = field(64, "parallel streams B (split across processes under torchrun)")
    bptt: int = field(128, "truncated BPTT: steps K per chunk; the state carries across chunks, gradients "
                      "don't. 0: full BPTT over each line as a sequence of its own")
    eval_batch_size: int = field(16, "parallel streams when evaluating")


def check_data_config(data: LMDataConfig) -> None:
    """One-line errors for values no text can satisfy."""
    for name in ("batch_size", "eval_batch_size", "min_freq"):
        if getattr(data, name) < 1:
            raise RnnkitError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(data, name)}")
    if data.bptt < 0:
        raise RnnkitError(f"--bptt must be >= 1 (truncated BPTT), or 0 (whole lines), got {data.bptt}")


SECTIONS = {"data": LMDataConfig, "model": LMConfig, "train": TrainConfig}


@torch.no_grad()
def stream_nll(model: LanguageModel, ids: Tensor, batch_size: int, bptt: int) -> tuple[float, int]:
    """``(total negative log-likelihood in nats, tokens predicted)`` of ``ids`` ``(N,)``.

    The text is cut into ``batch_size`` contiguous streams (fewer for a short text), read in
    chunks with the state carried; the tokens past the last full stream are read after it,
    with its state. Each stream's first token has no context and is not scored, so ``N - B``
    tokens are: with ``batch_size=1`` every token but the first, with the full history.
    """
    device = next(model.parameters()).device
    B = max(1, min(batch_size, ids.numel() // 2))
    data = batchify(ids, B)
    total, count, state = 0.0, 0, None
    for x, y in StreamBatches(data, bptt).chunks():
        logits, state = model(x.to(device), state)
        total += float(F.cross_entropy(logits.flatten(0, 1).float(), y.to(device).flatten(), reduction="sum"))
        count += y.numel()
    tail = ids[B * data.size(1) - 1:]  # the last stream's final token, then the rest
    if tail.numel() > 1:
        last = map_state(state, lambda t: t[:, B - 1 : B].contiguous())  # (L, 1, H): the last stream
        for x, y in StreamBatches(tail.view(1, -1), bptt).chunks():
            logits, last = model(x.to(device), last)
            total += float(F.cross_entropy(logits.flatten(0, 1).float(), y.to(device).flatten(), reduction="sum"))
            count += y.numel()
    return total, count


@torch.no_grad()
def lines_nll(model: LanguageModel, seqs: list[Tensor], batch_size: int) -> tuple[float, int]:
    """``(total negative log-likelihood in nats, tokens predicted)`` of whole-line sequences
    (see :func:`rnnkit.data.line_sequences`): every token after each line's start, its end included."""
    device = next(model.parameters()).device
    total, count = 0.0, 0
    for i in range(0, len(seqs), batch_size):
        x, y, lengths = pad_batch(seqs[i : i + batch_size])
        logits, _ = model(x.to(device), lengths=lengths)
        total += float(F.cross_entropy(logits.flatten(0, 1).float(), y.to(device).flatten(), reduction="sum",
                                       ignore_index=IGNORE))
        count += int(lengths.sum())
    return total, count


def metrics_of(loss: float, level: str) -> dict[str, float]:
    """Derived metrics: perplexity, and bits per character at character level."""
    out = {"ppl": math.exp(min(loss, 700.0))}
    if level == "char":
        out["bpc"] = loss / math.log(2)
    return out


class LMTask:
    """Truncated-BPTT language modelling on one token stream (see the module docstring)."""

    unit = "tok"
    loss_label = "loss (nats per token)"

    def __init__(self, train_ids: Tensor, valid_ids: Tensor, data: LMDataConfig,
                 dist: distributed.DistInfo | None = None) -> None:
        dist = dist or distributed.current()
        if data.batch_size % dist.world_size:
            raise RnnkitError(f"--batch-size {data.batch_size} must be divisible by the {dist.world_size} processes")
        rows = data.batch_size // dist.world_size
        streams = batchify(train_ids, data.batch_size, "training text")
        self.train = StreamBatches(streams[dist.rank * rows : (dist.rank + 1) * rows], data.bptt)
        self.valid_ids = valid_ids
        self.cfg = data
        self.state: Any = None

    def num_batches(self) -> int:
        return len(self.train)

    def start_epoch(self, epoch: int) -> None:
        self.state = None  # each epoch reads the streams from their start

    def batches(self, epoch: int, start: int) -> Iterator[tuple[Tensor, Tensor]]:
        return self.train.chunks(start)

    def train_step(self, model: nn.Module, batch: tuple[Tensor, Tensor]) -> tuple[Tensor, int]:
        x, y = batch
        device = next(model.parameters()).device
        if self.state is not None:
            self.state = map_state(self.state, lambda t: t.to(device))
        logits, state = model(x.to(device, non_blocking=True), self.state)
        self.state = detach_state(state)  # truncate: the next chunk's gradient stops here
        loss = F.cross_entropy(logits.flatten(0, 1).float(), y.to(device, non_blocking=True).flatten())
        return loss, y.numel()

    def evaluate(self, model: nn.Module) -> dict[str, float]:
        total, count = stream_nll(model, self.valid_ids, self.cfg.eval_batch_size, self.cfg.bptt)
        loss = total / count
        return {"loss": loss, **metrics_of(loss, self.cfg.level)}

    def describe(self, loss: float) -> dict[str, float]:
        return metrics_of(loss, self.cfg.level)

    def state_dict(self) -> dict[str, Any]:
        # LSTMState -> plain tuple: a weights-only checkpoint holds tensors and builtin types only
        return {"state": tuple(self.state) if isinstance(self.state, tuple) else self.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.state = state["state"]  # the layers take a plain (h, c); on the CPU until train_step moves it


class LineLMTask(LMTask):
    """Full BPTT over whole lines, each its own sequence (see the module docstring)."""

    unit = "tok"

    def __init__(self, train: list[Tensor], valid: list[Tensor], data: LMDataConfig, seed: int = 0,
                 dist: distributed.DistInfo | None = None) -> None:
        dist = dist or distributed.current()
        if data.batch_size % dist.world_size:
            raise RnnkitError(f"--batch-size {data.batch_size} must be divisible by the {dist.world_size} processes")
        self.train = LineBatches(train, data.batch_size, seed, dist.rank, dist.world_size)
        self.valid = valid
        self.cfg = data
        self.state = None

    def batches(self, epoch: int, start: int) -> Iterator[tuple[Tensor, Tensor, Tensor]]:
        return self.train.batches(epoch, start)

    def train_step(self, model: nn.Module, batch: tuple[Tensor, Tensor, Tensor]) -> tuple[Tensor, int]:
        x, y, lengths = batch
        device = next(model.parameters()).device
        logits, _ = model(x.to(device), lengths=lengths)
        loss = F.cross_entropy(logits.flatten(0, 1).float(), y.to(device).flatten(), ignore_index=IGNORE)
        return loss, int(lengths.sum())

    def evaluate(self, model: nn.Module) -> dict[str, float]:
        total, count = lines_nll(model, self.valid, self.cfg.eval_batch_size)
        loss = total / count
        return {"loss": loss, **metrics_of(loss, self.cfg.level)}


# -- data ------------------------------------------------------------------------------
def load_texts(data: LMDataConfig) -> tuple[str, str]:
    """``(train, valid)`` texts: two files, or one file split at ``1 - valid_fraction``."""
    if not data.data:
        raise RnnkitError("no training text: give --data FILE (or a recipe with [data] data = ...)")
    text = read_text(data.data, "training text")
    if data.valid:
        return text, read_text(data.valid, "validation text")
    if not 0 < data.valid_fraction < 1:
        raise RnnkitError(f"--valid-fraction must be in (0, 1), got {data.valid_fraction}")
    cut = int(len(text) * (1 - data.valid_fraction))
    if data.level == "word" or data.bptt == 0:  # cut at a line break: no word or line is split
        nl = text.rfind("\n", 0, cut)
        cut = nl + 1 if nl > 0 else cut
    return text[:cut], text[cut:]


def encode_checked(vocab: Vocab, text: str, what: str) -> Tensor:
    """Ids of ``text``; a clear error when it is mostly unknown to ``vocab``, a warning when partly."""
    ids, unknown = vocab.encode(text)
    if ids.numel() < 2:
        raise RnnkitError(f"{what} holds fewer than 2 {vocab.level} tokens; nothing to predict")
    _check_unknown(vocab, unknown, ids.numel(), what)
    return ids


def encode_lines_checked(vocab: Vocab, text: str, what: str) -> list[Tensor]:
    """Whole-line sequences of ``text`` (``[sep] + line + [sep]``), checked like :func:`encode_checked`."""
    lines, unknown = vocab.encode_lines(text)
    seqs = line_sequences(lines, vocab.sep)
    if not seqs:
        raise RnnkitError(f"{what} holds no non-empty line; nothing to predict")
    _check_unknown(vocab, unknown, sum(s.numel() - 2 for s in seqs), what)
    return seqs


def _check_unknown(vocab: Vocab, unknown: int, total: int, what: str) -> None:
    frac = unknown / max(1, total)
    if frac > UNKNOWN_LIMIT:
        raise RnnkitError(f"{what} does not match the vocabulary: {frac:.0%} of its {vocab.level}s are unknown "
                          f"(a different language or level?); use a run trained on similar text")
    if unknown:
        print(f"note: {unknown} of {total} {vocab.level}s in {what} are not in the vocabulary "
              f"and count as <unk>", file=sys.stderr)


# -- commands --------------------------------------------------------------------------
def add_train_flags(p: Any) -> None:
    options.add_train_flags(p, SECTIONS, TASK)


def resolve_configs(args: Any) -> tuple[Path, dict[str, Any], bool]:
    """``(run_dir, {section: config}, resume)`` from recipe, saved run config and flags."""
    return options.resolve_configs(args, TASK, SECTIONS)


def train(run_dir: Path, configs: dict[str, Any], resume: bool = False, title: str = "",
          quiet: bool = False) -> dict[str, Any]:
    """Train a language model into ``run_dir``; returns the Trainer's summary (plus test metrics)."""
    data, model_cfg, train_cfg = configs["data"], configs["model"], configs["train"]
    check_data_config(data)
    with runs.training(run_dir, train_cfg) as dist:
        return _train(run_dir, data, model_cfg, train_cfg, dist, resume, title, quiet)


def _train(run_dir: Path, data: LMDataConfig, model_cfg: LMConfig, train_cfg: TrainConfig,
           dist: distributed.DistInfo, resume: bool, title: str, quiet: bool) -> dict[str, Any]:
    say = (lambda *a: None) if quiet or not dist.is_main else (lambda *a: print(*a, file=sys.stderr))
    train_text, valid_text = load_texts(data)
    vocab = Vocab.build(train_text, data.level, data.min_freq)
    if resume:
        saved_vocab = Vocab.from_dict(checkpoint.load(run_dir / "last.pt", TASK)["vocab"])
        if saved_vocab != vocab:
            raise RnnkitError(f"the vocabulary of {data.data} ({len(vocab)} {data.level}s) does not match the one "
                              f"in {run_dir}/last.pt ({len(saved_vocab)}); resume with the same training text")
    encode = encode_lines_checked if data.bptt == 0 else encode_checked
    try:
        train_data = encode(vocab, train_text, f"training text {data.data}")
    except RnnkitError:
        if data.min_freq <= 1:
            raise
        # the vocabulary came from this very text: the threshold, not the text, is what is wrong
        raise RnnkitError(f"--min-freq {data.min_freq} leaves {len(vocab)} {data.level}s in the vocabulary of "
                          f"{data.data}, and most of its {data.level}s would be <unk>; lower --min-freq") from None
    valid_data = encode(vocab, valid_text, f"validation text {data.valid}" if data.valid else
                        f"validation text (the last {data.valid_fraction:.0%} of {data.data}; "
                        f"a larger --valid-fraction or a --valid file gives more)")
    test_text = read_text(data.test, "test text") if data.test else None  # a bad file fails now, not after training
    if test_text is not None:
        encode(vocab, test_text, f"test text {data.test}")
    model_cfg = dataclasses.replace(model_cfg, vocab_size=len(vocab))
    torch.manual_seed(train_cfg.seed)
    try:
        model = LanguageModel(model_cfg)
    except (ValueError, TypeError) as e:
        raise RnnkitError(f"model options: {cfgmod.as_flags(str(e), LMConfig)}") from None
    if data.bptt == 0:
        task: LMTask = LineLMTask(train_data, valid_data, data, train_cfg.seed, dist)
        shape = f"{task.num_batches()} batches of {data.batch_size} whole lines (full BPTT)"
        sizes = f"{len(train_data):,} / {len(valid_data):,} lines"
    else:
        task = LMTask(train_data, valid_data, data, dist)
        rows, cols = batchify(train_data, data.batch_size).shape
        shape = (f"{task.num_batches()} batch{'es' if task.num_batches() > 1 else ''} of "
                 f"{rows}x{min(data.bptt, cols - 1)} (truncated BPTT)")
        sizes = f"{train_data.numel():,} / {valid_data.numel():,} tokens"
    resolved = {"task": TASK, "data": cfgmod.to_dict(data), "model": cfgmod.to_dict(model_cfg),
                "train": cfgmod.to_dict(train_cfg)}
    if dist.is_main:
        runs.write_config(run_dir, resolved)
    n_params = sum(p.numel() for p in model.parameters())
    say(f"run {run_dir}: {data.level} LM, vocabulary {len(vocab)}, train / valid {sizes}; "
        f"{model_cfg.num_layers}x{model_cfg.hidden_size} {model_cfg.cell.upper()}, {n_params:,} parameters; "
        f"{shape} per epoch")
    meta = {"task": TASK, "config": resolved, "vocab": vocab.to_dict(), "title": title or f"{run_dir.name}"}
    trainer, summary = runs.fit(model, task, train_cfg, run_dir, meta, resume)
    if test_text is not None:
        model.load_state_dict(runs.load_checkpoint(run_dir, TASK)[1]["model"])  # a corrupt best.pt: last.pt
        model.eval()
        total, count = score_text(model, vocab, test_text, f"test text {data.test}", data.eval_batch_size, data.bptt)
        loss = total / count
        summary["test"] = {"loss": loss, **metrics_of(loss, data.level), "tokens": count}
        trainer.log.write({"step": trainer.step, "split": "test", **summary["test"]})
        say("test (best model): " + " | ".join(f"{k} {v:.4g}" for k, v in summary["test"].items()))
    return summary


def load_run(run: str | Path, device: str = "cpu") -> tuple[LanguageModel, Vocab, dict[str, Any], Path]:
    """``(model in eval mode, vocabulary, resolved config, checkpoint path)`` of a trained run."""
    dev = resolve_device(device)
    path, ckpt = runs.load_checkpoint(run, TASK)  # a corrupt best.pt: last.pt, with a warning
    try:
        vocab = Vocab.from_dict(ckpt["vocab"])
        conf = ckpt["config"]
        model_cfg = cfgmod.build(LMConfig, conf["model"], f"{path} (model config)", internal=True)
    except (KeyError, TypeError, ValueError) as e:
        raise RnnkitError(f"checkpoint {path} lacks a valid vocabulary or model config ({e})") from None
    if model_cfg.vocab_size != len(vocab):
        raise RnnkitError(f"checkpoint {path}: its vocabulary has {len(vocab)} tokens but the model expects "
                          f"{model_cfg.vocab_size}; the file is inconsistent, retrain")
    model = LanguageModel(model_cfg)
    try:
        model.load_state_dict(ckpt["model"])
    except RuntimeError as e:
        raise RnnkitError(f"checkpoint {path} does not fit its own model config: {str(e).splitlines()[0]}") from None
    return model.to(dev).eval(), vocab, conf, path


def prime_ids(vocab: Vocab, prime: str) -> Tensor:
    """Ids of the prime text; the default (empty) prime starts at a line break."""
    if not prime:
        return torch.tensor([vocab.stoi.get("\n" if vocab.level == "char" else "<eos>", vocab.unk)])
    ids, unknown = vocab.encode(prime if vocab.level == "char" else prime + "\n")
    if vocab.level == "word":
        ids = ids[:-1]  # the prime continues: no <eos> after it
    if unknown:
        print(f"note: {unknown} {vocab.level}(s) of the prime are not in the vocabulary and read as <unk>",
              file=sys.stderr)
    if ids.numel() == 0:
        raise RnnkitError(f"--prime {prime!r} holds no {vocab.level} tokens")
    return ids


def generate_text(model: LanguageModel, vocab: Vocab, prime: str, length: int, sample: SampleConfig,
                  seed: int | None = None, lines: bool = False) -> Iterator[str]:
    """The generated text piece by piece (a character or a word), for streaming.

    The prime is checked (and any note about it printed) here, before the first piece. ``lines``:
    the model was trained on whole lines (``--bptt 0``), each read from a fresh state after a line
    separator; sampling does the same, so every line after the first is whole too.
    """
    ids = prime_ids(vocab, prime)
    if lines and prime:
        ids = torch.cat([torch.tensor([vocab.sep]), ids])  # a training line began so: the prime starts a line
    gen = torch.Generator().manual_seed(seed) if seed is not None else None
    # at character level <unk> only stands for characters never seen in training: never write it
    banned = (vocab.unk,) if vocab.level == "char" else ()

    def pieces() -> Iterator[str]:
        if vocab.level == "word" and prime and not prime[-1].isspace():
            yield " "  # the generated words follow the prime's last word
        for tok in model.generate(ids, length, sample, gen, banned, vocab.sep if lines else None):
            yield vocab.decode([tok])

    return pieces()


def score_text(model: LanguageModel, vocab: Vocab, text: str, what: str, batch_size: int,
               bptt: int) -> tuple[float, int]:
    """``(total nll, tokens)`` of ``text``: as streams in chunks of ``bptt``, or line by line when ``bptt`` is 0."""
    if bptt == 0:
        return lines_nll(model, encode_lines_checked(vocab, text, what), batch_size)
    return stream_nll(model, encode_checked(vocab, text, what), batch_size, bptt)


def evaluate_file(run: str | Path, data: str, batch_size: int = 16, bptt: int | None = None,
                  device: str = "cpu") -> dict[str, Any]:
    """Loss, perplexity (and bits per character) of run ``run`` on text file ``data``.

    The text is read as the run was trained: as streams in chunks (``bptt``, by default the
    run's), or line by line for a run trained on whole lines (``bptt`` 0).
    """
    if batch_size < 1:
        raise RnnkitError(f"--batch-size must be >= 1, got {batch_size}")
    if bptt is not None and bptt < 1:
        raise RnnkitError(f"--bptt must be >= 1, got {bptt}")
    model, vocab, conf, path = load_run(run, device)
    trained = conf["data"]["bptt"]
    if bptt is not None and trained == 0:
        raise RnnkitError(f"{path} was trained on whole lines (--bptt 0) and is scored line by line; drop --bptt")
    total, count = score_text(model, vocab, read_text(data, "text"), f"text {data}", batch_size,
                              trained if bptt is None else bptt)
    loss = total / count
    return {"checkpoint": str(path), "data": str(data), "tokens": count, "loss": loss,
            **metrics_of(loss, vocab.level)}
