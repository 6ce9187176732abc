"""Forecast accuracy: point errors (MAE, RMSE, sMAPE, MASE) and probabilistic ones (interval
coverage, quantile loss as an estimate of the CRPS).

Arrays are numpy, any shape, compared element by element: ``y`` the actuals, ``f`` the point
forecasts, ``q`` quantile forecasts with the quantile levels on the last axis.
"""

from __future__ import annotations

import numpy as np

# quantile levels every probabilistic forecast is given at: 0.05, 0.10, ..., 0.95; 0.10 and 0.90
# bound the nominal 80% interval
LEVELS = np.round(np.arange(1, 20) / 20, 2)
LOW, HIGH = int(np.argmin(abs(LEVELS - 0.1))), int(np.argmin(abs(LEVELS - 0.9)))


def mae(y: np.ndarray, f: np.ndarray) -> float:
    return float(np.mean(np.abs(y - f)))


def rmse(y: np.ndarray, f: np.ndarray) -> float:
    return float(np.sqrt(np.mean((y - f) ** 2)))


def smape(y: np.ndarray, f: np.ndarray) -> float:
    """Symmetric MAPE in percent, ``200 |y - f| / (|y| + |f|)`` (0 where both are 0), as in the M4 competition."""
    den = np.abs(y) + np.abs(f)
    return float(np.mean(np.where(den > 0, 200 * np.abs(y - f) / np.where(den > 0, den, 1), 0.0)))


def seasonal_naive_scale(history: np.ndarray, m: int) -> float:
    """The in-sample MAE of the seasonal naive forecast ``y_t = y_{t-m}`` over ``history`` (the MASE
    denominator; ``m = 1``: the naive forecast). Raises if the history is too short or constant."""
    m = max(1, m)
    if len(history) <= m:
        raise ValueError(f"MASE needs more than m = {m} in-sample values, got {len(history)}")
    scale = float(np.mean(np.abs(history[m:] - history[:-m])))
    if not scale > 0:
        raise ValueError("MASE is undefined for a history whose seasonal differences are all zero")
    return scale


def mase(y: np.ndarray, f: np.ndarray, scale: float) -> float:
    """Mean absolute scaled error: MAE / ``scale`` (from :func:`seasonal_naive_scale`). Below 1: better
    than the in-sample one-season-ahead seasonal naive forecast."""
    return mae(y, f) / scale


def coverage(y: np.ndarray, low: np.ndarray, high: np.ndarray) -> float:
    """Fraction of actuals inside ``[low, high]``."""
    return float(np.mean((y >= low) & (y <= high)))


def quantile_loss(y: np.ndarray, q: np.ndarray, levels: np.ndarray = LEVELS) -> float:
    """Mean pinball loss over the levels, times 2: ``2 mean_l max(l (y - q_l), (l - 1)(y - q_l))``.

    With evenly spread levels this approximates the CRPS (the CRPS is the integral of twice the
    pinball loss over all levels); for a point forecast (all quantiles equal) it is the MAE.
    """
    d = y[..., None] - q
    return float(np.mean(2 * np.maximum(levels * d, (levels - 1) * d)))


def gaussian_quantiles(mean: np.ndarray, std: np.ndarray, levels: np.ndarray = LEVELS) -> np.ndarray:
    """``(..., Q)`` quantiles of normal distributions."""
    from statistics import NormalDist

    z = np.array([NormalDist().inv_cdf(float(p)) for p in levels])
    return mean[..., None] + std[..., None] * z


def summary(y: np.ndarray, f: np.ndarray, q: np.ndarray | None, scale: np.ndarray) -> dict[str, float]:
    """All metrics of one model over its forecasts: ``y``, ``f`` (N, H), ``q`` (N, H, Q) or None,
    ``scale`` (N,) each forecast's MASE denominator (its series' seasonal-naive in-sample MAE)."""
    out = {"mae": mae(y, f), "rmse": rmse(y, f), "smape": smape(y, f),
           "mase": float(np.mean(np.abs(y - f).mean(axis=1) / scale))}
    if q is not None:
        out["coverage80"] = coverage(y, q[..., LOW], q[..., HIGH])
        out["crps"] = quantile_loss(y, q)
        d = y[..., None] - q
        out["scaled_crps"] = float(np.mean(np.mean(2 * np.maximum(LEVELS * d, (LEVELS - 1) * d), axis=(1, 2)) / scale))
    return out
