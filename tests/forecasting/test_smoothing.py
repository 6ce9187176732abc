"""The hybrid's exponential smoothing: level and season, each step from the past only."""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit.forecasting.smoothing import LevelSeason, centred_moving_average


def test_centred_moving_average_of_a_line_is_the_line():
    z = np.arange(20.0)
    ma = centred_moving_average(z, 4)
    assert np.isnan(ma[:2]).all() and np.isnan(ma[-2:]).all() and np.allclose(ma[2:-2], z[2:-2])


def test_a_pure_season_is_found_and_forecast_exactly():
    season = np.array([1.0, -2.0, 0.5, 0.5])
    t = np.arange(40)
    z = 5 + season[t % 4]
    es = LevelSeason.fit(z, t, 4, seasonal=True, horizon=4)
    assert np.allclose(es.season, season - season.mean())
    level, seasons = es.run(z, t)
    assert np.allclose(level, 5 + season.mean())
    assert np.allclose(level[-1] + seasons[-1][t[:4] % 4], z[:4])  # the next season


def test_each_step_sees_only_the_past():
    rng = np.random.default_rng(1)
    t = np.arange(60)
    z = np.cumsum(rng.normal(size=60)) + np.sin(2 * np.pi * t / 6)
    es = LevelSeason.fit(z[:40], t[:40], 6, seasonal=True, horizon=6)
    level, seasons = es.run(z, t)
    changed = z.copy()
    changed[50:] += 100
    level2, seasons2 = es.run(changed, t)
    assert np.allclose(level[:50], level2[:50]) and np.allclose(seasons[:51], seasons2[:51])
    assert not np.allclose(level[50:], level2[50:])


def test_without_season_it_is_simple_exponential_smoothing():
    z = np.array([0.0, 10.0, 10.0, 10.0])
    es = LevelSeason(0.5, [])
    level, seasons = es.run(z, np.arange(4))
    assert level.tolist() == pytest.approx([0.0, 5.0, 7.5, 8.75]) and seasons.shape == (5, 1)
    fitted = LevelSeason.fit(np.r_[np.zeros(20), np.ones(20)], np.arange(40), 1, seasonal=False)
    assert fitted.season == [] and fitted.alpha == 1.0  # a step change: follow it at once
