"""A series in the network's units, and the network's inputs for forecasts from given origins.

See :mod:`rnnkit.tasks.forecast` for the design (scaling, base forecast, features).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch
from torch import Tensor

from rnnkit.data import series as ser
from rnnkit.forecasting.smoothing import LevelSeason


@dataclasses.dataclass
class Spans:
    """The resolved sizes: season m, horizon H, context L, test and validation spans."""

    m: int
    horizon: int
    context: int
    test: int
    valid: int


class Prepared:
    """One series in the network's units: ``z`` (T,), covariates ``c`` (T, C), calendar ``cal``
    (T + H, K) (known H steps past the end), and the scalers that map them back. With ``es`` (the
    hybrid's smoothing, :mod:`rnnkit.forecasting.smoothing`): ``level`` (T,) the smoothed level and
    ``seasons`` (T + 1, m) the seasonal indices in force at every step, in z units."""

    def __init__(self, s: ser.Series, scaler: ser.Scaler, cov_scalers: list[ser.Scaler], horizon: int,
                 es: LevelSeason | None = None) -> None:
        self.series, self.scaler, self.cov_scalers, self.es = s, scaler, cov_scalers, es
        self.z = scaler.forward(s.y)
        self.c = np.stack([cs.forward(s.covariates[:, j]) for j, cs in enumerate(cov_scalers)], axis=1) \
            if cov_scalers else np.zeros((len(s), 0))
        step = ser.freq_step(s.freq)
        stamps = int(s.stamps[0]) + step * np.arange(len(s) + horizon)
        self.cal = ser.calendar_features(s.freq, stamps)
        self.phases = stamps // step
        self.seasonal = bool(es and es.season)  # the season the models use (set by the task's test)
        if es is not None:
            self.level, self.seasons = es.run(self.z, self.phases)


def windows(p: Prepared, starts: list[int], sp: Spans, base: str) -> dict[str, Tensor]:
    """The network's inputs for forecasts from each origin in ``starts``: ``context`` (N, L, I),
    ``known`` (N, H, K), ``base`` (N, H) the base forecast in z units, ``target`` (N, H) the change
    from it (NaN past the end of the series). ``base="level"`` (the hybrid ES-RNN): the context is
    the deseasonalised series relative to the smoothed level before the origin, and the base the
    level plus the seasonal indices of the forecast steps."""
    L, H = sp.context, sp.horizon
    o = np.asarray(starts)
    idx = ser.window_indices(o, L)  # (N, L)
    fut = o[:, None] + np.arange(H)[None, :]  # (N, H)
    if base == "level":
        if p.es is None:
            raise ValueError("windows: base 'level' needs a series prepared with its smoothing (es)")
        ref = p.level[o - 1]
        m = p.seasons.shape[1]
        feats = [(p.z[idx] - p.seasons[idx, p.phases[idx] % m] - ref[:, None])[..., None]]
    else:
        ref = p.z[o - 1] if base != "none" else np.zeros(len(o))
        feats = [(p.z[idx] - ref[:, None])[..., None]]
    if p.c.shape[1]:
        cref = p.c[o - 1] if base != "none" else np.zeros((len(o), p.c.shape[1]))
        feats.append(p.c[idx] - cref[:, None, :])
    feats.append(p.cal[idx])
    if base == "level":
        b = ref[:, None] + p.seasons[o[:, None], p.phases[fut] % p.seasons.shape[1]]
    elif base == "seasonal":
        b = np.stack([ser.seasonal_base(p.z, int(k), H, sp.m) for k in o])
    else:
        b = np.repeat(ref[:, None], H, axis=1)
    zf = np.full((len(o), H), np.nan)
    inside = fut < len(p.z)
    zf[inside] = p.z[fut[inside]]
    as_t = lambda a: torch.as_tensor(np.ascontiguousarray(a), dtype=torch.float32)  # noqa: E731
    return {"context": as_t(np.concatenate(feats, axis=-1)), "known": as_t(p.cal[fut]), "base": as_t(b),
            "target": as_t(zf - b)}


def cat(parts: list[dict[str, Tensor]]) -> dict[str, Tensor]:
    return {k: torch.cat([p[k] for p in parts]) for k in parts[0]}
