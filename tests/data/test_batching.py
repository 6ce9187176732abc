"""Padding, masks and bucketing: shapes, determinism per (seed, epoch), every index exactly once."""

from __future__ import annotations

import pytest
import torch

from rnnkit.data.batching import bucket_batches, length_mask, pad_sequences, sorted_batches
from rnnkit.errors import RnnkitError


def test_pad_sequences_values_and_lengths():
    seqs = [torch.arange(3), torch.arange(1), torch.arange(5)]
    x, lengths = pad_sequences(seqs, value=-1)
    assert x.shape == (3, 5) and lengths.tolist() == [3, 1, 5]
    assert x[1].tolist() == [0, -1, -1, -1, -1]
    feats, _ = pad_sequences([torch.ones(2, 4), torch.ones(3, 4)])
    assert feats.shape == (2, 3, 4) and feats[0, 2].abs().sum() == 0


def test_pad_sequences_errors():
    with pytest.raises(RnnkitError, match="no sequences"):
        pad_sequences([])
    with pytest.raises(RnnkitError, match="sequence 1 is empty"):
        pad_sequences([torch.ones(2), torch.ones(0)])
    with pytest.raises(RnnkitError, match="sequence 1 has steps of shape"):
        pad_sequences([torch.ones(2, 3), torch.ones(2, 4)])


def test_length_mask():
    m = length_mask(torch.tensor([2, 0, 3]), T=4)
    assert m.tolist() == [[True, True, False, False], [False] * 4, [True, True, True, False]]


def test_bucket_batches_cover_every_index_once_and_are_seeded():
    lengths = [int(v) for v in torch.randint(1, 60, (503,), generator=torch.Generator().manual_seed(0))]
    b1 = bucket_batches(lengths, 16, seed=3, epoch=0)
    assert sorted(i for b in b1 for i in b) == list(range(503))
    assert b1 == bucket_batches(lengths, 16, seed=3, epoch=0)  # a resumed run sees the same batches
    assert b1 != bucket_batches(lengths, 16, seed=3, epoch=1)
    # bucketing: much less padding than random batches
    pad = sum(max(lengths[i] for i in b) * len(b) - sum(lengths[i] for i in b) for b in b1)
    rand = bucket_batches(lengths, 16, seed=3, epoch=0, pool=1)
    pad_rand = sum(max(lengths[i] for i in b) * len(b) - sum(lengths[i] for i in b) for b in rand)
    assert pad < pad_rand / 3
    full = bucket_batches(lengths, 16, seed=3, epoch=0, drop_last=True)
    assert all(len(b) == 16 for b in full)


def test_sorted_batches_longest_first():
    lengths = [3, 9, 1, 7, 5]
    assert sorted_batches(lengths, 2) == [[1, 3], [4, 0], [2]]
    with pytest.raises(RnnkitError):
        sorted_batches(lengths, 0)
