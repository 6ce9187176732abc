"""Sequence tagging: ``rnnkit train tag`` (named entities, parts of speech) and :func:`predict`.

Data: CoNLL column files (CoNLL-2003) or CoNLL-U (Universal Dependencies), see
:mod:`rnnkit.data.conll`. Chunk tags (``B-PER``...) are read in the scheme of each file
(``--input-scheme``, detected by default; IOB1 for CoNLL-2003) and rewritten in ``--scheme``
(BIO or BIOES) for training; plain tags (UPOS) are used as they are (scheme ``none``).

Words: lowercased, digits turned to 0 (``--lowercase``, ``--zeros``); the casing class and the
characters (:mod:`rnnkit.models.charfeatures`) keep what that loses. The vocabulary is the
training words; each occurrence of a word seen once in training is replaced by ``<unk>`` with
probability ``--unk-replace`` (Lample et al. 2016), so the model learns what to do with unknown
words. The replacement draws from a generator seeded by (seed, epoch, batch): a resumed run
sees the same batches.

Without ``--valid``, a seeded ``--valid-fraction`` of the training sentences is held out for
validation (their numbers written to ``valid-sentences.txt``). Evaluation on the validation
sentences every epoch: the loss (negative log-likelihood per word),
entity precision / recall / F1 (chunk tags) or token accuracy (plain tags). The validation
loss and the score disagree about the best epoch (the loss punishes confident mistakes that
the score forgives), so ``best.pt`` holds the best F1 (accuracy for plain tags) by default;
``--select loss`` picks it by the loss instead. It scores the test file at the end (and
:func:`predict` uses it). All scores go to ``metrics.json``. Runs written before ``--select``
moved to the Trainer kept the best score in ``best-score.pt``; they load as they did.

Tags in a validation or test file that training never saw: the model cannot predict them, so
they count as misses in the scores (their gold strings are kept), and their sentences are left
out of the loss; a note names the first place and how many.
"""

from __future__ import annotations

import dataclasses
import json
import re
import sys
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from rnnkit import config as cfgmod
from rnnkit.config import field
from rnnkit.data import conll, tagschemes
from rnnkit.data.batching import bucket_batches, pad_sequences, sorted_batches
from rnnkit.data.conll import Sentence
from rnnkit.errors import RnnkitError
from rnnkit.metrics.display import show_all
from rnnkit.metrics.tagging import entity_scores, token_accuracy
from rnnkit.models.charfeatures import casing
from rnnkit.models.tagger import SequenceTagger, TaggerBatch, TaggerConfig
from rnnkit.outputs import write_atomic
from rnnkit.tasks import options, runs
from rnnkit.training import TrainConfig, checkpoint, distributed
from rnnkit.training.task import resolve_select
from rnnkit.training.trainer import resolve_device

TASK = "tag"
PERCENTS = ("f1", "precision", "recall", "acc")  # the scores' scale: percentages
PAD, UNK = "<pad>", "<unk>"  # ids 0 and 1 of the word and character vocabularies


@dataclasses.dataclass
class TagDataConfig:
    """Where the tagged sentences come from, how tags and words are read, and how they are batched."""

    data: str = field("", "training file (CoNLL columns or CoNLL-U; .gz is read through gzip)", path=True)
    valid: str = field("", "validation file, scored every epoch (none: --valid-fraction of --data held out)",
                       path=True)
    test: str | None = field(None, "test file, scored with the best model after training", path=True)
    format: str = field("conll", "file format: CoNLL columns (CoNLL-2003) or CoNLL-U", choices=conll.FORMATS)
    tag_column: str = field("auto", "the tag column: conll: last, 1..N or -1..-N; conllu: upos or xpos "
                            "(auto: last for conll, upos for conllu)")
    input_scheme: str = field("auto", "scheme the files' chunk tags are written in (auto: detected per file; "
                              "CoNLL-2003 is iob1)", choices=("auto", "iob1", "bio", "bioes"))
    scheme: str = field("auto", "scheme to train on: chunk tags as bio or bioes, or none for plain tags such as "
                        "POS (auto: bioes for chunk tags, none for plain tags)",
                        choices=("auto", "bio", "bioes", "none"))
    lowercase: bool = field(True, "lowercase the words (the casing feature keeps the case)")
    zeros: bool = field(True, "replace every digit of a word by 0")
    unk_replace: float = field(0.5, "probability of replacing a training word seen once by <unk> (per occurrence)")
    valid_fraction: float = field(0.1, "fraction of the --data sentences held out for validation without --valid")
    split_seed: int = field(0, "seed of the held-out validation sentences")
    batch_size: int = field(32, "sentences per training step (split across processes under torchrun)")
    eval_batch_size: int = field(256, "sentences per forward pass when evaluating")
    # [data] select of runs saved before --select moved to [train]: no flag, read only to load those runs
    select: str | None = dataclasses.field(default=None, metadata={"moved": "train"})


SECTIONS = {"data": TagDataConfig, "model": TaggerConfig, "train": TrainConfig}


def check_data_config(d: TagDataConfig) -> None:
    """One-line errors for values no data can satisfy."""
    if not d.data:
        raise RnnkitError("no training file: give --data FILE (or a recipe with [data] data = ...)")
    if not d.valid and not 0 < d.valid_fraction < 1:
        raise RnnkitError(f"--valid-fraction must be in (0, 1), got {d.valid_fraction}")
    for name in ("batch_size", "eval_batch_size"):
        if getattr(d, name) < 1:
            raise RnnkitError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(d, name)}")
    if not 0 <= d.unk_replace <= 1:
        raise RnnkitError(f"--unk-replace must be in [0, 1], got {d.unk_replace}")
    if d.format == "conllu" and d.tag_column not in ("auto", "upos", "xpos"):
        raise RnnkitError(f"--tag-column {d.tag_column!r}: a CoNLL-U file has the tag columns upos and xpos")
    if d.format == "conll" and d.tag_column in ("upos", "xpos") and not conll.looks_like_conllu(d.data):
        raise RnnkitError(f"--tag-column {d.tag_column}: names a CoNLL-U column; give --format conllu")


# -- reading and encoding --------------------------------------------------------------------
def normalise(word: str, lowercase: bool, zeros: bool) -> str:
    """The form a word is looked up in the vocabulary by."""
    if lowercase:
        word = word.lower()
    return re.sub(r"\d", "0", word) if zeros else word


def read_tagged(path: str, d: TagDataConfig, scheme: str | None) -> tuple[list[Sentence], str]:
    """``(sentences with tags in the training scheme, that scheme)``; ``scheme`` None: choose it (training file)."""
    column = d.tag_column if d.tag_column != "auto" else ("upos" if d.format == "conllu" else "last")
    sents = conll.read(path, d.format, column)
    detector = tagschemes.SchemeDetector()
    for s in sents:
        detector.add(s.tags, [s.where(i) for i in range(len(s.tags))])
    found = detector.scheme  # raises on mixed schemes
    source = found if d.input_scheme == "auto" or found == "none" else d.input_scheme
    if found == "bioes" and source != "bioes":
        raise RnnkitError(f"{path}: --input-scheme {source} but the file holds BIOES tags "
                          f"({detector.first['bioes']}); use --input-scheme bioes or auto")
    target = scheme or (d.scheme if d.scheme != "auto" else ("none" if found == "none" else "bioes"))
    if found == "none" and target != "none":
        raise RnnkitError(f"{path}: the tags have no B-/I- prefixes ({detector.first['plain']}), so they can't be "
                          f"read as --scheme {target}; use --scheme none (or auto)")
    if found != "none" and target == "none":
        raise RnnkitError(f"{path}: the tags are chunk tags ({source.upper()}); train them as --scheme bio or bioes")
    if target != "none":
        for s in sents:
            s.tags = tagschemes.convert(s.tags, source, target)
    return sents, target


class Encoder:
    """Words, characters and tags as ids (vocabularies built from the training sentences)."""

    def __init__(self, words: list[str], chars: list[str], tags: list[str], scheme: str, lowercase: bool,
                 zeros: bool, singletons: set[str] | None = None) -> None:
        self.words, self.chars, self.tags, self.scheme = words, chars, tags, scheme
        self.lowercase, self.zeros = lowercase, zeros
        self.word_id = {w: i for i, w in enumerate(words)}
        self.char_id = {c: i for i, c in enumerate(chars)}
        self.tag_id = {t: i for i, t in enumerate(tags)}
        self.singletons = torch.zeros(len(words), dtype=torch.bool)
        for w in singletons or ():
            self.singletons[self.word_id[w]] = True

    @classmethod
    def build(cls, sents: list[Sentence], scheme: str, lowercase: bool, zeros: bool) -> Encoder:
        counts = Counter(normalise(w, lowercase, zeros) for s in sents for w in s.tokens)
        words = [PAD, UNK] + sorted(counts, key=lambda w: (-counts[w], w))
        chars = [PAD, UNK] + sorted({c for s in sents for w in s.tokens for c in w})
        tags = sorted({t for s in sents for t in s.tags})
        return cls(words, chars, tags, scheme, lowercase, zeros, {w for w, n in counts.items() if n == 1})

    def to_dict(self) -> dict[str, Any]:
        return {"words": self.words, "chars": self.chars, "tags": self.tags, "scheme": self.scheme,
                "lowercase": self.lowercase, "zeros": self.zeros}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Encoder:
        return cls(d["words"], d["chars"], d["tags"], d["scheme"], d["lowercase"], d["zeros"])

    def constraints(self) -> tuple[Tensor, Tensor, Tensor]:
        start, trans, end = tagschemes.allowed(self.tags, self.scheme)
        return torch.tensor(start), torch.tensor(trans), torch.tensor(end)


class Encoded:
    """A list of sentences as tensors: per sentence word ids, casing classes, surface-form ids and tag ids
    (-1: a tag training never saw); the distinct surface forms as one padded character matrix."""

    def __init__(self, enc: Encoder, sents: Sequence[Sequence[str]], tags: Sequence[Sequence[str]] | None = None,
                 forms: dict[str, int] | None = None) -> None:
        self.forms: dict[str, int] = {} if forms is None else forms
        self.words, self.casing, self.form_ids, self.tag_ids = [], [], [], []
        for i, toks in enumerate(sents):
            self.words.append(torch.tensor([enc.word_id.get(normalise(w, enc.lowercase, enc.zeros), 1)
                                            for w in toks]))
            self.casing.append(torch.tensor([casing(w) for w in toks]))
            self.form_ids.append(torch.tensor([self.forms.setdefault(w, len(self.forms)) for w in toks]))
            if tags is not None:
                self.tag_ids.append(torch.tensor([enc.tag_id.get(t, -1) for t in tags[i]]))
        self.lengths = [len(t) for t in sents]
        char_seqs = [torch.tensor([enc.char_id.get(c, 1) for c in f]) for f in self.forms]
        self.chars, self.char_lengths = pad_sequences(char_seqs, 0)

    def batch(self, idx: Sequence[int], unk: tuple[Tensor, float, torch.Generator] | None = None) -> TaggerBatch:
        """The padded batch of sentences ``idx``; ``unk = (singletons, p, gen)``: replace singletons by <unk>."""
        words, lengths = pad_sequences([self.words[i] for i in idx], 0)
        if unk is not None and unk[1] > 0:
            singletons, p, gen = unk
            drop = singletons[words] & (torch.rand(words.shape, generator=gen) < p)
            words = words.masked_fill(drop, 1)
        cas, _ = pad_sequences([self.casing[i] for i in idx], 0)
        forms, _ = pad_sequences([self.form_ids[i] for i in idx], 0)
        uniq, inverse = torch.unique(forms, return_inverse=True)  # each distinct word's characters read once
        char_lengths = self.char_lengths[uniq]
        chars = self.chars[uniq, : int(char_lengths.max())]
        tags = (pad_sequences([self.tag_ids[i] for i in idx], 0)[0].clamp_min(0) if self.tag_ids
                else torch.zeros(len(idx), 0, dtype=torch.long))
        return TaggerBatch(words, cas, chars, char_lengths, inverse, lengths, tags)


# -- the task ------------------------------------------------------------------------------
class TagTask:
    """Sentences in length-bucketed batches, reshuffled every epoch (seeded); loss and scores as the module says."""

    unit = "tok"
    loss_label = "loss (nats per word)"

    def __init__(self, enc: Encoder, train: list[Sentence], valid: list[Sentence], data: TagDataConfig,
                 seed: int = 0, dist: distributed.DistInfo | None = None) -> None:
        dist = dist or distributed.current()
        if data.batch_size % dist.world_size:
            raise RnnkitError(f"--batch-size {data.batch_size} must be divisible by the {dist.world_size} processes")
        self.enc, self.cfg, self.seed, self.dist = enc, data, seed, dist
        # what --select may pick best.pt by, besides the loss; entity scores only for chunk tags
        self.scores = ("acc",) if enc.scheme == "none" else ("f1", "precision", "recall", "acc")
        self.percents = PERCENTS  # stored as percentages (seqeval's convention), printed with two decimals
        self.default_select = score_key(enc)
        self.train = Encoded(enc, [s.tokens for s in train], [s.tags for s in train])
        self.valid_sents = valid
        self.valid = Encoded(enc, [s.tokens for s in valid], [s.tags for s in valid])
        note_unknown_tags(enc, valid, "validation")

    def num_batches(self) -> int:
        n = -(-len(self.train.lengths) // self.cfg.batch_size)
        return n // self.dist.world_size

    def _epoch_batches(self, epoch: int) -> list[list[int]]:
        batches = bucket_batches(self.train.lengths, self.cfg.batch_size, self.seed, epoch)
        ws = self.dist.world_size
        return batches[: self.num_batches() * ws][self.dist.rank :: ws]

    def start_epoch(self, epoch: int) -> None:
        pass

    def batches(self, epoch: int, start: int) -> Iterator[TaggerBatch]:
        for i, idx in enumerate(self._epoch_batches(epoch)[start:], start):
            gen = torch.Generator().manual_seed(((self.seed * 100_003 + epoch) * 1_000_003 + i) * 64 + self.dist.rank)
            yield self.train.batch(idx, (self.enc.singletons, self.cfg.unk_replace, gen))

    def train_step(self, model: nn.Module, batch: TaggerBatch) -> tuple[Tensor, int]:
        device = next(model.parameters()).device
        return model(batch.to(device)), int(batch.lengths.sum())

    def evaluate(self, model: nn.Module) -> dict[str, float]:
        res = score(model, self.enc, self.valid, self.valid_sents, self.cfg.eval_batch_size)
        return {k: v for k, v in res.items() if isinstance(v, float)}

    def describe(self, loss: float) -> dict[str, float]:
        return {}

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass


def score_key(enc: Encoder) -> str:
    """The validation score that selects ``best.pt`` by default: entity F1, or token accuracy for plain tags."""
    return "acc" if enc.scheme == "none" else "f1"


def note_unknown_tags(enc: Encoder, sents: list[Sentence], what: str) -> None:
    """The documented handling of tags training never saw (module docstring), announced once."""
    unknown = [(s, i) for s in sents for i, t in enumerate(s.tags) if t not in enc.tag_id]
    if unknown:
        s, i = unknown[0]
        print(f"note: {len(unknown)} tag(s) of the {what} file are not among the training tags, e.g. "
              f"{s.tags[i]!r} at {s.where(i)}; they count as misses, and their sentences are left out of "
              f"the loss", file=sys.stderr)


def _unwrap(model: nn.Module) -> SequenceTagger:
    return getattr(model, "module", model)


@torch.no_grad()
def tag_ids(model: nn.Module, encoded: Encoded, batch_size: int) -> tuple[list[list[int]], float, int]:
    """``(predicted tag ids per sentence, summed NLL, words in that sum)`` of the sentences in ``encoded``
    (the NLL only when it holds tags; sentences with unknown tags are left out of it)."""
    m = _unwrap(model)
    device = next(m.parameters()).device
    preds: list[list[int]] = [[] for _ in encoded.lengths]
    total, words = 0.0, 0
    for idx in sorted_batches(encoded.lengths, batch_size):
        b = encoded.batch(idx).to(device)
        em = m.emissions(b)
        best = m.decode_emissions(em, b.lengths).cpu()
        for row, i in enumerate(idx):
            preds[i] = best[row, : encoded.lengths[i]].tolist()
        if encoded.tag_ids:
            known = torch.tensor([bool((encoded.tag_ids[i] >= 0).all()) for i in idx], device=device)
            nll = m.nll(em, b)
            total += float(nll[known].sum())
            words += int(b.lengths[known].sum())
    return preds, total, words


def score(model: nn.Module, enc: Encoder, encoded: Encoded, sents: list[Sentence], batch_size: int) -> dict[str, Any]:
    """Loss per word and entity scores (chunk tags, in %) or token accuracy (plain tags, in %)."""
    preds, total, words = tag_ids(model, encoded, batch_size)
    gold = [s.tags for s in sents]
    pred = [[enc.tags[j] for j in p] for p in preds]
    out: dict[str, Any] = {"loss": total / words if words else float("nan")}
    if enc.scheme == "none":
        out["acc"] = token_accuracy(gold, pred)
    else:
        ent = entity_scores(gold, pred, enc.scheme)
        out.update(f1=ent["f1"], precision=ent["precision"], recall=ent["recall"], per_type=ent["per_type"])
        out["acc"] = token_accuracy(gold, pred)
    return out


# -- commands --------------------------------------------------------------------------------
def add_train_flags(p: Any) -> None:
    options.add_train_flags(p, SECTIONS, TASK)


def resolve_configs(args: Any) -> tuple[Path, dict[str, Any], bool]:
    return options.resolve_configs(args, TASK, SECTIONS)


def train(run_dir: Path, configs: dict[str, Any], resume: bool = False, quiet: bool = False) -> dict[str, Any]:
    """Train a tagger into ``run_dir``; returns the Trainer's summary with the test scores of ``best.pt``."""
    data, model_cfg, train_cfg = configs["data"], configs["model"], configs["train"]
    check_data_config(data)
    with runs.training(run_dir, train_cfg) as dist:
        return _train(run_dir, data, model_cfg, train_cfg, dist, resume, quiet)


def _train(run_dir: Path, data: TagDataConfig, model_cfg: TaggerConfig, train_cfg: TrainConfig,
           dist: distributed.DistInfo, resume: bool, quiet: bool) -> dict[str, Any]:
    say = (lambda *a: None) if quiet or not dist.is_main else (lambda *a: print(*a, file=sys.stderr))
    train_sents, scheme = read_tagged(data.data, data, None)
    if data.valid:
        valid_sents, _ = read_tagged(data.valid, data, scheme)
    else:
        train_sents, valid_sents, held = hold_out(train_sents, data.valid_fraction, data.split_seed, data.data)
        say(f"no --valid: {len(held):,} of the {len(held) + len(train_sents):,} sentences of {data.data} held out "
            f"for validation (--valid-fraction {data.valid_fraction}, --split-seed {data.split_seed}; their numbers "
            f"in {run_dir / HELD_OUT})")
        if dist.is_main:
            write_atomic(run_dir / HELD_OUT, "".join(f"{i}\n" for i in held))
    test_sents = read_tagged(data.test, data, scheme)[0] if data.test else None  # a bad file fails now
    enc = Encoder.build(train_sents, scheme, data.lowercase, data.zeros)
    if resume:
        saved = checkpoint.load(run_dir / "last.pt", TASK)["encoder"]
        if saved != enc.to_dict():
            raise RnnkitError(f"the vocabularies of {data.data} do not match the ones in {run_dir}/last.pt; "
                              f"resume with the same training file and options")
    model_cfg = dataclasses.replace(model_cfg, vocab_size=len(enc.words), num_chars=len(enc.chars),
                                    num_tags=len(enc.tags))
    torch.manual_seed(train_cfg.seed)
    try:
        model = SequenceTagger(model_cfg, enc.constraints() if scheme != "none" else None)
    except (ValueError, TypeError) as e:
        raise RnnkitError(f"model options: {cfgmod.as_flags(str(e), TaggerConfig)}") from None
    task = TagTask(enc, train_sents, valid_sents, data, train_cfg.seed, dist)
    train_cfg = dataclasses.replace(train_cfg, select=resolve_select(train_cfg.select, task))  # saved resolved
    resolved = {"task": TASK, "data": cfgmod.to_dict(data), "model": cfgmod.to_dict(model_cfg),
                "train": cfgmod.to_dict(train_cfg)}
    if dist.is_main:
        runs.write_config(run_dir, resolved)
    n_params = sum(p.numel() for p in model.parameters())
    say(f"run {run_dir}: {len(train_sents):,} / {len(valid_sents):,} train / valid sentences, {len(enc.words):,} "
        f"words, {len(enc.chars)} characters, {len(enc.tags)} tags ({scheme.upper()}); BiLSTM "
        f"{model_cfg.num_layers}x{model_cfg.hidden_size} {model_cfg.cell.upper()}"
        f"{' + chars' if model_cfg.char_features else ''} + {'CRF' if model_cfg.crf else 'softmax'}, "
        f"{n_params:,} parameters")
    meta = {"task": TASK, "config": resolved, "encoder": enc.to_dict(), "title": f"tag: {run_dir.name}"}
    trainer, summary = runs.fit(model, task, train_cfg, run_dir, meta, resume)
    chosen, ckpt = runs.load_checkpoint(run_dir, TASK)
    model.load_state_dict(ckpt["model"])
    model.eval()
    scores = {"valid": score(model, enc, task.valid, valid_sents, data.eval_batch_size)}
    if test_sents is not None:
        note_unknown_tags(enc, test_sents, "test")
        test = Encoded(enc, [s.tokens for s in test_sents], [s.tags for s in test_sents])
        scores["test"] = score(model, enc, test, test_sents, data.eval_batch_size)
        summary["test"] = {k: v for k, v in scores["test"].items() if isinstance(v, float)}
        trainer.log.write({"step": trainer.step, "split": "test", **summary["test"]})
        say(f"test ({chosen.name}): " + show_all(summary["test"], percents=PERCENTS))
    if dist.is_main:
        scores.update(checkpoint=chosen.name, scheme=scheme, steps=trainer.step, seconds=summary.get("seconds"))
        (run_dir / "metrics.json").write_text(json.dumps(scores, indent=2) + "\n", encoding="utf-8")
    return summary


HELD_OUT = "valid-sentences.txt"  # the 1-based numbers of the held-out training sentences, one a line


def hold_out(sents: list[Sentence], fraction: float, seed: int, source: str
             ) -> tuple[list[Sentence], list[Sentence], list[int]]:
    """``(training, validation sentences, the validation ones' 1-based numbers in the file)``: a seeded
    ``fraction`` of ``sents`` (at least one), the same for the same file and seed, so a resumed run
    trains on the same sentences."""
    held_n = max(1, round(len(sents) * fraction))
    if held_n >= len(sents):
        raise RnnkitError(f"{source}: {len(sents)} sentence(s) is too few to hold out a validation share; "
                          f"give --valid FILE")
    order = torch.randperm(len(sents), generator=torch.Generator().manual_seed(seed)).tolist()
    held = sorted(order[:held_n])
    chosen = set(held)
    return ([s for i, s in enumerate(sents) if i not in chosen], [sents[i] for i in held],
            [i + 1 for i in held])


def load_run(run: str | Path, device: str = "cpu") -> tuple[SequenceTagger, Encoder, dict[str, Any], Path]:
    """``(model in eval mode, encoder, resolved config, checkpoint path)`` of a trained tagging run: its
    best.pt (else last.pt; an older run's ``best-score.pt`` when its ``select`` chose that), or the file given."""
    dev = resolve_device(device)
    path, ckpt = runs.load_checkpoint(run, TASK)
    try:
        enc = Encoder.from_dict(ckpt["encoder"])
        conf = ckpt["config"]
        model_cfg = cfgmod.build(TaggerConfig, conf["model"], f"{path} (model config)", internal=True)
        model = SequenceTagger(model_cfg)
        model.load_state_dict(ckpt["model"])  # the CRF constraints are buffers: loaded here
    except (KeyError, TypeError, ValueError, RuntimeError) as e:
        why = " ".join(line.strip() for line in str(e).splitlines()[:2])[:300]
        raise RnnkitError(f"checkpoint {path} lacks a valid tagger ({why})") from None
    return model.to(dev).eval(), enc, conf, path


def evaluate(run: str | Path, path: str | Path, device: str = "cpu", batch_size: int | None = None) -> dict[str, Any]:
    """Scores of a run (its directory, or a checkpoint file such as ``last.pt``) on a tagged file, read as the
    run's training files were (format, tag column, scheme). ``batch_size`` None: the run's ``--eval-batch-size``."""
    model, enc, conf, ckpt = load_run(run, device)
    d = cfgmod.build(TagDataConfig, conf["data"], f"{ckpt} (data config)", internal=True)
    sents, _ = read_tagged(str(path), d, enc.scheme)
    note_unknown_tags(enc, sents, str(path))
    encoded = Encoded(enc, [s.tokens for s in sents], [s.tags for s in sents])
    return {"checkpoint": str(ckpt), "data": str(path), "sentences": len(sents),
            **score(model, enc, encoded, sents, batch_size or d.eval_batch_size)}


def spans(tokens: Sequence[str], tags: Sequence[str], scheme: str) -> list[dict[str, Any]]:
    """The chunks of ``tags`` as ``{"type", "start", "end", "text"}`` (``end`` exclusive); none for plain tags."""
    if scheme == "none":
        return []
    return [{"type": t, "start": s, "end": e, "text": " ".join(tokens[s:e])}
            for t, s, e in tagschemes.chunks(tags, scheme)]


def predict(run: str | Path, texts: Iterable[str], device: str = "cpu",
            batch_size: int = 64, onnx: str | None = None) -> Iterator[dict[str, Any]]:
    """Tag whitespace-tokenised sentences with a trained run, in input order, ``batch_size`` at a time.

    Yields ``{"tokens": [...], "tags": [...], "spans": [{"type", "start", "end", "text"}]}`` per text
    (spans empty for plain tags such as POS; an empty text gives empty lists). ``onnx``: the emissions come from
    onnxruntime (the run's ``model.onnx`` for ``""``, else that file); decoding stays the model's own.
    """
    model, enc, _, path = load_run(run, device)
    if onnx is not None:
        from rnnkit.export.runtime import onnx_model

        model = onnx_model("tag", model, path, onnx)
    pending: list[list[str]] = []

    def flush() -> Iterator[dict[str, Any]]:
        real = [t for t in pending if t]
        preds = iter(tag_ids(model, Encoded(enc, real), batch_size)[0]) if real else iter(())
        for toks in pending:
            tags = [enc.tags[j] for j in next(preds)] if toks else []
            yield {"tokens": toks, "tags": tags, "spans": spans(toks, tags, enc.scheme)}
        pending.clear()

    for text in texts:
        pending.append(text.split())
        if len(pending) >= batch_size:
            yield from flush()
    yield from flush()
