"""A series in the network's units, and the network's inputs for forecasts from given origins.

See :mod:`rnnkit.tasks.forecast` for the design (scaling, base forecast, features).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch
from torch import Tensor

from rnnkit.data import series as ser


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
    (T + H, K) (known H steps past the end), and the scalers that map them back."""

    def __init__(self, s: ser.Series, scaler: ser.Scaler, cov_scalers: list[ser.Scaler], horizon: int) -> None:
        self.series, self.scaler, self.cov_scalers = s, scaler, cov_scalers
        self.z = scaler.forward(s.y)
        self.c = np.stack([cs.forward(s.covariates[:, j]) for j, cs in enumerate(cov_scalers)], axis=1) \
            if cov_scalers else np.zeros((len(s), 0))
        step = 7 if s.freq == "W" else 1
        stamps = int(s.stamps[0]) + step * np.arange(len(s) + horizon)
        self.cal = ser.calendar_features(s.freq, stamps)


def windows(p: Prepared, starts: list[int], sp: Spans, base: str) -> dict[str, Tensor]:
    """The network's inputs for forecasts from each origin in ``starts``: ``context`` (N, L, I),
    ``known`` (N, H, K), ``base`` (N, H) the base forecast in z units, ``target`` (N, H) the change
    from it (NaN past the end of the series)."""
    L, H = sp.context, sp.horizon
    o = np.asarray(starts)
    idx = ser.window_indices(o, L)  # (N, L)
    ref = p.z[o - 1] if base != "none" else np.zeros(len(o))
    feats = [(p.z[idx] - ref[:, None])[..., None]]
    if p.c.shape[1]:
        cref = p.c[o - 1] if base != "none" else np.zeros((len(o), p.c.shape[1]))
        feats.append(p.c[idx] - cref[:, None, :])
    feats.append(p.cal[idx])
    fut = o[:, None] + np.arange(H)[None, :]  # (N, H)
    if base == "seasonal":
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
