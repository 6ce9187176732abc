"""Batches of variable-length sequences: padding, masks, and bucketing by length.

Sequences of different lengths are padded to the longest one in their batch and carried with
their ``lengths``; :func:`length_mask` says which steps are real, so padding never reaches a loss
or a metric. Bucketing puts sequences of similar length together (less padding, less wasted
compute) while keeping every epoch's batches random:

1. the training indices are shuffled with a generator seeded by ``(seed, epoch)``,
2. cut into pools of ``pool * batch_size``, each pool sorted by length,
3. each pool cut into batches, and the batches of the whole epoch shuffled again.

The order depends only on ``(seed, epoch)``, so a resumed run sees the very same batches.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from rnnkit.errors import RnnkitError


def pad_sequences(seqs: Sequence[Tensor], value: float = 0) -> tuple[Tensor, Tensor]:
    """``(padded (B, T, *F), lengths (B,) int64)`` from ``B`` tensors ``(T_b, *F)``; ``T = max T_b``.

    The steps past each sequence's end hold ``value``. Every sequence must have at least one
    step and the same trailing shape ``F`` and dtype.
    """
    if len(seqs) == 0:
        raise RnnkitError("pad_sequences: no sequences to pad")
    lengths = torch.tensor([s.shape[0] for s in seqs], dtype=torch.long)
    if int(lengths.min()) < 1:
        i = int(lengths.argmin())
        raise RnnkitError(f"pad_sequences: sequence {i} is empty (every sequence needs at least one step)")
    first = seqs[0]
    out = first.new_full((len(seqs), int(lengths.max()), *first.shape[1:]), value)
    for b, s in enumerate(seqs):
        if s.shape[1:] != first.shape[1:]:
            raise RnnkitError(f"pad_sequences: sequence {b} has steps of shape {tuple(s.shape[1:])}, "
                              f"sequence 0 of {tuple(first.shape[1:])}")
        out[b, : s.shape[0]] = s
    return out, lengths


def length_mask(lengths: Tensor, T: int | None = None) -> Tensor:
    """``(B, T)`` bool, True at the real steps ``t < lengths[b]`` (``T`` defaults to ``max(lengths)``)."""
    T = int(lengths.max()) if T is None else T
    return torch.arange(T, device=lengths.device)[None, :] < lengths[:, None]


def bucket_batches(lengths: Sequence[int], batch_size: int, seed: int, epoch: int, pool: int = 50,
                   drop_last: bool = False) -> list[list[int]]:
    """One epoch's batches of indices into ``lengths``, bucketed by length and shuffled (module docstring).

    ``pool``: pools of ``pool * batch_size`` sequences are sorted by length before batching (1: no
    bucketing beyond a batch; a large pool: nearly sorted batches). ``drop_last``: leave out the
    last short batch (every process under DDP must take the same number of steps).
    """
    if batch_size < 1:
        raise RnnkitError(f"batch size must be >= 1, got {batch_size}")
    if pool < 1:
        raise RnnkitError(f"bucketing pool must be >= 1 batches, got {pool}")
    n = len(lengths)
    g = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    order = torch.randperm(n, generator=g).tolist()
    size = pool * batch_size
    batches: list[list[int]] = []
    for p in range(0, n, size):
        chunk = sorted(order[p : p + size], key=lambda i: lengths[i])
        batches += [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
    if drop_last:
        batches = [b for b in batches if len(b) == batch_size]
    perm = torch.randperm(len(batches), generator=g).tolist()
    return [batches[i] for i in perm]


def sorted_batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Batches of indices sorted by length, longest first, for evaluation and prediction (least padding).

    Callers put the results back in input order through the indices.
    """
    if batch_size < 1:
        raise RnnkitError(f"batch size must be >= 1, got {batch_size}")
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
