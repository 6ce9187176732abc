"""Machine translation: ``rnnkit train translate`` and ``rnnkit translate RUN``.

Data: a pairs file (``--data``, ``source<TAB>target``) or two line-aligned files (``--source`` and
``--target``), read by :mod:`rnnkit.data.parallel`; validation and test sets from files of their
own, or held out (seeded) from the training pairs. Word or BPE tokenisers are trained on the
training pairs and saved in every checkpoint. Training pairs with a side longer than ``--max-len``
tokens are left out (the count is printed); unknown words become ``<unk>`` (counted and printed
when translating).

Model: :class:`~rnnkit.models.seq2seq.Seq2Seq`, trained with the per-token cross-entropy of the
target (teacher forcing), batches bucketed by source length. After training, the best model
translates the test set with beam search and with greedy decoding; the run records BLEU and
chrF of both (sacrebleu, detokenised), how often the beam's score is below greedy's, the
translations (``test.beam.txt``) and the attention heatmap of the first test sentence
(``attention.png``).
"""

from __future__ import annotations

import dataclasses
import math
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit import config as cfgmod
from rnnkit.config import field
from rnnkit.data import parallel
from rnnkit.data.batching import bucket_batches, pad_sequences, sorted_batches
from rnnkit.data.parallel import BOS, EOS, PAD, UNK, Codec
from rnnkit.errors import RnnkitError
from rnnkit.models.decoding import DecodeConfig, Hypothesis, decode, length_norm
from rnnkit.models.seq2seq import Seq2Seq, Seq2SeqConfig
from rnnkit.outputs import check_output_path
from rnnkit.tasks import runs
from rnnkit.training import StatelessTask, TrainConfig, checkpoint, distributed
from rnnkit.training.trainer import resolve_device

TASK = "translate"


@dataclasses.dataclass
class TranslateDataConfig:
    """Where the sentence pairs are, how they are tokenised and batched."""

    data: str = field("", "training pairs file: source<TAB>target per line (or --source and --target)", path=True)
    source: str = field("", "training source sentences, one per line (.gz read too)", path=True)
    target: str = field("", "training target sentences, line i translating line i of --source", path=True)
    valid: str = field("", "validation pairs file (or --valid-source/--valid-target; neither: held out)", path=True)
    valid_source: str = field("", "validation source sentences", path=True)
    valid_target: str = field("", "validation target sentences", path=True)
    test: str = field("", "test pairs file (or --test-source/--test-target; neither: held out)", path=True)
    test_source: str = field("", "test source sentences", path=True)
    test_target: str = field("", "test target sentences", path=True)
    held_out: int = field(500, "pairs held out from the training data for a validation or test set without files")
    split_seed: int = field(0, "seed of the held-out split")
    limit: int = field(0, "read only the first N training pairs (0: all)")
    # bpe by default: on raw text a word vocabulary keeps "cat." and "cat," apart, so a test sentence is
    # largely <unk> and many translations come out empty; word suits pre-tokenised corpora (Multi30k's recipe)
    tokenizer: str = field("bpe", "bpe: subwords learnt on the training data; word: whitespace words",
                           choices=parallel.KINDS)
    min_freq: int = field(2, "tokens (word) or merges (bpe) seen fewer times in training are not kept")
    vocab_size: int = field(8000, "bpe: vocabulary size of each language")
    max_len: int = field(100, "training pairs with a side of more tokens are left out (and counted); longer "
                              "inputs to rnnkit translate are an error")
    batch_size: int = field(64, "sentence pairs per training step (split across processes under torchrun)")
    eval_batch_size: int = field(128, "sentences per batch when scoring and translating")


def sections() -> dict[str, type]:
    return {"data": TranslateDataConfig, "model": Seq2SeqConfig, "decode": DecodeConfig, "train": TrainConfig}


Pairs = tuple[list[str], list[str]]


def _read_split(cfg: TranslateDataConfig, prefix: str) -> Pairs | None:
    pairs = getattr(cfg, prefix or "data")
    src, tgt = getattr(cfg, f"{prefix}_source" if prefix else "source"), getattr(
        cfg, f"{prefix}_target" if prefix else "target")
    flag = f"--{prefix or 'data'}"
    sides = f"--{prefix + '-' if prefix else ''}source/--{prefix + '-' if prefix else ''}target"
    if pairs and (src or tgt):
        raise RnnkitError(f"give {flag} or {sides}, not both")
    if bool(src) != bool(tgt):
        raise RnnkitError(f"{sides}: give both the source and the target file")
    limit = cfg.limit if not prefix else 0
    if pairs:
        return parallel.read_pairs(pairs, limit)
    if src:
        return parallel.read_parallel(src, tgt, limit)
    return None


def read_splits(cfg: TranslateDataConfig) -> dict[str, Pairs]:
    """``{"train", "valid", "test": (sources, targets)}``; a split without files is held out from training."""
    train = _read_split(cfg, "")
    if train is None:
        raise RnnkitError("no training data: give --data pairs.tsv, or --source and --target")
    splits = {"valid": _read_split(cfg, "valid"), "test": _read_split(cfg, "test")}
    missing = [k for k, v in splits.items() if v is None]
    if missing:
        n = len(train[0])
        if cfg.held_out < 1 or n - cfg.held_out * len(missing) < 1:
            raise RnnkitError(f"--held-out {cfg.held_out}: can't hold out {len(missing)} set(s) of that size from "
                              f"{n:,} training pairs")
        order = torch.randperm(n, generator=torch.Generator().manual_seed(cfg.split_seed)).tolist()
        for k, name in enumerate(missing):
            idx = order[k * cfg.held_out : (k + 1) * cfg.held_out]
            splits[name] = ([train[0][i] for i in idx], [train[1][i] for i in idx])
        keep = sorted(order[len(missing) * cfg.held_out :])
        train = ([train[0][i] for i in keep], [train[1][i] for i in keep])
    return {"train": train, **splits}  # type: ignore[dict-item]


def check_data(cfg: TranslateDataConfig) -> None:
    for name, low in (("batch_size", 1), ("eval_batch_size", 1), ("max_len", 1), ("min_freq", 1),
                      ("vocab_size", 8), ("limit", 0), ("held_out", 1)):
        if getattr(cfg, name) < low:
            raise RnnkitError(f"--{name.replace('_', '-')} must be >= {low}, got {getattr(cfg, name)}")


def encode_sources(codec: Codec, lines: list[str]) -> list[Tensor]:
    """Source ids with ``<eos>`` appended, one tensor per line."""
    return [torch.tensor(ids + [EOS], dtype=torch.long) for ids in codec.encode_batch(lines)]


def encode_targets(codec: Codec, lines: list[str]) -> list[Tensor]:
    """Target ids ``<bos> y_1 .. y_n <eos>`` per line: the decoder reads ``[:-1]`` and predicts ``[1:]``."""
    return [torch.tensor([BOS] + ids + [EOS], dtype=torch.long) for ids in codec.encode_batch(lines)]


def collate(src: list[Tensor], tgt: list[Tensor]) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """``(src (B, S), src_lengths (B,), y_in (B, T), y_out (B, T))``, padded with ``<pad>``."""
    s, lengths = pad_sequences(src, PAD)
    y, _ = pad_sequences(tgt, PAD)
    return s, lengths, y[:, :-1], y[:, 1:]


def token_loss(model: nn.Module, batch: tuple[Tensor, ...], device: torch.device) -> tuple[Tensor, int]:
    """Mean cross-entropy over the real target tokens of a batch, and their count."""
    src, lengths, y_in, y_out = (t.to(device) for t in batch)
    logits, _ = model(src, lengths, y_in)
    y_out = y_out.reshape(-1)
    return F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), y_out, ignore_index=PAD), \
        int((y_out != PAD).sum())


class TranslateTask(StatelessTask):
    """Sentence pairs as a Trainer task: bucketed, shuffled batches (seeded per epoch), token cross-entropy."""

    unit = "tok"
    loss_label = "loss (nats per target token)"
    # --select bleu / chrf: scored on the validation pairs by greedy decoding, which every evaluation
    # then pays for (a decode of the whole split); the default, the loss, costs one teacher-forced pass
    scores = ("bleu", "chrf")

    def __init__(self, cfg: TranslateDataConfig, splits: dict[str, Pairs], codecs: tuple[Codec, Codec],
                 seed: int = 0, dist: distributed.DistInfo | None = None, say: Any = None) -> None:
        dist = dist or distributed.current()
        if cfg.batch_size % dist.world_size:
            raise RnnkitError(f"--batch-size {cfg.batch_size} must be divisible by the {dist.world_size} processes")
        self.cfg, self.seed, self.dist, self.codecs = cfg, seed, dist, codecs
        src = encode_sources(codecs[0], splits["train"][0])
        tgt = encode_targets(codecs[1], splits["train"][1])
        keep = [i for i in range(len(src)) if len(src[i]) - 1 <= cfg.max_len and len(tgt[i]) - 2 <= cfg.max_len]
        self.dropped = len(src) - len(keep)
        if self.dropped and say is not None:
            say(f"note: {self.dropped:,} training pairs with more than --max-len {cfg.max_len} tokens left out")
        if not keep:
            raise RnnkitError(f"every training pair is longer than --max-len {cfg.max_len} tokens")
        self.src, self.tgt = [src[i] for i in keep], [tgt[i] for i in keep]
        self.lengths = [len(s) for s in self.src]
        self.valid = self.encode(splits["valid"])
        self.valid_refs = list(splits["valid"][1])
        self.valid_decode: DecodeConfig | None = None  # set: evaluate() also decodes and scores BLEU, chrF
        self.rows = cfg.batch_size // dist.world_size
        self._epoch, self._batches = -1, []

    def encode(self, pairs: Pairs) -> tuple[list[Tensor], list[Tensor]]:
        return encode_sources(self.codecs[0], pairs[0]), encode_targets(self.codecs[1], pairs[1])

    def _epoch_batches(self, epoch: int) -> list[list[int]]:
        if epoch != self._epoch:
            # the global batches of the epoch; each process takes its slice of every batch
            self._batches = bucket_batches(self.lengths, self.cfg.batch_size, self.seed, epoch,
                                           drop_last=self.dist.enabled)
            self._epoch = epoch
        return self._batches

    def num_batches(self) -> int:
        return len(self._epoch_batches(max(self._epoch, 0)))

    def batches(self, epoch: int, start: int) -> Iterator[tuple[Tensor, ...]]:
        r, rows = self.dist.rank, self.rows
        for idx in self._epoch_batches(epoch)[start:]:
            mine = idx[r * rows : (r + 1) * rows] if self.dist.enabled else idx
            yield collate([self.src[i] for i in mine], [self.tgt[i] for i in mine])

    def train_step(self, model: nn.Module, batch: tuple[Tensor, ...]) -> tuple[Tensor, int]:
        return token_loss(model, batch, next(model.parameters()).device)

    def evaluate(self, model: nn.Module) -> dict[str, float]:
        metrics = score_loss(model, *self.valid, self.cfg.eval_batch_size)
        if self.valid_decode is not None:
            from rnnkit.metrics.translation import corpus_scores

            hyps = translate_ids(model, self.valid[0], self.valid_decode, self.cfg.eval_batch_size)
            got = corpus_scores([self.codecs[1].decode(h.tokens) for h in hyps], self.valid_refs)
            metrics.update(bleu=got["bleu"], chrf=got["chrf"])
        return metrics

    def describe(self, loss: float) -> dict[str, float]:
        return {"ppl": math.exp(min(loss, 50.0))}


def score_loss(model: nn.Module, src: list[Tensor], tgt: list[Tensor], batch_size: int) -> dict[str, float]:
    """Teacher-forced cross-entropy per target token (and perplexity) over a whole set."""
    device = next(model.parameters()).device
    total, count = 0.0, 0
    for idx in sorted_batches([len(s) for s in src], batch_size):
        loss, n = token_loss(model, collate([src[i] for i in idx], [tgt[i] for i in idx]), device)
        total += float(loss) * n
        count += n
    loss = total / max(count, 1)
    return {"loss": loss, "ppl": math.exp(min(loss, 50.0))}


def translate_ids(model: Seq2Seq, src: list[Tensor], decode_cfg: DecodeConfig, batch_size: int
                  ) -> list[Hypothesis]:
    """Decode every source (ids with ``<eos>``), in batches sorted by length; results in input order."""
    device = next(model.parameters()).device
    out: list[Hypothesis | None] = [None] * len(src)
    for idx in sorted_batches([len(s) for s in src], batch_size):
        s, lengths = pad_sequences([src[i] for i in idx], PAD)
        hyps = decode(model, (s.to(device), lengths.to(device)), BOS, EOS, lengths, decode_cfg)
        for i, h in zip(idx, hyps):
            out[i] = h
    return out  # type: ignore[return-value]


def heatmap(model: Seq2Seq, codecs: tuple[Codec, Codec], sentence: str, decode_cfg: DecodeConfig,
            path: Path) -> Path | None:
    """The attention heatmap of ``sentence``'s translation (None: a model without attention)."""
    from rnnkit.diagnostics.attention import plot_attention

    hyp = translate_ids(model, encode_sources(codecs[0], [sentence]), decode_cfg, 1)[0]
    if hyp.attention is None:
        return None
    src = [*codecs[0].pieces(sentence), "<eos>"]
    out = [codecs[1].id_to_piece(i) for i in hyp.tokens] + (["<eos>"] if hyp.ended else [])
    return plot_attention(hyp.attention, src, out, path, title=codecs[1].decode(hyp.tokens))


def test_scores(model: Seq2Seq, codecs: tuple[Codec, Codec], pairs: Pairs, decode_cfg: DecodeConfig,
                batch_size: int) -> tuple[dict[str, float], list[str]]:
    """Test metrics (BLEU and chrF of beam search and of greedy decoding, the teacher-forced loss) and the
    beam translations."""
    from rnnkit.metrics.translation import corpus_scores

    src, tgt = encode_sources(codecs[0], pairs[0]), encode_targets(codecs[1], pairs[1])
    metrics = score_loss(model, src, tgt, batch_size)
    beam = translate_ids(model, src, decode_cfg, batch_size)
    greedy = translate_ids(model, src, dataclasses.replace(decode_cfg, beam_size=1), batch_size)
    hyps = [codecs[1].decode(h.tokens) for h in beam]
    metrics.update(corpus_scores(hyps, pairs[1]))
    g = corpus_scores([codecs[1].decode(h.tokens) for h in greedy], pairs[1])
    metrics.update({"bleu_greedy": g["bleu"], "chrf_greedy": g["chrf"]})
    a = decode_cfg.length_penalty

    def norm(h: Hypothesis) -> float:
        return length_norm(h.score, len(h.tokens) + h.ended, a)

    # the beam maximises the length-normalised score: how often did it end below greedy's?
    metrics["beam_below_greedy"] = sum(norm(b) < norm(g) - 1e-4 for b, g in zip(beam, greedy)) / len(beam)
    metrics["sentences"] = len(beam)
    return metrics, hyps


def build_codecs(cfg: TranslateDataConfig, train: Pairs) -> tuple[Codec, Codec]:
    return (Codec.train(train[0], cfg.tokenizer, cfg.vocab_size, cfg.min_freq),
            Codec.train(train[1], cfg.tokenizer, cfg.vocab_size, cfg.min_freq))


def train(run_dir: Path, configs: dict[str, Any], resume: bool = False, quiet: bool = False) -> dict[str, Any]:
    """Train into ``run_dir``; returns the Trainer's summary with the test metrics of the best model."""
    data, train_cfg, decode_cfg = configs["data"], configs["train"], configs["decode"]
    check_data(data)
    decode_cfg.validate()
    with runs.training(run_dir, train_cfg) as dist:
        return _train(run_dir, data, configs["model"], decode_cfg, train_cfg, dist, resume, quiet)


def _train(run_dir: Path, data: TranslateDataConfig, model_cfg: Seq2SeqConfig, decode_cfg: DecodeConfig,
           train_cfg: TrainConfig, dist: distributed.DistInfo, resume: bool, quiet: bool) -> dict[str, Any]:
    say = (lambda *a: None) if quiet or not dist.is_main else (lambda *a: print(*a, file=sys.stderr))
    splits = read_splits(data)
    if resume:  # the tokenisers are the run's own: a resumed run must not relearn them
        saved = checkpoint.load(run_dir / "last.pt", TASK)
        codecs = (Codec.from_dict(saved["codecs"][0]), Codec.from_dict(saved["codecs"][1]))
    else:
        codecs = build_codecs(data, splits["train"])
    task = TranslateTask(data, splits, codecs, train_cfg.seed, dist, say)
    if train_cfg.select in TranslateTask.scores:
        task.valid_decode = dataclasses.replace(decode_cfg, beam_size=1)
    model_cfg = dataclasses.replace(model_cfg, src_vocab=len(codecs[0]), tgt_vocab=len(codecs[1]))
    torch.manual_seed(train_cfg.seed)
    try:
        model = Seq2Seq(model_cfg)
    except (ValueError, TypeError) as e:
        raise RnnkitError(f"model options: {cfgmod.as_flags(str(e), Seq2SeqConfig)}") from None
    resolved = {"task": TASK, "data": cfgmod.to_dict(data), "model": cfgmod.to_dict(model_cfg),
                "decode": cfgmod.to_dict(decode_cfg), "train": cfgmod.to_dict(train_cfg)}
    if dist.is_main:
        runs.write_config(run_dir, resolved)
    n = {k: len(v[0]) for k, v in splits.items()}
    say(f"run {run_dir}: {len(task.src):,} / {n['valid']:,} / {n['test']:,} train / valid / test pairs; "
        f"{data.tokenizer} vocabularies {len(codecs[0]):,} / {len(codecs[1]):,}; {model_cfg.cell.upper()} "
        f"{model_cfg.hidden_size}, attention {model_cfg.attention}, "
        f"{sum(p.numel() for p in model.parameters()):,} parameters")
    meta = {"task": TASK, "config": resolved, "codecs": [c.to_dict() for c in codecs],
            "title": f"translate: {model_cfg.cell.upper()}, attention {model_cfg.attention} ({run_dir.name})"}
    trainer, summary = runs.fit(model, task, train_cfg, run_dir, meta, resume)
    model.load_state_dict(runs.load_checkpoint(run_dir, TASK)[1]["model"])  # a corrupt best.pt: last.pt
    model.eval()
    with torch.no_grad():
        summary["test"], hyps = test_scores(model, codecs, splits["test"], decode_cfg, data.eval_batch_size)
        if dist.is_main:
            (run_dir / "test.beam.txt").write_text("".join(h + "\n" for h in hyps), encoding="utf-8")
            heatmap(model, codecs, splits["test"][0][0], decode_cfg, run_dir / "attention.png")
    trainer.log.write({"step": trainer.step, "split": "test", **summary["test"]})
    say("test (best model): " + " | ".join(f"{k} {v:.4g}" for k, v in summary["test"].items()))
    return summary


def load_run(run: str | Path, device: str = "cpu") -> tuple[Seq2Seq, tuple[Codec, Codec], dict[str, Any], Path]:
    """``(model in eval mode, (source, target) tokenisers, resolved config, checkpoint path)`` of a run."""
    dev = resolve_device(device)
    path, ckpt = runs.load_checkpoint(run)
    if ckpt.get("task") != TASK:
        raise RnnkitError(f"checkpoint {path} is from a {ckpt.get('task')!r} run, not a translation run")
    try:
        conf = ckpt["config"]
        model_cfg = cfgmod.build(Seq2SeqConfig, conf["model"], f"{path} (model config)", internal=True)
        model = Seq2Seq(model_cfg)
        model.load_state_dict(ckpt["model"])
        codecs = (Codec.from_dict(ckpt["codecs"][0]), Codec.from_dict(ckpt["codecs"][1]))
    except (KeyError, TypeError, ValueError, RuntimeError) as e:
        raise RnnkitError(f"checkpoint {path} lacks a valid model ({str(e).splitlines()[0]})") from None
    return model.to(dev).eval(), codecs, conf, path


def translate_batches(run: str | Path, batches: Iterable[list[str]], decode_cfg: DecodeConfig, device: str = "cpu",
                      batch_size: int = 64, source_name: str = "input", heatmap_path: Path | None = None,
                      warn: Any = None) -> Iterator[str]:
    """Translations of the sentences of ``batches`` with a trained run, each batch translated and yielded
    before the next is read (stdin as it arrives). A line longer than the run's ``max_len`` is an error
    naming it; unknown words are read as ``<unk>`` and counted (``warn`` gets the note at the end)."""
    if heatmap_path is not None:  # before any work: never the run's own files, a directory, or not an image
        check_output_path(heatmap_path, [run], [run], "--heatmap", figure=True)
    model, codecs, conf, _ = load_run(run, device)
    max_len = int(conf.get("data", {}).get("max_len", 100))
    seen = unknown = 0
    drawn = False  # the --heatmap of the first non-blank sentence
    for batch in batches:
        # a blank line gets a blank line back, so that output line i stays the translation of input line i
        filled = [i for i, line in enumerate(batch) if line.strip()]
        lines = [batch[i] for i in filled]
        src = encode_sources(codecs[0], lines) if lines else []
        for k, s in zip(filled, src):
            if len(s) - 1 > max_len:
                raise RnnkitError(f"{source_name}:{seen + k + 1}: {len(s) - 1} tokens, more than the run's "
                                  f"--max-len {max_len}; split the sentence")
        unknown += sum(int((s == UNK).sum()) for s in src)
        with torch.no_grad():
            hyps = translate_ids(model, src, decode_cfg, batch_size) if src else []
            if heatmap_path is not None and not drawn and lines:
                if heatmap(model, codecs, lines[0], decode_cfg, heatmap_path) is None:
                    raise RnnkitError("--heatmap: this run's model has no attention (--attention none)")
                drawn = True
        seen += len(batch)
        out = dict(zip(filled, (codecs[1].decode(h.tokens) for h in hyps)))
        for k in range(len(batch)):
            yield out.get(k, "")
    if not drawn and heatmap_path is not None:
        raise RnnkitError("--heatmap: no sentence to translate")
    if unknown and warn is not None:
        warn(f"note: {unknown} source token(s) unknown to the run's vocabulary were read as <unk>")


def evaluate_file(run: str | Path, data: str, batch_size: int | None = None, device: str = "cpu"
                  ) -> dict[str, Any]:
    """``rnnkit evaluate`` of a translation run on a ``source<TAB>target`` file: the test metrics training
    reports (BLEU and chrF of the run's beam search and of greedy decoding against the target side, the
    teacher-forced loss), decoded with the run's own decoding options."""
    model, codecs, conf, path = load_run(run, device)
    decode_cfg = cfgmod.build(DecodeConfig, conf.get("decode", {}), f"{path} (decoding options)", internal=True)
    pairs = parallel.read_pairs(data)
    bs = batch_size or int(conf.get("data", {}).get("eval_batch_size", 128))
    with torch.no_grad():
        metrics, _ = test_scores(model, codecs, pairs, decode_cfg, bs)
    return {"data": data, "checkpoint": str(path), **metrics}
