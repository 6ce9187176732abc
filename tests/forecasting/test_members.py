"""The combination's members: the simple benchmarks as members, saved and restored by name."""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit.forecasting import baselines as bl
from rnnkit.forecasting import members


def test_simple_members_need_no_fit_and_restore_from_their_state():
    y = np.array([1.0, 2.0, 3.0, 4.0, 2.0, 3.0, 4.0, 5.0, 3.0, 4.0])
    stat = members.statistical(["rnn", "naive", "seasonal-naive", "drift"], y, 4, quiet=True)
    assert set(stat) == {"naive", "seasonal-naive", "drift"}  # the network is not a statistical member
    again = members.restore({name: model.state() for name, model in stat.items()})
    for name, model in stat.items():
        assert np.allclose(again[name].forecast(y, 6)[0], model.forecast(y, 6)[0]), name
    assert np.allclose(again["seasonal-naive"].forecast(y, 4)[0], bl.SeasonalNaive(4).forecast(y, 4)[0])
    assert again["seasonal-naive"].forecast(y, 2)[0].tolist() == [4.0, 5.0]  # m = 4 survived the round trip


def test_theta_forecasts_as_statsmodels_theta_model_and_restores_from_its_state():
    pytest.importorskip("statsmodels")
    from statsmodels.tsa.forecasting.theta import ThetaModel

    from rnnkit.forecasting.statistical import Theta

    rng = np.random.default_rng(0)
    t = np.arange(96)
    y = 50 + 0.05 * t + np.cumsum(rng.normal(0, 0.3, 96)) + rng.normal(0, 1.5, 96)
    ours = Theta(1)
    ours.fit(y)
    ref = ThetaModel(y, period=1, deseasonalize=False).fit()
    assert ours.alpha == pytest.approx(ref.params["alpha"], rel=1e-3)
    assert ours.b0 == pytest.approx(ref.params["b0"], rel=1e-9)
    assert np.allclose(ours.forecast(y, 8)[0], ref.forecast(8).to_numpy(), atol=1e-4)
    seasonal = y + 4 * np.sin(2 * np.pi * t / 12)  # additive season: the classical decomposition's indices
    ours = Theta(12)
    ours.fit(seasonal)
    ref = ThetaModel(seasonal, period=12, method="additive", use_test=False).fit()
    assert np.allclose(ours.forecast(seasonal, 18)[0], ref.forecast(18).to_numpy(), atol=1e-3)
    mean, std = ours.forecast(seasonal[:80], 5)  # a shorter history: the fitted parameters, a new level
    assert mean.shape == std.shape == (5,) and np.all(np.diff(std) > 0)
    again = members.restore({"theta": ours.state()})["theta"]
    assert np.allclose(again.forecast(seasonal, 6)[0], ours.forecast(seasonal, 6)[0])
    assert "seasonal" in again.describe()
