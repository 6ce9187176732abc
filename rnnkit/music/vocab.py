"""The token vocabulary of a music run and the vocabularies of its conditions (metres, modes, tonics)."""

from __future__ import annotations

import dataclasses
from collections import Counter
from typing import Any

import torch
from torch import Tensor

from rnnkit.errors import RnnkitError
from rnnkit.music.corpus import Piece

UNK = "<unk>"
BOS, EOS = "<s>", "</s>"


@dataclasses.dataclass
class MusicVocab:
    """``tokens`` (``<s>``, ``</s>``, ``<unk>`` first) and the condition values seen in training."""

    tokens: list[str]
    metres: list[str]
    modes: list[str]
    tonics: list[str]

    def __post_init__(self) -> None:
        self.stoi = {t: i for i, t in enumerate(self.tokens)}

    @classmethod
    def build(cls, pieces: list[Piece]) -> MusicVocab:
        counts = Counter(t for p in pieces for t in p.tokens)
        rest = sorted(t for t in counts if t not in (BOS, EOS, UNK))
        conds = list(zip(*(p.condition for p in pieces))) if pieces else [(), (), ()]
        return cls([BOS, EOS, UNK, *rest], *(sorted(set(c)) for c in conds))

    def __len__(self) -> int:
        return len(self.tokens)

    @property
    def bos(self) -> int:
        return self.stoi[BOS]

    @property
    def eos(self) -> int:
        return self.stoi[EOS]

    @property
    def unk(self) -> int:
        return self.stoi[UNK]

    def ids(self, tokens: list[str]) -> tuple[Tensor, int]:
        """``(ids, unknown count)`` of tokens."""
        ids = [self.stoi.get(t, self.unk) for t in tokens]
        return torch.tensor(ids, dtype=torch.long), sum(t not in self.stoi for t in tokens)

    def condition_ids(self, condition: tuple[str, str, str], what: str = "") -> Tensor:
        """Ids of ``(metre, mode, tonic)``; a value the run never saw is an error listing the ones it knows."""
        out = []
        for value, known, name in zip(condition, (self.metres, self.modes, self.tonics), ("metre", "mode", "tonic")):
            if value not in known:
                raise RnnkitError(f"{what}unknown {name} {value!r}: this run was trained on {', '.join(known)}")
            out.append(known.index(value))
        return torch.tensor(out, dtype=torch.long)

    def known_condition(self, condition: tuple[str, str, str]) -> bool:
        return all(v in k for v, k in zip(condition, (self.metres, self.modes, self.tonics)))

    def to_dict(self) -> dict[str, Any]:
        return {"tokens": self.tokens, "metres": self.metres, "modes": self.modes, "tonics": self.tonics}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> MusicVocab:
        return cls(list(d["tokens"]), list(d["metres"]), list(d["modes"]), list(d["tonics"]))
