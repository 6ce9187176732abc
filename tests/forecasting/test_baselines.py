"""Naive, seasonal naive and drift against their formulas; ETS and ARIMA through statsmodels."""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit.forecasting import baselines as bl


def test_naive():
    mean, std = bl.Naive().forecast(np.array([1.0, 3.0, 2.0, 4.0]), 3)
    sigma = np.sqrt(np.mean(np.array([2.0, -1.0, 2.0]) ** 2))
    assert mean.tolist() == [4, 4, 4] and np.allclose(std, sigma * np.sqrt([1, 2, 3]))


def test_seasonal_naive_repeats_the_last_season():
    y = np.array([1.0, 2.0, 3.0, 4.0, 2.0, 3.0, 4.0, 5.0])
    mean, std = bl.SeasonalNaive(4).forecast(y, 6)
    assert mean.tolist() == [2, 3, 4, 5, 2, 3]
    assert np.allclose(std, 1.0 * np.sqrt([1, 1, 1, 1, 2, 2]))  # every seasonal residual is 1
    assert bl.SeasonalNaive(1).forecast(y, 2)[0].tolist() == [5, 5]


def test_drift_extends_the_line():
    mean, std = bl.Drift().forecast(np.array([0.0, 1.0, 2.0, 3.0]), 2)
    assert mean.tolist() == [4, 5] and np.allclose(std, 0)


def test_ets_and_arima_fit_and_forecast():
    pytest.importorskip("statsmodels")
    from rnnkit.forecasting.statistical import ARIMA, ETS

    rng = np.random.default_rng(0)
    t = np.arange(48)
    y = 10 + 0.05 * t + 2 * np.sin(2 * np.pi * t / 4) + 0.1 * rng.normal(size=48)
    ets = ETS(4)
    ets.fit(y[:40])
    assert ets.describe().endswith(",A)")  # the season is found
    mean, std = ets.forecast(y[:44], 4)
    assert np.abs(mean - y[44:]).mean() < 0.3 and bool((std > 0).all())
    ar = ARIMA(1)
    z = np.zeros(70)
    for i in range(1, 70):
        z[i] = 0.7 * z[i - 1] + rng.normal()
    ar.fit(z[:60])
    mean, std = ar.forecast(z[:65], 5)
    assert ar.describe().startswith("ARIMA(") and mean.shape == std.shape == (5,)
    assert abs(mean[0] - 0.7 * z[64]) < 0.6 and std[4] > std[0]  # AR(1) decay, widening intervals
