"""Vocabularies: characters or words, built from training text, saved with a checkpoint."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

import torch
from torch import Tensor

from rnnkit.errors import RnnkitError

UNK = "<unk>"
EOS = "<eos>"
LEVELS = ("char", "word")


class Vocab:
    """A token <-> id map at character or word level.

    Character level: the tokens are the characters of the text (newlines included), plus
    ``<unk>`` for characters never seen in training. Word level: the text is split on
    whitespace, each line ends with ``<eos>``; words seen fewer than ``min_freq`` times
    become ``<unk>``. Ids are stable: specials first, then tokens by descending count and
    then alphabetically.
    """

    def __init__(self, tokens: Iterable[str], level: str) -> None:
        if level not in LEVELS:
            raise ValueError(f"unknown vocabulary level {level!r}: expected one of {', '.join(LEVELS)}")
        self.level = level
        self.itos: list[str] = list(tokens)
        self.stoi = {t: i for i, t in enumerate(self.itos)}
        if len(self.stoi) != len(self.itos):
            raise ValueError("vocabulary tokens must be unique")
        if UNK not in self.stoi:
            raise ValueError(f"vocabulary must hold {UNK}")
        self.unk = self.stoi[UNK]

    # -- building -----------------------------------------------------------
    @staticmethod
    def split(text: str, level: str) -> list[str]:
        """The token sequence of ``text`` at ``level`` (word level adds ``<eos>`` per line)."""
        if level == "char":
            return list(text)
        out: list[str] = []
        for line in text.splitlines():
            words = line.split()
            if words:
                out.extend(words)
                out.append(EOS)
        return out

    @classmethod
    def build(cls, text: str, level: str = "char", min_freq: int = 1) -> Vocab:
        """The vocabulary of ``text`` (the training split)."""
        if level not in LEVELS:
            raise RnnkitError(f"unknown level {level!r}: expected one of {', '.join(LEVELS)}")
        if min_freq < 1:
            raise RnnkitError(f"min_freq must be >= 1, got {min_freq}")
        counts = Counter(cls.split(text, level))
        specials = [UNK] if level == "char" else [UNK, EOS]
        kept = sorted((t for t, n in counts.items() if n >= min_freq and t not in specials),
                      key=lambda t: (-counts[t], t))
        return cls(specials + kept, level)

    # -- use ------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, text: str) -> tuple[Tensor, int]:
        """``(ids, unknown)``: the ids of ``text`` (int64, shape ``(N,)``) and how many were ``<unk>``
        without being spelled so."""
        toks = self.split(text, self.level)
        ids = [self.stoi.get(t, self.unk) for t in toks]
        unknown = sum(1 for t in toks if t not in self.stoi)
        return torch.tensor(ids, dtype=torch.long), unknown

    def encode_lines(self, text: str) -> tuple[list[Tensor], int]:
        """``(ids of each line, unknown)``: like :meth:`encode`, one tensor per line, without ``<eos>``."""
        out, unknown = [], 0
        for line in text.splitlines():
            toks = list(line) if self.level == "char" else line.split()
            out.append(torch.tensor([self.stoi.get(t, self.unk) for t in toks], dtype=torch.long))
            unknown += sum(1 for t in toks if t not in self.stoi)
        return out, unknown

    @property
    def sep(self) -> int:
        """The id that separates lines: ``\\n`` at character level, ``<eos>`` at word level."""
        if self.level == "word":
            return self.stoi[EOS]
        if "\n" not in self.stoi:
            raise RnnkitError("the character vocabulary has no line break: a text of one line can't be "
                              "read line by line (--bptt 0)")
        return self.stoi["\n"]

    def decode(self, ids: Iterable[int]) -> str:
        """Text for ``ids``: characters joined, or words joined by spaces with ``<eos>`` as a newline."""
        if self.level == "char":
            return "".join(self.itos[i] for i in ids)
        out = []
        for i in ids:
            t = self.itos[i]
            out.append("\n" if t == EOS else t + " ")
        return "".join(out)

    def to_dict(self) -> dict[str, Any]:
        return {"level": self.level, "tokens": list(self.itos)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Vocab:
        return cls(d["tokens"], d["level"])

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocab) and self.level == other.level and self.itos == other.itos

    def __repr__(self) -> str:
        return f"Vocab({self.level}, {len(self)} tokens)"
