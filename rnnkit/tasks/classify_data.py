"""What ``rnnkit train classify`` and ``rnnkit predict`` read: labelled sequences of every format, as tensors.

Formats (``--format``):

- ``tsv``, ``csv``, ``label-sentence``: texts (:mod:`rnnkit.data.tabular`), split into word or
  character tokens and mapped to ids by a vocabulary built from the training split.
- ``ts``: UCR/UEA multivariate series (:mod:`rnnkit.data.ucr`), one ``(T, C)`` tensor per case.
- ``wav-dir``: a directory or tar archive of WAV recordings (:mod:`rnnkit.data.audio`), labels from
  the file names ``{label}_..._{index}.wav``; one ``(F, I)`` feature tensor per recording.

Labels are strings; the classes of a run are those of its training split, sorted (numerically
when every label is a number). A label in a validation or test split, or in a labelled file
given to ``rnnkit predict``, that training never saw is an error naming its file and line.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from rnnkit.data import audio, tabular, ucr
from rnnkit.data.vocab import UNK, Vocab
from rnnkit.errors import RnnkitError

TEXT_FORMATS = tabular.FORMATS
FORMATS = (*TEXT_FORMATS, "ts", "wav-dir")
ARCHIVES = (".tar", ".tar.gz", ".tgz", ".tar.xz", ".txz", ".tar.bz2", ".zip")


def detect_format(path: str) -> str:
    """``--format auto``: the format of ``path`` from what it is: a directory or an archive holds WAVs
    (``wav-dir``), ``.ts`` is the UCR/UEA time-series format, ``.csv`` CSV, anything else TSV
    (``label-sentence`` is never guessed: its lines look like TSV's)."""
    name = str(path).lower()
    if Path(path).is_dir() or name.endswith(ARCHIVES):
        return "wav-dir"
    if name.endswith(".ts"):
        return "ts"
    return "csv" if name.endswith(".csv") else "tsv"



@dataclasses.dataclass
class Split:
    """Examples of one split: ``items`` are token lists (text formats) or feature tensors ``(T, I)``,
    ``labels`` their class labels (None: unlabelled), ``where`` their ``file:line`` or file name."""

    items: list[Any]
    labels: list[str] | None
    where: list[str]

    def __len__(self) -> int:
        return len(self.items)

    def subset(self, idx: Sequence[int]) -> Split:
        return Split([self.items[i] for i in idx], None if self.labels is None else [self.labels[i] for i in idx],
                     [self.where[i] for i in idx])


def read_split(path: str, data: Any, audio_cfg: audio.AudioConfig, say: Any = None) -> Split:
    """The labelled examples of ``path`` in the format ``data.format`` (``data`` is the task's DataConfig)."""
    fmt = data.format
    if fmt in TEXT_FORMATS:
        ex = tabular.read_texts(path, fmt, data.label_column, data.text_column, data.header, data.encoding)
        return Split([tabular.tokenize(e.text, data.tokens, data.lowercase) for e in ex], [e.label for e in ex],
                     [e.where for e in ex])
    if fmt == "ts":
        ts = ucr.read_ts(path, data.nan)
        if ts.labels is None:
            raise RnnkitError(f"{path}: the file has no class labels (@classLabel false); training needs them")
        if say is not None and (ts.filled or ts.trimmed):
            say(f"note: {path}: {ts.filled} missing values filled forward in time, {ts.trimmed} trailing "
                f"missing steps trimmed (--nan fill)")
        return Split(ts.series, ts.labels, ts.where)
    if fmt == "wav-dir":
        fx = audio.FeatureExtractor(audio_cfg)
        items, labels, where = [], [], []
        for name, raw in audio.wav_files(path):
            label, _ = audio.parse_name(name)
            items.append(fx(audio.read_wav(raw, name, audio_cfg.sample_rate)))
            labels.append(label)
            where.append(name)
        return Split(items, labels, where)
    raise RnnkitError(f"unknown --format {fmt!r}: expected one of {', '.join(FORMATS)}")


def split_by_index(split: Split, below: int) -> tuple[Split, Split]:
    """``(rest, held out)``: recordings whose name's last field (the index) is below ``below`` are held
    out (FSDD's usual test set: indices 0-4 of every speaker and digit)."""
    held, rest = [], []
    for i, name in enumerate(split.where):
        _, index = audio.parse_name(name)
        if index is None:
            raise RnnkitError(f"{name}: the file name ends in no index ({{label}}_..._{{index}}.wav), so it can't be "
                              f"assigned to the test set by --test-below; pass --test instead")
        (held if index < below else rest).append(i)
    if not held or not rest:
        raise RnnkitError(f"--test-below {below} puts {len(held)} of {len(split)} recordings in the test set; "
                          f"choose a value that leaves both sets non-empty, or pass --test")
    return split.subset(rest), split.subset(held)


def stratified_holdout(labels: Sequence[str], fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """``(kept, held out)`` indices: about ``fraction`` of every class held out (at least one example of
    every class with two or more), drawn with a generator seeded by ``seed``."""
    g = torch.Generator().manual_seed(seed)
    by_class: dict[str, list[int]] = {}
    for i, y in enumerate(labels):
        by_class.setdefault(y, []).append(i)
    kept, held = [], []
    for y in sorted(by_class):
        idx = by_class[y]
        order = [idx[j] for j in torch.randperm(len(idx), generator=g).tolist()]
        n = min(len(idx) - 1, max(1, round(fraction * len(idx)))) if len(idx) > 1 else 0
        held += order[:n]
        kept += order[n:]
    return sorted(kept), sorted(held)


def class_order(labels: Sequence[str]) -> list[str]:
    """The distinct labels, sorted numerically when all are numbers, else as strings."""
    distinct = set(labels)
    try:
        return sorted(distinct, key=float)
    except ValueError:
        return sorted(distinct)


def label_ids(split: Split, classes: Sequence[str], what: str) -> Tensor:
    """``(N,)`` int64 class ids of ``split``'s labels; a label outside ``classes`` names its example."""
    index = {c: i for i, c in enumerate(classes)}
    out = []
    for y, where in zip(split.labels or [], split.where):
        if y not in index:
            raise RnnkitError(f"{where}: label {y!r} of the {what} was never seen in training; known labels: "
                              f"{', '.join(classes[:20])}{' ...' if len(classes) > 20 else ''}")
        out.append(index[y])
    return torch.tensor(out, dtype=torch.long)


def build_vocab(token_lists: Sequence[list[str]], level: str, min_freq: int) -> Vocab:
    """The tokens seen at least ``min_freq`` times in training, most frequent first, after ``<unk>``."""
    if min_freq < 1:
        raise RnnkitError(f"--min-freq must be >= 1, got {min_freq}")
    counts = Counter(t for toks in token_lists for t in toks)
    kept = sorted((t for t, n in counts.items() if n >= min_freq and t != UNK), key=lambda t: (-counts[t], t))
    return Vocab([UNK, *kept], level)


def encode_tokens(tokens: list[str], vocab: Vocab) -> Tensor:
    """``(T,)`` int64 ids; unknown tokens become ``<unk>``."""
    return torch.tensor([vocab.stoi.get(t, vocab.unk) for t in tokens], dtype=torch.long)


def feature_stats(items: Sequence[Tensor]) -> tuple[Tensor, Tensor]:
    """Per-feature mean and standard deviation ``(I,)`` over every step of the training sequences."""
    allsteps = torch.cat(list(items)).double()
    return allsteps.mean(0).float(), allsteps.std(0, unbiased=False).float()
