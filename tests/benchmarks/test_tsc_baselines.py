"""The 1-NN baselines of benchmarks/classify_broad.py: vectorised DTW equals the textbook double loop."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from tsc_baselines import dtw_matrix, dtw_reference, nn1_dtw, nn1_euclidean  # noqa: E402


def test_dtw_matches_the_double_loop_for_unequal_lengths_and_channels():
    rng = np.random.default_rng(0)
    for channels in (1, 3):
        test = [rng.normal(size=(rng.integers(2, 12), channels)) for _ in range(7)]
        train = [rng.normal(size=(rng.integers(2, 12), channels)) for _ in range(5)]
        got = dtw_matrix(test, train, block=6)  # blocks of mixed lengths: padding must not leak
        want = np.array([[dtw_reference(a, b) for b in train] for a in test])
        assert np.allclose(got, want, rtol=1e-5)


def test_dtw_forgives_a_shift_that_euclidean_does_not():
    t = np.linspace(0, 1, 60)
    bump = lambda at: np.exp(-((t - at) ** 2) / 0.002)[:, None]  # noqa: E731
    train, y = [bump(0.3), 0.1 * np.sin(6 * np.pi * t)[:, None]], np.array(["bump", "wave"])
    shifted = [bump(0.55)]
    assert nn1_dtw(train, y, shifted)[0] == "bump"
    assert nn1_euclidean(train, y, shifted)[0] == "wave"
