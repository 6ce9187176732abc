"""The run's metrics: appended to ``metrics.jsonl`` (one JSON object a line), plotted to ``curves.png``,
tabled in ``metrics.csv``."""

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


def write_csv(records: list[dict[str, Any]], path: str | Path) -> None:
    """The records as a CSV table (for spreadsheets and pandas): one column per key, in the order keys
    first appear, one row per record, empty where a record has no such key. Written atomically."""
    import csv
    import io

    columns: dict[str, None] = {}
    for r in records:
        columns.update(dict.fromkeys(k for k, v in r.items() if not isinstance(v, (dict, list))))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(records)
    write_atomic(path, out.getvalue())


def curves_figure(records: list[dict[str, Any]], title: str = "", loss_label: str = "loss",
                  metric: str | None = None) -> Any:
    """The figure of :func:`plot_curves`: the loss on the left (``loss_label`` names its unit), and, when
    ``metric`` is a validation score other than the loss, that score on the right with its best marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    valid = [r for r in records if r.get("split") == "valid"]
    score = metric not in (None, "loss", "last") and any(_finite(r.get(metric)) for r in valid)
    fig, axes = plt.subplots(1, 2 if score else 1, figsize=(12, 4.2) if score else (7, 4.2), dpi=110, squeeze=False)
    ax = axes[0][0]
    for split, style in (("train", "-"), ("valid", "o-")):
        pts = [(r["step"], r["loss"]) for r in records if r.get("split") == split and _finite(r.get("loss"))]
        if pts:
            xs, ys = zip(*pts)
            ax.plot(xs, ys, style, label=split, markersize=3, linewidth=1.2)
    ax.set_xlabel("step")
    ax.set_ylabel(loss_label)
    ax.grid(alpha=0.3)
    ax.legend()
    if score:
        right = axes[0][1]
        pts = [(r["step"], r[metric]) for r in valid if _finite(r.get(metric))]
        xs, ys = zip(*pts)
        right.plot(xs, ys, "o-", color="C1", markersize=3, linewidth=1.2, label=f"valid {metric}")
        # the evaluation best.pt holds: the highest score, ties going to the lower loss (as the Trainer picks)
        best = max(pts, key=lambda p: (p[1], -next(r["loss"] for r in valid if r["step"] == p[0])))
        right.plot([best[0]], [best[1]], "*", color="C3", markersize=12, label=f"best.pt ({best[1]:.4g})")
        right.set_xlabel("step")
        right.set_ylabel(f"validation {metric} (higher is better)")
        right.grid(alpha=0.3)
        right.legend()
    if title:
        if score:
            fig.suptitle(title)
        else:
            ax.set_title(title)
    return fig


def _finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def plot_curves(records: list[dict[str, Any]], path: str | Path, title: str = "", loss_label: str = "loss",
                metric: str | None = None) -> bool:
    """Training and validation loss against step (and the selection ``metric``), as a PNG. False (and
    no file) without matplotlib."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    save_figure(curves_figure(records, title, loss_label, metric), path)
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
