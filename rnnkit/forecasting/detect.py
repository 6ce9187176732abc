"""What a series is like, found from its training span: is it seasonal, and should it be logged.

- **Seasonality** (the test of the M4 competition's benchmarks): with the sample autocorrelations
  ``r_k`` of the series, season ``m`` is kept when ``r_m`` is significant at the 90% level under
  Bartlett's formula for its standard error::

      r_m > 1.645 sqrt((1 + 2 sum_{k=1}^{m-1} r_k^2) / n)

  and at least three seasons are observed (fewer make ``r_m`` meaningless).
- **Transform** (Guerrero's method, as in the forecast / statsforecast packages): the series is cut
  into blocks of one season (two steps when ``m = 1``); with each block's mean ``mu_i`` and
  standard deviation ``s_i``, the Box-Cox lambda makes ``s_i / mu_i^(1 - lambda)`` as constant as
  possible (the smallest coefficient of variation over a grid in ``[-1, 2]``). ``log`` (lambda = 0)
  is chosen when lambda is below 1/2, i.e. when the spread grows with the level at least as fast
  as its square root; ``none`` otherwise, or whenever a value is not positive.
"""

from __future__ import annotations

import numpy as np

Z90 = 1.6448536269514722  # the 0.95 quantile of the standard normal: a two-sided 90% test
LAMBDAS = np.linspace(-1.0, 2.0, 61)


def acf(y: np.ndarray, nlags: int) -> np.ndarray:
    """Sample autocorrelations ``r_0 .. r_nlags`` (``r_0 = 1``), the biased (1/n) estimator."""
    x = np.asarray(y, dtype=np.float64) - np.mean(y)
    denom = float(x @ x)
    if denom == 0:
        return np.r_[1.0, np.zeros(nlags)]
    return np.array([1.0] + [float(x[k:] @ x[:-k]) / denom for k in range(1, nlags + 1)])


def is_seasonal(y: np.ndarray, m: int) -> bool:
    """The 90% autocorrelation test at lag ``m`` (module docstring); False for ``m <= 1`` or fewer
    than three seasons of data. A trend or a random walk makes every ``r_k`` large and hides the
    season in the levels, so a persistent series (``r_1 > 1/2``) is tested on its first
    difference, where a season shows as a spike at lag ``m`` (a sine stays a sine)."""
    y = np.asarray(y, dtype=np.float64)
    if m <= 1 or len(y) < 3 * m:
        return False
    return _significant(np.diff(y) if acf(y, 1)[1] > 0.5 else y, m)


def _significant(y: np.ndarray, m: int) -> bool:
    r = acf(y, m)
    limit = Z90 * np.sqrt((1 + 2 * np.sum(r[1:m] ** 2)) / len(y))
    return bool(r[m] > limit)


def guerrero_lambda(y: np.ndarray, m: int) -> float:
    """Guerrero's Box-Cox lambda for positive ``y`` (module docstring)."""
    block = max(2, m)
    n = len(y) // block
    if n < 2:
        return 1.0
    blocks = np.asarray(y[len(y) - n * block :], dtype=np.float64).reshape(n, block)  # the most recent blocks
    mu, sd = blocks.mean(axis=1), blocks.std(axis=1, ddof=1)
    if not (sd > 0).any():
        return 1.0
    cv = []
    for lam in LAMBDAS:
        ratio = sd / mu ** (1 - lam)
        cv.append(np.std(ratio, ddof=1) / np.mean(ratio))
    return float(LAMBDAS[int(np.argmin(cv))])


def choose_transform(y: np.ndarray, m: int) -> str:
    """``log`` or ``none`` for the series ``y`` (its training span) with season ``m``."""
    y = np.asarray(y, dtype=np.float64)
    if not (y > 0).all():
        return "none"
    return "log" if guerrero_lambda(y, m) < 0.5 else "none"
