"""Forecast figures (PNG): history, actuals, the network's forecast with its 80% interval, and the
baselines' point forecasts from the same origin."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

MAX_PANELS = 6  # series drawn, at most (a global model may cover many)


def _axes(n: int, title: str) -> tuple[Any, list[Any]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(n, 1, figsize=(9, 3.2 * n), dpi=100, squeeze=False)
    fig.suptitle(title)
    return fig, [a[0] for a in axes]


def _save(fig: Any, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_backtest(prepared: list[Any], splits: list[Any], sp: Any, rows: list[dict[str, Any]], path: Path,
                  title: str) -> None:
    """The forecast from the last origin of the backtest (the final ``H`` steps) for each series,
    against the history since a few contexts before the test span and the held-out actuals."""
    shown = prepared[:MAX_PANELS]
    fig, axes = _axes(len(shown), f"{title}: forecasts of the final {sp.horizon} steps (80% interval)")
    for ax, p, split in zip(axes, shown, splits):
        s = p.series
        start = max(0, split.test_start - 3 * max(sp.context, sp.horizon))
        t = np.arange(len(s))
        ax.plot(t[start:split.test_start], s.y[start:split.test_start], color="black", lw=1, label="history")
        held = slice(split.test_start - 1, None)  # from the last training step on: the line joins the history
        ax.plot(t[held], s.y[held], color="black", lw=1, ls=":", label="actual (held out)")
        last = s.label(len(s) - sp.horizon)
        for model in dict.fromkeys(r["model"] for r in rows if r["series"] == s.name):
            rs = [r for r in rows if r["series"] == s.name and r["model"] == model and r["origin"] == last]
            x = len(s) - sp.horizon + np.arange(len(rs))
            f = [r["forecast"] for r in rs]
            if model == "rnn":
                ax.fill_between(x, [r["lo80"] for r in rs], [r["hi80"] for r in rs], color="tab:blue", alpha=0.25,
                                label="rnn 80% interval")
                ax.plot(x, f, color="tab:blue", lw=2, label="rnn")
            else:
                ax.plot(x, f, lw=1, ls="--", label=model)
        ticks = np.linspace(start, len(s) - 1, 6).astype(int)
        ax.set_xticks(ticks, [s.label(int(i)) for i in ticks])
        ax.set_title(s.name, fontsize=10)
        ax.legend(fontsize=7, ncol=4)
    _save(fig, path)


def plot_future(prepared: list[Any], sp: Any, rows: list[dict[str, Any]], path: Path, title: str) -> None:
    """The forecast past the end of each series, with its 80% interval, after its recent history."""
    shown = prepared[:MAX_PANELS]
    fig, axes = _axes(len(shown), f"{title}: {sp.horizon}-step forecast (80% interval)")
    for ax, p in zip(axes, shown):
        s = p.series
        start = max(0, len(s) - 3 * max(sp.context, sp.horizon))
        t = np.arange(len(s))
        ax.plot(t[start:], s.y[start:], color="black", lw=1, label="history")
        rs = [r for r in rows if r["series"] == s.name]
        x = len(s) + np.arange(len(rs))
        ax.fill_between(x, [r["lo80"] for r in rs], [r["hi80"] for r in rs], color="tab:blue", alpha=0.25,
                        label="80% interval")
        ax.plot(x, [r["forecast"] for r in rs], color="tab:blue", lw=2, label="forecast")
        ticks = np.linspace(start, len(s) + len(rs) - 1, 6).astype(int)
        ax.set_xticks(ticks, [s.label(int(i)) for i in ticks])
        ax.set_title(s.name, fontsize=10)
        ax.legend(fontsize=7)
    _save(fig, path)
