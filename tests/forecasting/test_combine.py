"""The combination: weights from validation errors, intervals calibrated on the validation windows."""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit.errors import RnnkitError
from rnnkit.forecasting import combine


def test_weights_of_each_scheme():
    assert combine.weights([1.0, 2.0], "inverse") == pytest.approx([2 / 3, 1 / 3])
    assert combine.weights([1.0, 2.0], "inverse-squared") == pytest.approx([0.8, 0.2])
    assert combine.weights([1.0, 2.0, 4.0], "equal") == pytest.approx([1 / 3] * 3)
    assert combine.weights([3.0, 2.0, 4.0], "best") == [0.0, 1.0, 0.0]
    assert combine.weights([3.0, 2.0, 4.0, 1.0], "top2") == [0.0, 0.5, 0.0, 0.5]
    assert combine.weights([2.0, 2.0, 2.0], "top2") == [0.5, 0.5, 0.0]  # ties: the first two
    with pytest.raises(RnnkitError, match="--combine must be one of"):
        combine.weights([1.0], "median")


def test_conformal_factor_is_the_finite_sample_quantile():
    scores = np.arange(1, 11, dtype=float)  # n = 10: level ceil(0.8 * 11) / 10 -> the 9th smallest
    assert combine.conformal_factor(scores) == pytest.approx(9 / combine.Z80)


def test_fit_weighs_the_better_member_and_calibrates_on_the_validation_windows():
    rng = np.random.default_rng(0)
    N, H = 40, 6
    actual = rng.normal(size=(N, H)).cumsum(axis=1)
    good = actual + 0.1 * rng.normal(size=(N, H))
    bad = actual + 1.0 * rng.normal(size=(N, H))
    means, stds = {"a": good, "b": bad}, {"a": np.full((N, H), 0.01), "b": np.full((N, H), 0.01)}
    comb = combine.fit(actual, means, stds, "inverse")
    assert comb.weights[0] > 0.8 and comb.windows == N
    mean, std = comb.forecast(means, stds)
    inside = np.abs(actual - mean) <= combine.Z80 * std
    # the members' intervals are far too narrow; the factor widens them to cover 80% of the validation points
    assert comb.factor > 10 and 0.8 <= inside.mean() <= 0.82
    wide = {"a": np.full((N, H), 100.0), "b": np.full((N, H), 100.0)}  # intervals far too wide: halfway to c0
    c0 = combine.conformal_factor(np.abs(actual - combine.fit(actual, means, wide, "inverse").forecast(means, wide)[0])
                                  / 100.0)
    assert combine.fit(actual, means, wide, "inverse").factor == pytest.approx((1 + c0) / 2)
    nan = {"a": good, "b": np.full((N, H), np.nan)}
    assert combine.fit(actual, nan, stds, "equal").members == ["a"]  # a member that failed is left out


def test_interval_rules():
    assert combine.factor_rule(0.5, "halfway") == pytest.approx(0.75)
    assert combine.factor_rule(1.5, "halfway") == pytest.approx(1.5)
    assert combine.factor_rule(0.5, "conformal") == pytest.approx(0.5)
    assert combine.factor_rule(0.5, "widen") == 1.0 and combine.factor_rule(2.0, "widen") == 2.0
    with pytest.raises(RnnkitError, match="interval rule must be one of"):
        combine.factor_rule(1.0, "wider")
