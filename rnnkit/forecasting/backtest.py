"""Rolling-origin backtests: the network and the baselines forecast H steps from the same origins
of every series' test span, each from the history before its origin, and are scored alike."""

from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rnnkit.data import series as ser
from rnnkit.errors import RnnkitError
from rnnkit.forecasting.windows import Prepared, Spans, windows
from rnnkit.metrics import forecast as fm
from rnnkit.models.forecaster import Forecaster


def network_forecast(model: Forecaster, p: Prepared, starts: list[int], sp: Spans, base: str, factor: float = 1.0
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Point forecasts (N, H) and quantiles (N, H, Q) in the series' units, from each origin;
    ``factor`` multiplies the standard deviations (the calibration)."""
    w = windows(p, starts, sp, base)
    dev = next(model.parameters()).device
    model.eval()
    with torch.no_grad():
        mu, sigma = model(w["context"].to(dev), w["known"].to(dev))
    mu = (mu.cpu().double() + w["base"].double()).numpy()
    q = fm.gaussian_quantiles(mu, factor * sigma.cpu().double().numpy())
    return p.scaler.inverse(mu), p.scaler.inverse(q)


def make_baselines(names: list[str], m: int, quiet: bool = False) -> list[Any]:
    from rnnkit.forecasting import members
    from rnnkit.forecasting import statistical as st

    out: list[Any] = []
    for name in names:
        if name not in members.SIMPLE and not st.have_statsmodels():
            if not quiet:
                print(f'note: baseline {name} skipped: it needs statsmodels (pip install "rnnkit[forecast]")',
                      file=sys.stderr)
            continue
        out.append(members.new(name, m))
    return out


def baseline_forecast(b: Any, v: np.ndarray, scaler: ser.Scaler, starts: list[int], H: int
                      ) -> tuple[np.ndarray, np.ndarray]:
    """A baseline's point forecasts (N, H) and quantiles (N, H, Q) from each origin; ``v`` is the
    transformed series (``log y`` or ``y``), the space every baseline works in."""
    means, qs = [], []
    for o in starts:
        mean, std = b.forecast(v[:o], H)
        q = fm.gaussian_quantiles(mean, std)
        means.append(mean)
        qs.append(q)
    inv = np.exp if scaler.log else (lambda a: a)
    return inv(np.array(means)), inv(np.array(qs))


def combined_forecast(comb: Any, stat: dict[str, Any], model: Forecaster, p: Prepared, starts: list[int],
                      sp: Spans, base: str) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """The combination's point forecasts (N, H) and quantiles (N, H, Q) in the series' units, and
    each member's mean forecast (N, H) in the transformed units."""
    from rnnkit.forecasting import members

    means, stds = members.forecasts(stat, comb.members, model, p, starts, sp, base)
    mean, std = comb.forecast(means, stds)
    q = fm.gaussian_quantiles(mean, std)
    inv = np.exp if p.scaler.log else (lambda a: a)
    return inv(mean), inv(q), {"means": means, "stds": stds}


def backtest(model: Forecaster, prepared: list[Prepared], splits: list[ser.Split], sp: Spans, base: str,
             stride: int, baselines: list[str], quiet: bool = False, factor: float = 1.0,
             combos: list[tuple[Any, dict[str, Any]] | None] | None = None) -> dict[str, Any]:
    """Rolling-origin evaluation over the test span of every series: the combination (``combos``,
    one ``(Combination, statistical members)`` per series), the network and the baselines on the
    same origins. Returns metrics per model (over all series), per model and series, the
    forecasts, and the baselines' chosen forms."""
    names = baselines
    per_model: dict[str, dict[str, list[np.ndarray]]] = {}
    rows: list[dict[str, Any]] = []
    per_series: dict[str, dict[str, dict[str, float]]] = {}
    forms: dict[str, dict[str, str]] = {}
    member_means: dict[str, dict[str, Any]] = {}  # the combination's members on the test span (diagnostics)

    def add(model_name: str, s: ser.Series, starts: list[int], f: np.ndarray, q: np.ndarray, scale: float) -> None:
        y = np.stack([s.y[o : o + sp.horizon] for o in starts])
        acc = per_model.setdefault(model_name, {"y": [], "f": [], "q": [], "scale": []})
        acc["y"].append(y)
        acc["f"].append(f)
        acc["q"].append(q)
        acc["scale"].append(np.full(len(starts), scale))
        per_series.setdefault(s.name, {})[model_name] = fm.summary(y, f, q, np.full(len(starts), scale))
        for i, o in enumerate(starts):
            for k in range(sp.horizon):
                rows.append({"series": s.name, "model": model_name, "origin": s.label(o), "step": k + 1,
                             "time": s.label(o + k), "actual": y[i, k], "forecast": f[i, k],
                             "lo80": q[i, k, fm.LOW], "hi80": q[i, k, fm.HIGH]})

    for i, (p, split) in enumerate(zip(prepared, splits)):
        s = p.series
        starts = ser.origins(split.test_start, split.n, sp.horizon, stride)
        try:
            scale = fm.seasonal_naive_scale(s.y[: split.test_start], sp.m)
        except ValueError as e:
            raise RnnkitError(f"series {s.name!r}: {e}") from None
        if combos is not None and combos[i] is not None:  # None: a series without one, scored without it
            comb, stat = combos[i]
            f, q, fc = combined_forecast(comb, stat, model, p, starts, sp, base)
            add("combined", s, starts, f, q, scale)
            member_means[s.name] = {"log": p.scaler.log, "scale": scale, "factor": comb.factor,
                                    "valid_mae": dict(zip(comb.members, comb.valid_mae)),
                                    "actual": np.stack([s.y[o : o + sp.horizon] for o in starts]).tolist(),
                                    **{k: {n: a.tolist() for n, a in v.items()} for k, v in fc.items()}}
        f, q = network_forecast(model, p, starts, sp, base, factor)
        add("rnn", s, starts, f, q, scale)
        v = np.log(s.y) if p.scaler.log else s.y
        for b in make_baselines(names, sp.m, quiet):
            b.fit(v[: split.test_start])
            if hasattr(b, "describe"):
                forms.setdefault(s.name, {})[b.name] = b.describe()
            bf, bq = baseline_forecast(b, v, p.scaler, starts, sp.horizon)
            add(b.name, s, starts, bf, bq, scale)
    overall = {name: fm.summary(np.concatenate(a["y"]), np.concatenate(a["f"]), np.concatenate(a["q"]),
                                np.concatenate(a["scale"])) for name, a in per_model.items()}
    return {"overall": overall, "series": per_series, "forms": forms, "members": member_means, "rows": rows}


def table(results: dict[str, dict[str, float]]) -> str:
    """A markdown table of models x metrics."""
    cols = ("mase", "smape", "mae", "rmse", "coverage80", "crps")
    lines = ["| model | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
    for name, r in results.items():
        lines.append(f"| {name} | " + " | ".join(f"{r[c]:.4g}" if c in r else "-" for c in cols) + " |")
    return "\n".join(lines)


def write_rows(path: Path, rows: list[dict[str, Any]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]) if rows else ["series"])
        w.writeheader()
        for r in rows:
            w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items()})
