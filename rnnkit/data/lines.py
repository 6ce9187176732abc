"""Whole lines as sequences, for full BPTT: padded batches with lengths, shuffled per epoch.

Each line becomes ``[sep] + tokens + [sep]`` (``sep``: the line break at character level,
``<eos>`` at word level): the input is all but the last token and the target all but the
first, so the model learns to start a line and to end it. Batches are padded; the padded
target positions are ``IGNORE`` and never reach the loss.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import Tensor

from rnnkit.errors import RnnkitError

IGNORE = -100  # cross_entropy's ignore_index


def line_sequences(lines: list[Tensor], sep: int) -> list[Tensor]:
    """``[sep] + line + [sep]`` for every non-empty line (ids ``(n,)`` each)."""
    s = torch.tensor([sep])
    return [torch.cat([s, ln, s]) for ln in lines if ln.numel()]


def pad_batch(seqs: list[Tensor]) -> tuple[Tensor, Tensor, Tensor]:
    """``(x (B, T), y (B, T), lengths (B,))`` from sequences of ids; ``y`` is ``IGNORE`` past each end."""
    lengths = torch.tensor([s.numel() - 1 for s in seqs])
    T = int(lengths.max())
    x = torch.zeros(len(seqs), T, dtype=torch.long)
    y = torch.full((len(seqs), T), IGNORE, dtype=torch.long)
    for b, s in enumerate(seqs):
        x[b, : s.numel() - 1] = s[:-1]
        y[b, : s.numel() - 1] = s[1:]
    return x, y, lengths


class LineBatches:
    """Training batches of ``batch_size`` whole sequences, reshuffled each epoch.

    The order of epoch ``e`` is a permutation drawn from a generator seeded with
    ``(seed, e)``, so a resumed run sees the same batches. Under ``torchrun`` each of the
    ``world`` processes takes every ``world``-th sequence of each batch. The last partial
    batch of an epoch is left out (every process must get the same number of batches).
    """

    def __init__(self, seqs: list[Tensor], batch_size: int, seed: int = 0, rank: int = 0, world: int = 1) -> None:
        if len(seqs) < batch_size:
            raise RnnkitError(f"only {len(seqs)} non-empty lines for batches of {batch_size}; "
                              f"use a smaller --batch-size")
        self.seqs, self.batch_size, self.seed, self.rank, self.world = seqs, batch_size, seed, rank, world

    def __len__(self) -> int:
        return len(self.seqs) // self.batch_size

    def batches(self, epoch: int, start: int = 0) -> Iterator[tuple[Tensor, Tensor, Tensor]]:
        g = torch.Generator().manual_seed(self.seed * 100_003 + epoch)
        order = torch.randperm(len(self.seqs), generator=g)
        B = self.batch_size
        for j in range(start, len(self)):
            idx = order[j * B : (j + 1) * B][self.rank :: self.world]
            yield pad_batch([self.seqs[i] for i in idx])
