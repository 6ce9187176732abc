"""Image captioning on composed handwritten digits: ``rnnkit train caption``.

Images of 1-4 real digits (:mod:`rnnkit.data.captions`) are captioned in words ("three one
four") by a :class:`~rnnkit.models.captioner.Captioner`. Every epoch draws fresh training
compositions from the training pool of digit images (seeded by seed and epoch, so a resumed run
sees the same images); the validation and test images are composed once from their own pools.
Validation: the per-word cross-entropy and the exact-match rate of greedy captions. Test, with
the best model and beam search: exact match (the whole caption right), BLEU and chrF, and the
greedy exact match.
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
from rnnkit.data import captions
from rnnkit.data.batching import pad_sequences
from rnnkit.data.parallel import BOS, EOS, PAD, SPECIALS
from rnnkit.errors import RnnkitError
from rnnkit.metrics.display import show_all
from rnnkit.models.captioner import Captioner, CaptionerConfig
from rnnkit.models.decoding import DecodeConfig, decode
from rnnkit.tasks import runs
from rnnkit.training import StatelessTask, TrainConfig, checkpoint, distributed

TASK = "caption"
VOCAB = (*SPECIALS, *captions.WORDS)  # word d has id len(SPECIALS) + d


@dataclasses.dataclass
class CaptionDataConfig:
    """How composed digit images are drawn and batched."""

    train_size: int = field(10000, "composed training images per epoch (fresh every epoch)")
    valid_size: int = field(1000, "validation images (composed once)")
    test_size: int = field(2000, "test images (composed once)")
    max_digits: int = field(4, "digits per image: 1 to this many")
    valid_fraction: float = field(0.1, "fraction of each digit class's source images kept for validation images")
    test_fraction: float = field(0.2, "fraction of each digit class's source images kept for test images")
    split_seed: int = field(0, "seed of the split of the source images")
    data_seed: int = field(1, "seed of the validation and test compositions")
    batch_size: int = field(64, "images per training step (split across processes under torchrun)")
    eval_batch_size: int = field(500, "images per batch when scoring")


def sections() -> dict[str, type]:
    return {"data": CaptionDataConfig, "model": CaptionerConfig, "decode": DecodeConfig, "train": TrainConfig}


def check_data(cfg: CaptionDataConfig) -> None:
    for name, low in (("train_size", 1), ("valid_size", 1), ("test_size", 1), ("batch_size", 1),
                      ("eval_batch_size", 1), ("max_digits", 1)):
        if getattr(cfg, name) < low:
            raise RnnkitError(f"--{name.replace('_', '-')} must be >= {low}, got {getattr(cfg, name)}")
    if cfg.max_digits > 4:
        raise RnnkitError(f"--max-digits must be <= 4 (the image holds 4 digits), got {cfg.max_digits}")


def targets(digit_seqs: list[list[int]]) -> Tensor:
    """``<bos> words <eos>`` ids per caption, padded: ``(B, T)``."""
    seqs = [torch.tensor([BOS] + [len(SPECIALS) + d for d in s] + [EOS]) for s in digit_seqs]
    return pad_sequences(seqs, PAD)[0]


def words(ids: list[int]) -> str:
    return " ".join(VOCAB[i] for i in ids if i >= len(SPECIALS))


def caption_loss(model: nn.Module, images: Tensor, y: Tensor) -> tuple[Tensor, int]:
    device = next(model.parameters()).device
    images, y = images.to(device), y.to(device)
    logits, _ = model(images, y[:, :-1])
    y_out = y[:, 1:].reshape(-1)
    return F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), y_out, ignore_index=PAD), \
        int((y_out != PAD).sum())


def caption_images(model: nn.Module, images: Tensor, decode_cfg: DecodeConfig, batch_size: int) -> list[str]:
    """Captions of ``images`` ``(N, 1, Hi, Wi)`` in words (model in eval mode)."""
    device = next(model.parameters()).device
    out: list[str] = []
    for i in range(0, images.shape[0], batch_size):
        x = images[i : i + batch_size].to(device)
        # the length limit counts from 5 (4 digits and <eos>)
        hyps = decode(model, (x,), BOS, EOS, torch.full((x.shape[0],), 5), decode_cfg)
        out += [words(h.tokens) for h in hyps]
    return out


class CaptionTask(StatelessTask):
    """Composed digit images as a Trainer task (see the module docstring)."""

    unit = "img"
    loss_label = "loss (nats per caption token)"
    scores = ("exact",)  # what --select may pick best.pt by besides the loss: greedy exact match on validation
    fractions = ("exact", "exact_greedy")  # stored in [0, 1], printed as percentages (rnnkit.metrics.display)

    def __init__(self, cfg: CaptionDataConfig, seed: int = 0, dist: distributed.DistInfo | None = None) -> None:
        dist = dist or distributed.current()
        if cfg.batch_size % dist.world_size:
            raise RnnkitError(f"--batch-size {cfg.batch_size} must be divisible by the {dist.world_size} processes")
        self.cfg, self.seed, self.dist = cfg, seed, dist
        self.pools = captions.load_pools(cfg.valid_fraction, cfg.test_fraction, cfg.split_seed)
        self.valid = self.fixed("valid", cfg.valid_size, 1)
        self.test = self.fixed("test", cfg.test_size, 2)
        self._epoch, self._data = -1, (torch.empty(0), [])

    def fixed(self, split: str, n: int, stream: int) -> tuple[Tensor, list[list[int]]]:
        gen = torch.Generator().manual_seed(stream * 10**9 + self.cfg.data_seed)
        return captions.compose(self.pools[split], n, gen, self.cfg.max_digits)

    def num_batches(self) -> int:
        return -(-self.cfg.train_size // self.cfg.batch_size)

    def batches(self, epoch: int, start: int) -> Iterator[tuple[Tensor, Tensor]]:
        if epoch != self._epoch:
            gen = torch.Generator().manual_seed(self.seed * 10**6 + epoch)
            self._data, self._epoch = captions.compose(self.pools["train"], self.cfg.train_size, gen,
                                                       self.cfg.max_digits), epoch
        x, seqs = self._data
        B, rows, r = self.cfg.batch_size, self.cfg.batch_size // self.dist.world_size, self.dist.rank
        for i in range(start, self.num_batches()):
            lo = i * B + r * rows
            idx = list(range(lo, min(lo + rows, x.shape[0]))) or list(range(rows))  # DDP: every rank steps
            yield x[idx], targets([seqs[j] for j in idx])

    def train_step(self, model: nn.Module, batch: tuple[Tensor, Tensor]) -> tuple[Tensor, int]:
        return caption_loss(model, *batch)

    def score(self, model: nn.Module, split: tuple[Tensor, list[list[int]]], decode_cfg: DecodeConfig
              ) -> dict[str, float]:
        from rnnkit.metrics.translation import exact_match

        x, seqs = split
        total, count = 0.0, 0
        for i in range(0, x.shape[0], self.cfg.eval_batch_size):
            loss, n = caption_loss(model, x[i : i + self.cfg.eval_batch_size],
                                   targets(seqs[i : i + self.cfg.eval_batch_size]))
            total, count = total + float(loss) * n, count + n
        hyps = caption_images(model, x, decode_cfg, self.cfg.eval_batch_size)
        return {"loss": total / count, "exact": exact_match(hyps, [captions.caption_text(s) for s in seqs])}

    def evaluate(self, model: nn.Module) -> dict[str, float]:
        return self.score(model, self.valid, DecodeConfig(beam_size=1))

    def describe(self, loss: float) -> dict[str, float]:
        return {"ppl": math.exp(min(loss, 50.0))}


def train(run_dir: Path, configs: dict[str, Any], resume: bool = False, quiet: bool = False) -> dict[str, Any]:
    """Train into ``run_dir``; returns the Trainer's summary with the test metrics of the best model."""
    data, train_cfg, decode_cfg = configs["data"], configs["train"], configs["decode"]
    check_data(data)
    decode_cfg.validate()
    with runs.training(run_dir, train_cfg) as dist:
        return _train(run_dir, data, configs["model"], decode_cfg, train_cfg, dist, resume, quiet)


def _train(run_dir: Path, data: CaptionDataConfig, model_cfg: CaptionerConfig, decode_cfg: DecodeConfig,
           train_cfg: TrainConfig, dist: distributed.DistInfo, resume: bool, quiet: bool) -> dict[str, Any]:
    from rnnkit.metrics.translation import corpus_scores

    say = (lambda *a: None) if quiet or not dist.is_main else (lambda *a: print(*a, file=sys.stderr))
    task = CaptionTask(data, train_cfg.seed, dist)
    model_cfg = dataclasses.replace(model_cfg, vocab_size=len(VOCAB), image_height=captions.HEIGHT,
                                    image_width=captions.WIDTH)
    torch.manual_seed(train_cfg.seed)
    try:
        model = Captioner(model_cfg)
    except (ValueError, TypeError) as e:
        raise RnnkitError(f"model options: {cfgmod.as_flags(str(e), CaptionerConfig)}") from None
    resolved = {"task": TASK, "data": cfgmod.to_dict(data), "model": cfgmod.to_dict(model_cfg),
                "decode": cfgmod.to_dict(decode_cfg), "train": cfgmod.to_dict(train_cfg)}
    if dist.is_main:
        runs.write_config(run_dir, resolved)
    sizes = {k: v[0].shape[0] for k, v in task.pools.items()}
    say(f"run {run_dir}: source digit images {sizes['train']} / {sizes['valid']} / {sizes['test']} (train / valid / "
        f"test pools); {data.train_size:,} training images per epoch; {model_cfg.cell.upper()} "
        f"{model_cfg.hidden_size}, attention {model_cfg.attention}, "
        f"{sum(p.numel() for p in model.parameters()):,} parameters")
    meta = {"task": TASK, "config": resolved, "title": f"caption: {model_cfg.cell.upper()} ({run_dir.name})"}
    trainer, summary = runs.fit(model, task, train_cfg, run_dir, meta, resume)
    model.load_state_dict(runs.load_checkpoint(run_dir, TASK)[1]["model"])  # a corrupt best.pt: last.pt
    model.eval()
    with torch.no_grad():
        test = task.score(model, task.test, decode_cfg)
        refs = [captions.caption_text(s) for s in task.test[1]]
        test.update(corpus_scores(caption_images(model, task.test[0], decode_cfg, data.eval_batch_size), refs))
        test["exact_greedy"] = task.score(model, task.test, DecodeConfig(beam_size=1))["exact"]
        samples = write_samples(run_dir, model, task.valid, decode_cfg) if dist.is_main else []
    summary["test"], summary["samples"] = test, samples
    trainer.log.write({"step": trainer.step, "split": "test", **test})
    say("test (best model): " + show_all(test, CaptionTask.fractions))
    say(f"samples (validation images, in {run_dir / SAMPLES}; caption them with rnnkit caption {run_dir} "
        f"{run_dir / SAMPLE_DIR}/*.png):")
    for s in samples:
        say(f"  {s['image']}: predicted {s['predicted']!r} | reference {s['reference']!r}")
    return summary


SAMPLES, SAMPLE_DIR, NUM_SAMPLES = "samples.txt", "samples", 5


def write_samples(run_dir: Path, model: nn.Module, split: tuple[Tensor, list[list[int]]],
                  decode_cfg: DecodeConfig, n: int = NUM_SAMPLES) -> list[dict[str, str]]:
    """Caption the first ``n`` images of ``split`` (validation) with the run's decoding; write them as PNGs
    to ``samples/`` (inputs ``rnnkit caption`` reads as they are) and ``samples.txt`` (image, predicted,
    reference per line). Returns the rows."""
    from rnnkit.outputs import write_atomic

    x, seqs = split[0][:n], split[1][:n]
    rows = []
    for i, (hyp, seq) in enumerate(zip(caption_images(model, x, decode_cfg, n), seqs)):
        name = f"{SAMPLE_DIR}/valid-{i}.png"
        captions.write_image(run_dir / name, x[i])
        rows.append({"image": name, "predicted": hyp, "reference": captions.caption_text(seq)})
    write_atomic(run_dir / SAMPLES, "image\tpredicted\treference\n"
                 + "".join(f"{r['image']}\t{r['predicted']}\t{r['reference']}\n" for r in rows))
    return rows


def caption_files(run: str | Path, paths: list[str], decode_flags: dict[str, Any] | None = None,
                  device: str = "cpu", batch_size: int = 64) -> list[str]:
    """The caption of each image file in ``paths`` (see :func:`rnnkit.data.captions.read_image`), by the run's
    best model, decoded as the run's test set was, with ``decode_flags`` (``{"beam_size": 1}``) overriding.
    The run is loaded first, then every file is read before any is captioned, so a bad file is an error
    before output starts."""
    if batch_size < 1:
        raise RnnkitError(f"--batch-size must be >= 1, got {batch_size}")
    if not paths:
        raise RnnkitError("no images given: rnnkit caption RUN IMAGE...")
    model, conf, _ = load_run(run, device)  # first: the wrong kind of run is the error, not the images
    images = torch.stack([captions.read_image(p) for p in paths])
    decode_cfg = cfgmod.build(DecodeConfig, {**conf.get("decode", {}), **(decode_flags or {})}, "decoding options")
    decode_cfg.validate()
    with torch.no_grad():
        return caption_images(model, images, decode_cfg, batch_size)


def load_run(run: str | Path, device: str = "cpu") -> tuple[Captioner, dict[str, Any], Path]:
    """``(model in eval mode, resolved config, checkpoint path)`` of a trained captioning run."""
    from rnnkit.training.trainer import resolve_device

    dev = resolve_device(device)
    path = runs.find_checkpoint(run)
    ckpt = checkpoint.load(path, TASK)
    try:
        conf = ckpt["config"]
        model = Captioner(cfgmod.build(CaptionerConfig, conf["model"], f"{path} (model config)", internal=True))
        model.load_state_dict(ckpt["model"])
    except (KeyError, TypeError, ValueError, RuntimeError) as e:
        raise RnnkitError(f"checkpoint {path} lacks a valid model ({str(e).splitlines()[0]})") from None
    return model.to(dev).eval(), conf, path


def read_captioned(path: str | Path) -> tuple[list[Path], list[str]]:
    """``(image paths, reference captions)`` of an ``IMAGE<TAB>caption`` file (a relative image path is read
    from the file's folder; ``samples.txt``'s layout, ``image<TAB>predicted<TAB>reference``, is read too:
    the last column is the reference)."""
    from rnnkit.data.parallel import read_lines

    base = Path(path).parent
    images, refs = [], []
    for i, line in enumerate(read_lines(path), 1):
        cols = line.split("\t")
        if i == 1 and cols[0] == "image":  # samples.txt's header
            continue
        if len(cols) < 2 or not cols[0].strip() or not cols[-1].strip():
            raise RnnkitError(f"{path}:{i}: expected 'IMAGE<TAB>caption' (e.g. 'a.png<TAB>three one four')")
        ref = " ".join(cols[-1].split())
        unknown = [w for w in ref.split() if w not in captions.WORDS]
        if unknown:
            raise RnnkitError(f"{path}:{i}: {unknown[0]!r} is not a digit word ({', '.join(captions.WORDS)})")
        images.append(base / cols[0].strip())
        refs.append(ref)
    if not images:
        raise RnnkitError(f"{path}: no captioned images")
    return images, refs


def evaluate_file(run: str | Path, data: str, batch_size: int | None = None, device: str = "cpu"
                  ) -> dict[str, Any]:
    """``rnnkit evaluate`` of a caption run on an ``IMAGE<TAB>caption`` file: exact match (beam search with
    the run's decoding, and greedy), BLEU and chrF, as the run's test set was scored."""
    from rnnkit.metrics.translation import corpus_scores, exact_match

    paths, refs = read_captioned(data)
    images = torch.stack([captions.read_image(p) for p in paths])
    model, conf, path = load_run(run, device)
    decode_cfg = cfgmod.build(DecodeConfig, conf.get("decode", {}), f"{path} (decoding options)", internal=True)
    bs = batch_size or int(conf.get("data", {}).get("eval_batch_size", 500))
    with torch.no_grad():
        hyps = caption_images(model, images, decode_cfg, bs)
        greedy = caption_images(model, images, DecodeConfig(beam_size=1), bs)
    return {"data": data, "checkpoint": str(path), "images": len(refs), "exact": exact_match(hyps, refs),
            **corpus_scores(hyps, refs), "exact_greedy": exact_match(greedy, refs)}
