"""Forecast metrics against values worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit.metrics import forecast as fm


def test_point_metrics():
    y, f = np.array([1.0, 2.0, 4.0]), np.array([2.0, 2.0, 1.0])
    assert fm.mae(y, f) == pytest.approx(4 / 3)
    assert fm.rmse(y, f) == pytest.approx(np.sqrt(10 / 3))
    assert fm.smape(y, f) == pytest.approx((200 / 3 + 0 + 200 * 3 / 5) / 3)
    assert fm.smape(np.zeros(2), np.zeros(2)) == 0.0


def test_mase_scale_is_the_in_sample_seasonal_naive_mae():
    history = np.array([1.0, 2.0, 3.0, 5.0, 6.0, 9.0])
    assert fm.seasonal_naive_scale(history, 2) == pytest.approx((2 + 3 + 3 + 4) / 4)
    assert fm.seasonal_naive_scale(history, 1) == pytest.approx(8 / 5)
    assert fm.mase(np.array([3.0]), np.array([6.0]), 1.5) == pytest.approx(2.0)
    with pytest.raises(ValueError, match="all zero"):
        fm.seasonal_naive_scale(np.ones(5), 1)


def test_coverage_and_quantile_loss():
    y = np.array([0.0, 1.0, 5.0, -3.0])
    assert fm.coverage(y, np.full(4, -1.0), np.full(4, 2.0)) == 0.5
    # a point forecast given as identical quantiles: the quantile loss is the MAE
    f = np.array([1.0, 1.0, 1.0, 1.0])
    assert fm.quantile_loss(y, np.repeat(f[:, None], len(fm.LEVELS), 1)) == pytest.approx(fm.mae(y, f))


def test_quantile_loss_approximates_the_gaussian_crps():
    # CRPS of N(0, 1) at y = 0 is 2 phi(0) - 1/sqrt(pi) = 0.2337 (Gneiting & Raftery 2007)
    q = fm.gaussian_quantiles(np.zeros(1), np.ones(1))
    assert fm.quantile_loss(np.zeros(1), q) == pytest.approx(0.2337, abs=0.02)
    assert q[0, fm.LOW] == pytest.approx(-1.2816, abs=1e-4) and q[0, fm.HIGH] == pytest.approx(1.2816, abs=1e-4)


def test_summary_coverage_of_calibrated_gaussians():
    rng = np.random.default_rng(0)
    y = rng.normal(size=(4000, 1))
    q = fm.gaussian_quantiles(np.zeros((4000, 1)), np.ones((4000, 1)))
    s = fm.summary(y, np.zeros((4000, 1)), q, np.ones(4000))
    assert s["coverage80"] == pytest.approx(0.8, abs=0.02)
    assert s["mase"] == pytest.approx(s["mae"])
