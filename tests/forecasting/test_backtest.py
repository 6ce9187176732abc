"""The backtest scores the network and the baselines on the same origins, alike."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rnnkit.data import series as ser
from rnnkit.forecasting.backtest import backtest, table
from rnnkit.forecasting.windows import Prepared, Spans
from rnnkit.models.forecaster import Forecaster, ForecasterConfig


def test_a_network_that_predicts_no_change_scores_as_the_naive_forecast():
    rng = np.random.default_rng(0)
    y = 100 + np.cumsum(rng.normal(size=60))
    s = ser.Series("y", "Y", 1900 + np.arange(60), y, np.zeros((60, 0)), np.arange(60) + 2)
    split = ser.split_spans(s, 5, 15, 5, 10, "y")
    p = Prepared(s, ser.Scaler.fit(y[: split.valid_start], False), [], 5)
    model = Forecaster(ForecasterConfig(hidden_size=8, dropout=0.0, input_size=1, known_size=0, out_steps=5))
    with torch.no_grad():
        model.head_w.zero_()
        model.head_b.zero_()  # mu = 0: the base forecast, the last value
    sp = Spans(1, 5, 10, 15, 5)
    res = backtest(model, [p], [split], sp, "last", 1, ["naive", "seasonal-naive", "drift"])
    o = res["overall"]
    assert set(o) == {"rnn", "naive", "seasonal naive", "drift"}
    assert o["rnn"]["mae"] == pytest.approx(o["naive"]["mae"]) and o["rnn"]["mase"] == pytest.approx(o["naive"]["mase"])
    assert o["naive"]["mase"] == pytest.approx(o["seasonal naive"]["mase"])  # m = 1
    assert len(res["rows"]) == 4 * 11 * 5  # models x origins 45..55 x steps
    assert "| rnn |" in table(o)
