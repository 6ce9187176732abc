"""The exponential-smoothing half of the hybrid ES-RNN (after Smyl 2020, the M4 winner).

In the hybrid, exponential smoothing takes out what a per-series statistical model captures well,
the level and the season, and the network forecasts what is left: the deseasonalised series
relative to its current level. For a series ``z_t`` (already transformed and scaled, so log for a
multiplicative series, where additive terms are multiplicative ones), with ``p_t`` the phase of
step ``t`` in the season of length ``m``::

    S_0[p] = mean over the training span of (z_t - MA_m(z)_t) at phase p, centred to sum 0
    l_t    = alpha (z_t - S_t[p_t]) + (1 - alpha) l_{t-1},    l_0 = z_0 - S_0[p_0]      level
    S_{t+1}[p_t] = gamma (z_t - l_t) + (1 - gamma) S_t[p_t]    (other phases unchanged) season

(Holt-Winters without a trend, in error-correction form; ``MA_m`` is the centred moving average
over one season, 2 x m for even ``m``). ``alpha`` and ``gamma`` minimise the squared error of the
forecasts the network starts from, ``sum_o sum_{k<H} (z_{o+k} - l_{o-1} - S_o[p_{o+k}])^2`` over all
origins of the training span (grid search): a one-step criterion would choose ``alpha = 1``
(persistence) for any smooth series, and then the season never updates. The network then sees
``z_t - S_t[p_t] - l_{o-1}`` over its context and predicts ``z_{o+k} - S_o[p_{o+k}] - l_{o-1}``; the
forecast is ``l_{o-1} + S_o[p_{o+k}] + network``: with a network that outputs 0 it is the smoothing's
own forecast. Unlike Smyl's version, ``alpha``, ``gamma`` and ``S_0`` are fitted beforehand on the
training span, not jointly with the network: that keeps the network's training a plain supervised
problem on fixed windows.

Phases are taken from the period number of each time stamp (``stamp // step mod m``), so a
forecast from another file of the same series lines up with the same seasonal indices.
"""

from __future__ import annotations

import dataclasses

import numpy as np

ALPHAS = np.round(np.linspace(0.05, 1.0, 20), 3)
GAMMAS = (0.0, 0.02, 0.05, 0.1, 0.2, 0.35, 0.5)


@dataclasses.dataclass
class LevelSeason:
    """Fitted smoothing: ``alpha``, ``gamma`` and the initial seasonal indices ``season`` (m,) by
    phase (empty: no season)."""

    alpha: float
    season: list[float]
    gamma: float = 0.0

    @property
    def m(self) -> int:
        return len(self.season)

    @classmethod
    def fit(cls, z: np.ndarray, phases: np.ndarray, m: int, seasonal: bool, horizon: int = 1) -> LevelSeason:
        """Fit on the training span ``z`` (T,) with the phase of each step ``phases`` (T,), for
        forecasts of ``horizon`` steps."""
        z = np.asarray(z, dtype=np.float64)
        season: list[float] = []
        if seasonal and m > 1 and len(z) >= 2 * m + 1:
            trend = centred_moving_average(z, m)
            ok = ~np.isnan(trend)
            dev = z[ok] - trend[ok]
            ph = np.asarray(phases)[ok] % m
            idx = np.array([dev[ph == p].mean() if (ph == p).any() else 0.0 for p in range(m)])
            season = (idx - idx.mean()).tolist()
        best = (np.inf, 1.0, 0.0)
        for gamma in GAMMAS if season else (0.0,):
            for alpha in ALPHAS:
                sse = cls(float(alpha), season, gamma).sse(z, phases, horizon)
                if sse < best[0]:
                    best = (sse, float(alpha), gamma)
        return cls(best[1], season, best[2])

    def run(self, z: np.ndarray, phases: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(level (T,), seasons (T + 1, max(m, 1)))``: ``level[t] = l_t`` and ``seasons[t] = S_t``, the
        indices in force at step ``t`` (``seasons[T]`` for forecasts past the end); each from the
        values before ``t`` only."""
        z = np.asarray(z, dtype=np.float64)
        m = max(1, self.m)
        ph = np.asarray(phases[: len(z)]) % m
        S = np.array(self.season, dtype=np.float64) if self.season else np.zeros(1)
        level = np.empty(len(z))
        seasons = np.empty((len(z) + 1, m))
        a, g = self.alpha, self.gamma
        lev = z[0] - S[ph[0]]
        for t in range(len(z)):
            seasons[t] = S
            p = ph[t]
            lev = a * (z[t] - S[p]) + (1 - a) * lev
            if g:
                S[p] = g * (z[t] - lev) + (1 - g) * S[p]
            level[t] = lev
        seasons[len(z)] = S
        return level, seasons

    def sse(self, z: np.ndarray, phases: np.ndarray, horizon: int) -> float:
        """The squared error of the ``horizon``-step forecasts from every origin in ``z``."""
        level, seasons = self.run(z, phases)
        T, H = len(z), max(1, min(horizon, len(z) - 1))
        o = np.arange(1, T - H + 1)[:, None]
        fut = o + np.arange(H)[None, :]
        ph = np.asarray(phases[:T]) % max(1, self.m)
        pred = level[o - 1] + seasons[o, ph[fut]]
        return float(np.sum((z[fut] - pred) ** 2))


def centred_moving_average(z: np.ndarray, m: int) -> np.ndarray:
    """The centred moving average over one season (``2 x m`` for even ``m``), NaN at the ends."""
    w = np.ones(m) / m
    if m % 2 == 0:
        w = np.convolve(w, np.ones(2) / 2)
    out = np.full(len(z), np.nan)
    half = (len(w) - 1) // 2
    if len(z) >= len(w):
        out[half : len(z) - half] = np.convolve(z, w, mode="valid")
    return out
