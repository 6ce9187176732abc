"""The Kneser-Ney n-gram: proper distributions, the NLL it reports is the one its distributions give."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rnnkit.music.ngram import NGram

SEQS = [[5, 0, 1, 2, 1, 2, 3], [5, 0, 2, 1, 3], [5, 0, 1, 1, 2, 3]]


@pytest.mark.parametrize("order", [1, 2, 3, 5])
def test_every_distribution_sums_to_one(order: int):
    m = NGram(order, 4).fit(SEQS, skip=1)
    for h in ([], [5], [5, 0], [0, 1], [9, 9, 9], [1, 2], [2, 1, 1, 2]):
        p = m.dist(h)
        assert p.shape == (4,) and abs(p.sum() - 1) < 1e-12 and (p > 0).all(), (h, p)


def test_unigram_is_kneser_ney_by_hand():
    m = NGram(1, 4).fit(SEQS, skip=1)
    counts = np.array([3, 5, 4, 3], dtype=float)  # the tokens after the first of each sequence
    assert m.discount[0] == 0.5  # no token is seen once or twice: D falls back to 0.5
    want = np.maximum(counts - 0.5, 0) / counts.sum() + 0.5 * 4 / counts.sum() / 4
    assert np.allclose(m.dist([]), want)
    total, n = m.nll(SEQS, skip=1)
    by_hand = -sum(math.log(want[t]) for s in SEQS for t in s[1:])
    assert n == 15 and math.isclose(total, by_hand)


def test_higher_orders_fit_the_training_data_better_and_back_off_on_unseen_contexts():
    nll = [NGram(n, 4).fit(SEQS, skip=1).nll(SEQS, skip=1)[0] for n in (1, 2, 3)]
    assert nll[0] > nll[1] > nll[2]
    m = NGram(3, 4).fit(SEQS, skip=1)
    assert np.allclose(m.dist([7, 8]), NGram(3, 4).fit(SEQS, skip=1).dist([]))  # unseen: the lowest order
    assert m.dist([0, 1])[2] > m.dist([0, 1])[0]  # "0 1" was followed by 2 and 1, never by 0


def test_sampling_is_seeded_and_respects_the_mask():
    m = NGram(2, 4).fit(SEQS, skip=1)
    mask = np.array([0.0, 1.0, 0.0, 1.0])
    a = [m.sample([5, 0], np.random.default_rng(1), mask=mask) for _ in range(20)]
    b = [m.sample([5, 0], np.random.default_rng(1), mask=mask) for _ in range(20)]
    assert a == b and set(a) <= {1, 3}
    with pytest.raises(ValueError, match="order"):
        NGram(0, 4)
