"""Seasonality and transform found from a series, on real series and on series built to have them."""

from __future__ import annotations

import numpy as np

from rnnkit.data import series as ser
from rnnkit.forecasting import detect


def test_acf_of_a_period_4_signal():
    r = detect.acf(np.tile([1.0, 2.0, 3.0, 4.0], 20), 8)
    assert r[0] == 1 and r[4] > 0.9 and r[8] > 0.8 and r[2] < -0.5


def test_seasonality_on_real_series(data_dir):
    air = ser.read_series(data_dir / "forecasting" / "Airline.csv").series[0].y
    gdp = ser.read_series(data_dir / "forecasting" / "macrodata.csv", target="realgdp", time="year,quarter")
    sun = ser.read_series(data_dir / "forecasting" / "sunspots.csv").series[0].y
    assert detect.is_seasonal(np.log(air), 12)  # trending: tested on the changes
    assert not detect.is_seasonal(np.log(gdp.series[0].y), 4)  # seasonally adjusted GDP
    assert detect.is_seasonal(sun, 11)  # the 11-year solar cycle
    assert not detect.is_seasonal(air[:30], 12)  # under three seasons: never seasonal


def test_seasonality_of_noise_and_of_a_noisy_season():
    rng = np.random.default_rng(0)
    noise = rng.normal(size=120)
    assert not detect.is_seasonal(noise, 12)
    assert detect.is_seasonal(noise + 2 * np.sin(2 * np.pi * np.arange(120) / 12), 12)


def test_transform_log_when_the_spread_grows_with_the_level(data_dir):
    air = ser.read_series(data_dir / "forecasting" / "Airline.csv").series[0].y
    assert detect.choose_transform(air, 12) == "log"  # the classic multiplicative season
    t = np.arange(96)
    additive = 100 + t + 10 * np.sin(2 * np.pi * t / 12)
    assert detect.choose_transform(additive, 12) == "none"
    assert detect.choose_transform(np.exp(np.log(additive)) * (1 + 0.3 * np.sin(2 * np.pi * t / 12)) * (1 + t / 10),
                                   12) == "log"
    assert detect.choose_transform(additive - 150, 12) == "none"  # values <= 0 can't be logged
