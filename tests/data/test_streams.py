"""Streams for truncated BPTT: layout, continuity and targets."""

from __future__ import annotations

import pytest
import torch

from rnnkit.data import StreamBatches, batchify
from rnnkit.errors import RnnkitError


def test_batchify_rows_are_contiguous_spans():
    ids = torch.arange(23)
    data = batchify(ids, 4)
    assert data.shape == (4, 5)
    assert data[1].tolist() == [5, 6, 7, 8, 9]  # the last 3 tokens are left out


def test_chunks_continue_and_targets_shift():
    data = batchify(torch.arange(40), 2)  # rows 0..19, 20..39
    sb = StreamBatches(data, 6)
    chunks = list(sb.chunks())
    assert len(sb) == len(chunks) == 4  # 19 predictions per row: 6 + 6 + 6 + 1
    xs = torch.cat([x for x, _ in chunks], 1)
    ys = torch.cat([y for _, y in chunks], 1)
    assert xs[0].tolist() == list(range(19)) and ys[0].tolist() == list(range(1, 20))
    assert xs[1, 0] == 20 and ys[1, -1] == 39
    assert chunks[-1][0].shape == (2, 1)
    resumed = list(sb.chunks(2))
    assert all(torch.equal(a[0], b[0]) for a, b in zip(resumed, chunks[2:]))


def test_too_short():
    with pytest.raises(RnnkitError, match="too short: 5 tokens can't fill 4 streams"):
        batchify(torch.arange(5), 4)
    with pytest.raises(RnnkitError, match="bptt must be >= 1"):
        StreamBatches(batchify(torch.arange(10), 2), 0)
