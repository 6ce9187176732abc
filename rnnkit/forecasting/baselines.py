"""The simple benchmarks of Hyndman & Athanasopoulos (FPP3, 5.2 and 5.5): naive, seasonal naive, drift.

Each works on the (transformed) history ``y`` (n,) available at the forecast origin and returns
``(mean, std)`` (H,) of a normal forecast distribution: the point forecast, and the standard
deviation from the one-step residuals ``sigma`` over the history:

- naive ``y_n``, std ``sigma sqrt(h)``;
- seasonal naive ``y_{n - m + ((h - 1) mod m) + 1}``, std ``sigma sqrt(floor((h - 1) / m) + 1)``;
- drift ``y_n + h (y_n - y_1) / (n - 1)``, std ``sigma sqrt(h (1 + h / (n - 1)))``.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _sigma(residuals: np.ndarray) -> float:
    return float(np.sqrt(np.mean(residuals**2))) if residuals.size else 0.0


class Naive:
    name = "naive"

    def fit(self, y: np.ndarray) -> None:
        pass

    def state(self) -> dict[str, Any]:
        return {}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Naive:
        return cls()

    def forecast(self, y: np.ndarray, horizon: int) -> tuple[np.ndarray, np.ndarray]:
        h = np.arange(1, horizon + 1)
        return np.full(horizon, y[-1]), _sigma(np.diff(y)) * np.sqrt(h)


class SeasonalNaive:
    """The value one season ``m`` earlier (``m = 1``: the naive forecast)."""

    name = "seasonal naive"

    def __init__(self, m: int) -> None:
        self.m = max(1, m)

    def fit(self, y: np.ndarray) -> None:
        pass

    def state(self) -> dict[str, Any]:
        return {"m": self.m}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> SeasonalNaive:
        return cls(int(state["m"]))

    def forecast(self, y: np.ndarray, horizon: int) -> tuple[np.ndarray, np.ndarray]:
        m, n = self.m, len(y)
        h = np.arange(1, horizon + 1)
        mean = y[n - m + (h - 1) % m]
        return mean, _sigma(y[m:] - y[:-m]) * np.sqrt((h - 1) // m + 1)


class Drift:
    """The line through the first and the last value, extended."""

    name = "drift"

    def fit(self, y: np.ndarray) -> None:
        pass

    def state(self) -> dict[str, Any]:
        return {}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Drift:
        return cls()

    def forecast(self, y: np.ndarray, horizon: int) -> tuple[np.ndarray, np.ndarray]:
        n = len(y)
        h = np.arange(1, horizon + 1)
        slope = (y[-1] - y[0]) / (n - 1)
        resid = np.diff(y) - slope
        return y[-1] + h * slope, _sigma(resid) * np.sqrt(h * (1 + h / (n - 1)))
