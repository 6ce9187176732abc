"""The members of the combination and their forecasts in the transformed units ``v``.

A member is the trained network (``rnn``), a statistical model (``ets``, ``arima``, ``theta``) fitted once
on the span before validation, with the season found for the series (``m = 1`` when the
seasonality test says none), its parameters then kept fixed: every later forecast, on the
validation windows or the test span, only filters the longer history; or one of the simple
benchmarks (``naive``, ``seasonal-naive``, ``drift``: nothing to fit). So the weights, chosen on the
validation windows, weigh the very models that forecast the test span.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
import torch

from rnnkit.errors import RnnkitError
from rnnkit.forecasting.windows import Prepared, Spans, windows
from rnnkit.models.forecaster import Forecaster

NAMES = ("rnn", "ets", "arima", "theta", "naive", "seasonal-naive", "drift")
SIMPLE = ("naive", "seasonal-naive", "drift")


def _classes() -> dict[str, Any]:
    from rnnkit.forecasting import baselines as bl
    from rnnkit.forecasting import statistical as st

    return {"naive": bl.Naive, "seasonal-naive": bl.SeasonalNaive, "drift": bl.Drift, "ets": st.ETS,
            "arima": st.ARIMA, "theta": st.Theta}


def new(name: str, m: int) -> Any:
    """A fresh model by member name (not ``rnn``): the simple benchmarks, ETS, ARIMA or Theta
    (statsmodels: check :func:`statistical.have_statsmodels` first), ``m`` the season."""
    cls = _classes()[name]
    return cls() if name in ("naive", "drift") else cls(m)


def statistical(names: list[str], v: np.ndarray, m: int, quiet: bool = False) -> dict[str, Any]:
    """ETS / ARIMA members fitted on ``v`` (the span before validation), skipped with a note when
    statsmodels is missing or the fit fails; the simple benchmarks as they are."""
    from rnnkit.forecasting import statistical as st

    out: dict[str, Any] = {}
    for name in names:
        if name == "rnn":
            continue
        if name in SIMPLE:
            out[name] = new(name, m)
            continue
        if not st.have_statsmodels():
            if not quiet:
                print(f'note: combination member {name} skipped: it needs statsmodels (pip install '
                      f'"rnnkit[forecast]")', file=sys.stderr)
            continue
        model = new(name, m)
        try:
            model.fit(v)
        except RnnkitError as e:
            if not quiet:
                print(f"note: combination member {name} skipped: {e}", file=sys.stderr)
            continue
        out[name] = model
    return out


def restore(states: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Statistical members from their saved ``state()``."""
    return {name: _classes()[name].from_state(s) for name, s in states.items()}


def model_forecasts(model: Any, v: np.ndarray, starts: list[int], horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """``(mean, std)`` (N, H) of a statistical model (or baseline) from each origin, each from
    ``v[:o]`` only."""
    out = [model.forecast(v[:o], horizon) for o in starts]
    return np.array([m for m, _ in out]), np.array([s for _, s in out])


def network_forecasts(model: Forecaster, p: Prepared, starts: list[int], sp: Spans, base: str
                      ) -> tuple[np.ndarray, np.ndarray]:
    """``(mean, std)`` (N, H) of the network in the transformed units: the Gaussian mapped back
    through the scaling only (``v = z scale + shift``), before any ``exp``."""
    w = windows(p, starts, sp, base)
    dev = next(model.parameters()).device
    model.eval()
    with torch.no_grad():
        mu, sigma = model(w["context"].to(dev), w["known"].to(dev))
    z = mu.cpu().double().numpy() + w["base"].double().numpy()
    return z * p.scaler.scale + p.scaler.shift, sigma.cpu().double().numpy() * p.scaler.scale


def forecasts(stat: dict[str, Any], names: list[str], net: Forecaster | None, p: Prepared, starts: list[int],
              sp: Spans, base: str) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Every member's ``(mean, std)`` from the origins ``starts``, by name."""
    v = transformed(p)
    means, stds = {}, {}
    for name in names:
        if name == "rnn" and net is not None:
            means[name], stds[name] = network_forecasts(net, p, starts, sp, base)
        elif name in stat:
            means[name], stds[name] = model_forecasts(stat[name], v, starts, sp.horizon)
    return means, stds


def transformed(p: Prepared) -> np.ndarray:
    """The series in the units every model works in: ``log y`` or ``y``."""
    return np.log(p.series.y) if p.scaler.log else p.series.y
