"""The network's inputs: context relative to the last value, targets relative to the base forecast."""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit.data import series as ser
from rnnkit.forecasting.windows import Prepared, Spans, windows


def monthly(y: np.ndarray) -> ser.Series:
    T = len(y)
    return ser.Series("y", "M", 2000 * 12 + np.arange(T), y.astype(float), np.zeros((T, 0)), np.arange(T) + 2)


def test_windows_last_base():
    s = monthly(np.arange(30.0))
    p = Prepared(s, ser.Scaler(False, 0.0, 1.0), [], 4)
    w = windows(p, [10, 28], Spans(12, 4, 6, 4, 4), "last")
    assert w["context"].shape == (2, 6, 3) and w["known"].shape == (2, 4, 2)  # target + month sin/cos
    assert w["context"][0, :, 0].tolist() == [-5, -4, -3, -2, -1, 0]  # relative to the last value, 9
    assert w["base"][0].tolist() == [9, 9, 9, 9]
    assert w["target"][0].tolist() == [1, 2, 3, 4]
    assert w["target"][1, :2].tolist() == [1, 2] and bool(w["target"][1, 2:].isnan().all())  # past the end


def test_windows_seasonal_and_none_bases():
    y = np.tile([1.0, 5.0, 3.0, 2.0], 8)
    p = Prepared(monthly(y), ser.Scaler(False, 0.0, 1.0), [], 4)
    w = windows(p, [12], Spans(4, 4, 4, 4, 4), "seasonal")
    assert w["base"][0].tolist() == [1, 5, 3, 2] and w["target"][0].abs().max() == 0  # a perfect season
    w = windows(p, [12], Spans(4, 4, 4, 4, 4), "none")
    assert w["context"][0, :, 0].tolist() == [1, 5, 3, 2] and w["target"][0].tolist() == [1, 5, 3, 2]


def test_scaled_units_and_calendar_past_the_end():
    s = monthly(np.exp(np.arange(12.0)))
    p = Prepared(s, ser.Scaler.fit(s.y, log=True), [], 3)
    assert p.z == pytest.approx(np.arange(12.0) - 5.5)  # log, mean 5.5, mean change 1
    assert p.cal.shape == (15, 2)  # known for the 3 steps after the end
