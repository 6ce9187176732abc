"""The combination's members: the simple benchmarks as members, saved and restored by name."""

from __future__ import annotations

import numpy as np

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
