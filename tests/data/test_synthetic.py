"""The adding and copy problems: shapes, targets, baselines, determinism."""

from __future__ import annotations

import math

import pytest
import torch

from rnnkit.data.synthetic import ADDING_BASELINE_MSE, adding_batch, copy_baseline, copy_batch


def test_adding_targets_are_the_sum_of_the_two_marked_values():
    x, y = adding_batch(500, 40, torch.Generator().manual_seed(0))
    assert x.shape == (500, 40, 2) and y.shape == (500, 1)
    marks = x[..., 1]
    assert torch.equal(marks.sum(1), torch.full((500,), 2.0))
    assert bool((marks[:, :20].sum(1) == 1).all()) and bool((marks[:, 20:].sum(1) == 1).all())
    assert torch.allclose((x[..., 0] * marks).sum(1, keepdim=True), y)
    # the baseline: always answering 1 scores Var(u1 + u2) = 1/6
    big = adding_batch(100_000, 10, torch.Generator().manual_seed(1))[1]
    assert float(((big - 1) ** 2).mean()) == pytest.approx(ADDING_BASELINE_MSE, rel=0.02)


def test_copy_layout_and_baseline():
    x, y = copy_batch(4, 7, torch.Generator().manual_seed(0), symbols=8, length=3)
    assert x.shape == y.shape == (4, 13)
    assert bool((x[:, :3] >= 1).all() and (x[:, :3] <= 8).all())
    assert bool((x[:, 3:9] == 0).all()) and bool((x[:, 9] == 9).all()) and bool((x[:, 10:] == 0).all())
    assert torch.equal(y[:, -3:], x[:, :3]) and bool((y[:, :-3] == 0).all())
    assert copy_baseline(100) == pytest.approx(10 * math.log(8) / 120)


def test_same_seed_same_batches():
    a = adding_batch(3, 10, torch.Generator().manual_seed(5))
    b = adding_batch(3, 10, torch.Generator().manual_seed(5))
    assert all(torch.equal(u, v) for u, v in zip(a, b))
    with pytest.raises(ValueError, match="T must be >= 2"):
        adding_batch(3, 1)
