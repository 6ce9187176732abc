"""benchmarks/forecast_broad.py: the rule that picks the forecasting defaults from development runs."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import forecast_broad as fb  # noqa: E402


def _period(rows: dict[str, list[tuple[float, float, float]]]) -> list[dict]:
    """Development results of len(values) series: each grid key -> (mase, coverage80, win) per series."""
    n = len(next(iter(rows.values())))
    return [{"grid": {k: {"mase": v[i][0], "coverage80": v[i][1], "win": v[i][2]} for k, v in rows.items()}}
            for i in range(n)]


def test_choose_wants_coverage_in_every_period_then_wins_then_mase():
    a, b, c, d = "p inverse halfway mean", "p inverse halfway mixture", "p best halfway mean", "p equal widen mean"
    one = _period({a: [(1.0, 0.8, 1), (1.0, 0.8, 1)], b: [(0.9, 0.8, 1), (0.9, 0.8, 0)],
                   c: [(0.5, 0.8, 1), (0.5, 0.8, 1)], d: [(0.1, 0.8, 1), (0.1, 0.8, 1)]})
    two = _period({a: [(1.0, 0.8, 1)], b: [(0.9, 0.8, 1)], c: [(0.5, 0.6, 1)], d: [(0.2, 0.8, 1)]})
    # c wins most and has a low MASE but its coverage misses in period 2; a and d tie on wins, d's MASE is lower
    out = fb.choose([one, two])
    assert out.splitlines()[-1] == f"chosen: {d}"
    assert "| **p** | **equal** | **widen** | **mean** |" in out
    nothing = _period({a: [(1.0, 0.5, 1)]})
    assert fb.choose([nothing]).splitlines()[-1] == "chosen: nothing qualifies"


def test_development_runs_drop_whole_test_spans_and_skip_short_series(tmp_path):
    series = ("tiny", "Y", [str(1900 + i) for i in range(50)], [float(i) for i in range(50)])
    try:
        fb.run_one(series, tmp_path, 2, 1)  # 50 - 2 x 12 = 26 steps left: fewer than MIN_DEV
    except fb.TooShort as e:
        assert "26 steps left before development span 2" in str(e)
    else:
        raise AssertionError("a series too short for the development span was run")
