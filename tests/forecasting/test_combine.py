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


def test_mixture_spread_is_the_linear_pool_and_never_narrower_than_the_mean_spread():
    means = {"a": np.array([[0.0, 1.0]]), "b": np.array([[2.0, 1.0]])}
    stds = {"a": np.array([[1.0, 1.0]]), "b": np.array([[1.0, 3.0]])}
    mix = combine.Combination(["a", "b"], [0.5, 0.5], 1.0, "equal", [1.0, 1.0], 1, "mixture")
    mean, std = mix.forecast(means, stds)
    # step 1: members 0 +- 1 and 2 +- 1 pool to mean 1, variance 1 + 1 (their disagreement);
    # step 2: they agree on the mean, variance (1 + 9) / 2
    assert mean.tolist() == [[1.0, 1.0]] and std == pytest.approx(np.array([[np.sqrt(2.0), np.sqrt(5.0)]]))
    plain = combine.Combination(["a", "b"], [0.5, 0.5], 1.0, "equal", [1.0, 1.0], 1)  # the default: mean
    assert plain.spread == "mean" and plain.forecast(means, stds)[1] == pytest.approx(np.array([[1.0, 2.0]]))
    rng = np.random.default_rng(1)
    actual = rng.normal(size=(20, 4))
    m2 = {"a": actual + rng.normal(size=(20, 4)), "b": actual - rng.normal(size=(20, 4))}
    s2 = {"a": np.ones((20, 4)), "b": np.ones((20, 4))}
    fitted = combine.fit(actual, m2, s2, "inverse", "conformal", "mixture")
    assert fitted.spread == "mixture"
    mean, std = fitted.forecast(m2, s2)
    inside = np.abs(actual - mean) <= combine.Z80 * std
    assert 0.8 <= inside.mean() <= 0.85  # calibrated on the mixture's width
    with pytest.raises(RnnkitError, match="interval spread must be one of"):
        combine.fit(actual, m2, s2, "inverse", "halfway", "union")
