"""A forecaster's views: each series with its held-out span, the backtest forecasts and 80% intervals
(the figure training drew), and the network's MASE, sMAPE and coverage beside every baseline's."""

from __future__ import annotations

import json

from rnnkit.diagnostics.report.html import Section, esc, note, png_file, table
from rnnkit.diagnostics.report.run import RunInfo

COLUMNS = ("mase", "smape", "mae", "rmse", "coverage80")


def forecast_sections(info: RunInfo, notes: list[str]) -> list[Section]:
    """The views of a ``forecast`` run, from ``backtest.json`` and ``forecast.png``."""
    out = []
    img = png_file(info.path / "forecast.png", "forecasts")
    if img is None:
        notes.append("forecast.png is missing (drawn after training's backtest): no series figure")
    else:
        out.append(Section("series", "Series, held-out span and forecasts",
                           "<p>Each series with its held-out test span, the network's backtest forecasts from "
                           "rolling origins and their 80% intervals.</p>" + img))
    path = info.path / "backtest.json"
    if not path.is_file():
        notes.append("backtest.json is missing (written after training): no baseline comparison")
        return out
    bt = json.loads(path.read_text(encoding="utf-8"))
    overall = bt.get("overall") or {}
    keys = [k for k in COLUMNS if any(k in v for v in overall.values())] or \
        sorted({k for v in overall.values() for k in v})[:6]
    rows = sorted(((m, *(v.get(k, "") for k in keys)) for m, v in overall.items()),
                  key=lambda r: (r[1] if isinstance(r[1], (int, float)) else float("inf")))
    body = ("<p>All series, all origins (MASE: mean absolute error over the in-sample seasonal-naive error; below 1 "
            "beats seasonal naive).</p>" + table(["model", *keys], rows))
    per = bt.get("series") or {}
    if per:
        models = list(overall)
        srows = [(name, *(v.get(m, {}).get("mase", "") for m in models)) for name, v in per.items()]
        body += "<h3>MASE per series</h3>" + table(["series", *models], srows)
    out.append(Section("baselines", "Network against the baselines", body))
    if not overall:
        out[-1] = Section("baselines", "Network against the baselines", note(f"{esc(path.name)} holds no scores"))
    return out
