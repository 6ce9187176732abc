"""ETS and ARIMA through statsmodels (an optional extra: ``pip install "rnnkit[forecast]"``).

Both choose their form on the training span once, by AIC, and keep the fitted parameters; at
every later forecast origin they only filter the longer history with those parameters (no
refit), which makes rolling-origin evaluation cheap and keeps the test span out of the fit.

- **ETS** (``ETSModel``, additive errors): trend none or additive damped, season none or additive
  (when ``m > 1`` and two full seasons fit in the training span) - up to 4 candidates.
- **ARIMA** (``ARIMA``): seasonal differencing ``D = 1`` when ``m > 1`` and three seasons fit, with
  a seasonal MA(1) term for ``m <= 12``; for longer seasons (hourly data, m = 24; weekly, m = 52)
  the seasonal difference is taken before the model instead, since a state space with that many
  lags is too slow to fit and filter, and undone on the forecasts. ``d = 1`` when the ADF test does
  not reject a unit root at 5%; then ``p, q`` in 0..2 by AIC, with a constant or a drift when at
  most one difference is taken.

- **Theta** (Assimakopoulos & Nikolopoulos 2000, the M3 winner and a standard benchmark of M4 and of
  FFORMA's pool, in the form of Hyndman & Billah 2003: simple exponential smoothing with a drift of
  half the series' linear trend): the series minus its additive seasonal indices (classical
  decomposition, when ``m > 1`` and two full seasons fit), ``alpha`` by statsmodels' SES fit with the
  first value as the initial level, ``b_0`` the least-squares slope on time; from ``n`` values with
  SES level ``l_n``,

      mean_h = l_n + (b_0 / 2) (h - 1 + 1 / alpha - (1 - alpha)^n / alpha) + s_{(n + h - 1) mod m}
      std_h = sigma sqrt(1 + (h - 1) alpha^2)     (SES's, sigma from its one-step errors)

  as statsmodels' ``ThetaModel`` forecasts (a test), with ``alpha``, ``b_0``, the indices and
  ``sigma`` kept from the fit.

``forecast`` returns ``(mean, std)`` (H,) of the normal forecast distribution, as the simple
baselines do. ``state()`` / ``from_state()`` keep the chosen form and parameters (JSON), so a trained
run forecasts new data with the same models.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from rnnkit.errors import RnnkitError

Z80 = 1.2815515655446004  # the 0.9 quantile of the standard normal
ORDERS = ((1, 0), (0, 1), (1, 1), (2, 0))  # (p, q) candidates: a few, since every fit takes seconds


def have_statsmodels() -> bool:
    try:
        import statsmodels  # noqa: F401
    except ImportError:
        return False
    return True


def _require() -> None:
    if not have_statsmodels():
        raise RnnkitError('the ETS and ARIMA baselines need statsmodels: pip install "rnnkit[forecast]"')


class _quiet:
    """Convergence warnings off, and one BLAS thread while statsmodels works: its matrices are tiny,
    and a second BLAS thread made each fit 20-50x slower on a busy 2-core machine. The thread
    limit needs threadpoolctl (which scikit-learn brings); without it the BLAS default stays."""

    def __enter__(self) -> _quiet:
        self.warn = warnings.catch_warnings()
        self.warn.__enter__()
        warnings.simplefilter("ignore")
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:
            self.limit = None
        else:
            self.limit = threadpool_limits(limits=1, user_api="blas")
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.limit is not None:
            self.limit.restore_original_limits()
        self.warn.__exit__(*exc)


class ETS:
    name = "ETS"

    def __init__(self, m: int) -> None:
        _require()
        self.m = m
        self.spec: dict[str, Any] | None = None
        self.params: np.ndarray | None = None

    def fit(self, y: np.ndarray) -> None:
        import pandas as pd
        from statsmodels.tsa.exponential_smoothing.ets import ETSModel

        seasons = [None, "add"] if self.m > 1 and len(y) >= 2 * self.m + 2 else [None]
        best = None
        with _quiet():
            for trend in (None, "add"):
                for seasonal in seasons:
                    spec = {"error": "add", "trend": trend, "damped_trend": trend is not None, "seasonal": seasonal,
                            "seasonal_periods": self.m if seasonal else None}
                    try:
                        res = ETSModel(pd.Series(y), **spec).fit(disp=False)
                    except (ValueError, np.linalg.LinAlgError):
                        continue
                    if np.isfinite(res.aic) and (best is None or res.aic < best[0]):
                        best = (res.aic, spec, res.params)
        if best is None:
            raise RnnkitError("ETS: no model could be fitted to the training span")
        _, self.spec, self.params = best

    def state(self) -> dict[str, Any]:
        return {"m": self.m, "spec": self.spec, "params": np.asarray(self.params).tolist()}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> ETS:
        out = cls(int(state["m"]))
        out.spec, out.params = dict(state["spec"]), np.asarray(state["params"], dtype=np.float64)
        return out

    def describe(self) -> str:
        s = self.spec or {}
        return f"ETS(A,{'Ad' if s.get('trend') else 'N'},{'A' if s.get('seasonal') else 'N'})"

    def forecast(self, y: np.ndarray, horizon: int) -> tuple[np.ndarray, np.ndarray]:
        import pandas as pd
        from statsmodels.tsa.exponential_smoothing.ets import ETSModel

        with _quiet():
            res = ETSModel(pd.Series(y), **self.spec).smooth(self.params)
            frame = res.get_prediction(start=len(y), end=len(y) + horizon - 1).summary_frame(alpha=0.2)
        mean = frame["mean"].to_numpy()
        return mean, (frame["pi_upper"].to_numpy() - frame["pi_lower"].to_numpy()) / (2 * Z80)


class Theta:
    name = "Theta"

    def __init__(self, m: int) -> None:
        _require()
        self.m = max(1, m)
        self.season = np.zeros(self.m)
        self.alpha = 1.0
        self.b0 = 0.0
        self.sigma = 0.0

    def _adjusted(self, y: np.ndarray) -> np.ndarray:
        return y - self.season[np.arange(len(y)) % self.m]

    def fit(self, y: np.ndarray) -> None:
        from statsmodels.tsa.holtwinters import ExponentialSmoothing

        y = np.asarray(y, dtype=np.float64)
        if len(y) < 3:
            raise RnnkitError(f"Theta: needs at least 3 values to fit, got {len(y)}")
        m = self.m
        self.season = np.zeros(m)
        if m > 1 and len(y) >= 2 * m:  # classical additive decomposition: centred moving average of one season
            kernel = np.r_[0.5, np.ones(m - 1), 0.5] / m if m % 2 == 0 else np.ones(m) / m
            trend = np.convolve(y, kernel, mode="valid")
            lo = (len(kernel) - 1) // 2
            detr = y[lo : lo + len(trend)] - trend
            idx = np.arange(lo, lo + len(trend)) % m
            season = np.array([detr[idx == k].mean() for k in range(m)])
            self.season = season - season.mean()
        z = self._adjusted(y)
        t = np.arange(len(z), dtype=np.float64)
        self.b0 = float(np.polyfit(t, z, 1)[0])
        with _quiet():
            res = ExponentialSmoothing(z, initial_level=z[0], initialization_method="known").fit()
        self.alpha = float(np.clip(res.params["smoothing_level"], 1e-4, 1.0))
        level, err = self._filter(z)
        self.sigma = float(np.sqrt(np.mean(err**2))) if err.size else 0.0

    def _filter(self, z: np.ndarray) -> tuple[float, np.ndarray]:
        """SES over ``z`` from the level ``z_0``: the last level and the one-step errors."""
        a, level = self.alpha, float(z[0])
        err = np.empty(len(z) - 1)
        for i in range(1, len(z)):
            err[i - 1] = z[i] - level
            level += a * err[i - 1]
        return level, err

    def state(self) -> dict[str, Any]:
        return {"m": self.m, "season": self.season.tolist(), "alpha": self.alpha, "b0": self.b0, "sigma": self.sigma}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Theta:
        out = cls(int(state["m"]))
        out.season = np.asarray(state["season"], dtype=np.float64)
        out.alpha, out.b0, out.sigma = float(state["alpha"]), float(state["b0"]), float(state["sigma"])
        return out

    def describe(self) -> str:
        return f"Theta(alpha={self.alpha:.2f}{', seasonal' if self.season.any() else ''})"

    def forecast(self, y: np.ndarray, horizon: int) -> tuple[np.ndarray, np.ndarray]:
        z = self._adjusted(np.asarray(y, dtype=np.float64))
        n, a = len(z), self.alpha
        level, _ = self._filter(z)
        h = np.arange(1, horizon + 1, dtype=np.float64)
        drift = 0.5 * self.b0 * (h - 1 + 1 / a - (1 - a) ** n / a)
        mean = level + drift + self.season[(n + h.astype(int) - 1) % self.m]
        return mean, self.sigma * np.sqrt(1 + (h - 1) * a**2)


class ARIMA:
    name = "ARIMA"

    def __init__(self, m: int) -> None:
        _require()
        self.m = m
        self.params: np.ndarray | None = None
        self.order: tuple[int, int, int] = (0, 0, 0)
        self.seasonal: tuple[int, int, int, int] = (0, 0, 0, 0)
        self.trend = "n"
        self.outside = False

    def fit(self, y: np.ndarray) -> None:
        from statsmodels.tsa.arima.model import ARIMA as SMARIMA
        from statsmodels.tsa.stattools import adfuller

        m = self.m
        D = 1 if m > 1 and len(y) >= 3 * m + 2 else 0
        z = y[m:] - y[:-m] if D else y
        self.outside = bool(D and m > 12)  # difference before the model (see the module docstring)
        if self.outside:
            y, D = z, 0
        with _quiet():
            try:
                d = 1 if adfuller(z, autolag="AIC")[1] > 0.05 else 0
            except (ValueError, np.linalg.LinAlgError):
                d = 1
            seasonal = (0, D, 1 if D else 0, m if D else 0)
            trend = "c" if d + D == 0 else "t" if d + D == 1 else "n"
            best = None
            for p, q in ORDERS:
                try:
                    res = SMARIMA(y, order=(p, d, q), seasonal_order=seasonal, trend=trend).fit()
                except (ValueError, np.linalg.LinAlgError):
                    continue
                if np.isfinite(res.aic) and (best is None or res.aic < best.aic):
                    best, self.order = res, (p, d, q)
        if best is None:
            raise RnnkitError("ARIMA: no model could be fitted to the training span")
        self.params, self.seasonal, self.trend = np.asarray(best.params), seasonal, trend

    def state(self) -> dict[str, Any]:
        return {"m": self.m, "order": list(self.order), "seasonal": list(self.seasonal), "trend": self.trend,
                "outside": self.outside, "params": np.asarray(self.params).tolist()}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> ARIMA:
        out = cls(int(state["m"]))
        out.order, out.seasonal = tuple(state["order"]), tuple(state["seasonal"])  # type: ignore[assignment]
        out.trend, out.outside = str(state["trend"]), bool(state["outside"])
        out.params = np.asarray(state["params"], dtype=np.float64)
        return out

    def describe(self) -> str:
        p, d, q = self.order
        P, D, Q, m = self.seasonal
        if self.outside:
            return f"ARIMA({p},{d},{q}) of the lag-{self.m} difference"
        return f"ARIMA({p},{d},{q})" + (f"({P},{D},{Q}){m}" if m else "")

    def forecast(self, y: np.ndarray, horizon: int) -> tuple[np.ndarray, np.ndarray]:
        from statsmodels.tsa.arima.model import ARIMA as SMARIMA

        with _quiet():
            m = self.m
            z = y[m:] - y[:-m] if self.outside else y
            res = SMARIMA(z, order=self.order, seasonal_order=self.seasonal, trend=self.trend).filter(self.params)
            pred = res.get_forecast(horizon)
            mean, var = np.asarray(pred.predicted_mean), np.maximum(np.asarray(pred.var_pred_mean), 0)
        if self.outside:  # y_{n+h} = z_{n+h} + y_{n+h-m}; the variances add (their covariance left out)
            for h in range(horizon):
                if h < m:
                    mean[h] += y[len(y) - m + h]
                else:
                    mean[h] += mean[h - m]
                    var[h] += var[h - m]
        return mean, np.sqrt(var)
