"""The run's metrics: appended to ``metrics.jsonl`` (one JSON object a line), plotted to ``curves.png``."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from rnnkit.outputs import figure_format, write_atomic


class MetricsLog:
    """Appends records to a JSONL file; ``truncate_after(step)`` drops what a killed run wrote past a checkpoint."""

    def __init__(self, path: str | Path | None) -> None:
        self.path = Path(path) if path is not None else None

    def write(self, record: dict[str, Any]) -> None:
        if self.path is None:
            return
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(record, allow_nan=True) + "\n")

    def records(self) -> list[dict[str, Any]]:
        if self.path is None or not self.path.is_file():
            return []
        out = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError:
                    break  # a line cut short by a kill: everything after it is gone too
        return out

    def truncate_after(self, step: int) -> None:
        """Keep only records with ``step <= step`` (a resumed run rewrites the rest), and no
        "test" record: the test score is written after training ends, and again after a resume."""
        if self.path is None or not self.path.is_file():
            return
        kept = [r for r in self.records() if r.get("step", 0) <= step and r.get("split") != "test"]
        write_atomic(self.path, "".join(json.dumps(r) + "\n" for r in kept))


def plot_curves(records: list[dict[str, Any]], path: str | Path, title: str = "") -> bool:
    """Training and validation loss against step, as a PNG. False (and no file) without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    for split, style in (("train", "-"), ("valid", "o-")):
        pts = [(r["step"], r["loss"]) for r in records
               if r.get("split") == split and isinstance(r.get("loss"), float) and math.isfinite(r["loss"])]
        if pts:
            xs, ys = zip(*pts)
            ax.plot(xs, ys, style, label=split, markersize=3, linewidth=1.2)
    ax.set_xlabel("step")
    ax.set_ylabel("loss (nats per token)")
    ax.grid(alpha=0.3)
    ax.legend()
    if title:
        ax.set_title(title)
    save_figure(fig, path)
    return True


def save_figure(fig: Any, path: str | Path, dpi: float | None = None) -> None:
    """Write a matplotlib figure atomically (temporary file + rename) and close it; the format is
    the file name's suffix (``.png``, ``.pdf``, ``.svg``, ...; PNG without one)."""
    import matplotlib.pyplot as plt

    fmt = figure_format(path)
    try:
        fig.tight_layout()
        write_atomic(path, lambda f: fig.savefig(f, format=fmt, **({"dpi": dpi} if dpi else {})))
    finally:
        plt.close(fig)
