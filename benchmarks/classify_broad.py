"""Time-series classification with rnnkit's defaults on every UCR/UEA set at hand, against 1-NN ED and 1-NN DTW.

    python benchmarks/classify_broad.py                      # all sets, table to stdout and --json
    python benchmarks/classify_broad.py --sets GunPoint --baselines-only

Data sets: every ``<Name>/<Name>_TRAIN.ts`` + ``_TEST.ts`` pair with class labels found in the
``sktime`` and ``aeon`` packages' ``datasets/data`` folders (whichever is installed: ``pip install
rnnkit[bench]``), in ``../shared/data/ucr-uea`` and in any ``--data-dir``. The archive's own
train/test split is used. The UCR sets ArrowHead, OSULeaf and PickupGestureWiimoteZ are never
read: they are kept for an independent check of these defaults.

rnnkit trains with the defaults of ``rnnkit train classify`` only (``--data TRAIN --test TEST
--format ts``; one torch thread), exactly as a user who brings a new data set would. Baselines,
computed here on the same files, as given (no extra normalisation): 1-NN Euclidean (series of
unequal length linearly resampled to the longest training length) and 1-NN full-window DTW
(dependent DTW for several channels), both in numpy (``tsc_baselines.py``). Baseline accuracies
are cached in ``--cache`` (they never change for a given file).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from tsc_baselines import nn1_dtw, nn1_euclidean  # noqa: E402

RESERVED = {"arrowhead", "osuleaf", "pickupgesturewiimotez"}  # an independent check's sets: never read


def package_dirs() -> list[Path]:
    """The ``datasets/data`` folders of the installed sktime / aeon wheels."""
    out = []
    for name in ("sktime", "aeon"):
        try:
            mod = __import__(name)
        except Exception:  # noqa: BLE001 - a broken optional install only loses its data sets
            continue
        d = Path(mod.__file__).parent / "datasets" / "data"
        if d.is_dir():
            out.append(d)
    return out


def find_sets(dirs: list[Path]) -> dict[str, tuple[Path, Path, str]]:
    """``{name: (train, test, where)}`` of the labelled classification sets in ``dirs`` (first one found wins)."""
    from rnnkit.data.ucr import read_ts
    from rnnkit.errors import RnnkitError

    sets: dict[str, tuple[Path, Path, str]] = {}
    for d in dirs:
        for sub in sorted(p for p in d.iterdir() if p.is_dir()):
            name = sub.name
            if name.lower() in RESERVED or name in sets:
                continue
            train, test = sub / f"{name}_TRAIN.ts", sub / f"{name}_TEST.ts"
            if not (train.is_file() and test.is_file()):
                continue
            head = train.read_text(encoding="utf-8", errors="replace")[:4000].lower()
            if "@classlabel true" not in head:
                continue  # regression (@targetlabel) or unlabelled
            try:
                read_ts(train)
            except RnnkitError:
                continue  # timestamped or otherwise unreadable by rnnkit: not a fair comparison
            sets[name] = (train, test, str(d))
    return sets


def load(path: Path) -> tuple[list[np.ndarray], np.ndarray]:
    from rnnkit.data.ucr import read_ts

    ts = read_ts(path)
    return [x.double().numpy() for x in ts.series], np.array(ts.labels)


def baselines(name: str, train: Path, test: Path, cache: dict) -> dict:
    """1-NN ED and DTW test accuracies (cached by file name and size)."""
    key = f"{name}:{train.stat().st_size}:{test.stat().st_size}"
    if key in cache:
        return cache[key]
    xtr, ytr = load(train)
    xte, yte = load(test)
    t0 = time.perf_counter()
    ed = float((nn1_euclidean(xtr, ytr, xte) == yte).mean())
    t1 = time.perf_counter()
    dtw = float((nn1_dtw(xtr, ytr, xte) == yte).mean())
    t2 = time.perf_counter()
    cache[key] = {"ed": ed, "dtw": dtw, "ed_s": round(t1 - t0, 2), "dtw_s": round(t2 - t1, 2)}
    return cache[key]


def describe(train: Path, test: Path) -> dict:
    xtr, ytr = load(train)
    xte, _ = load(test)
    lengths = [x.shape[0] for x in xtr]
    return {"n_train": len(xtr), "n_test": len(xte), "channels": xtr[0].shape[1], "min_len": min(lengths),
            "max_len": max(lengths), "classes": len(set(ytr.tolist()))}


def run_rnnkit(train: Path, test: Path, seed: int) -> dict:
    """rnnkit's defaults, as `rnnkit train classify --data TRAIN --test TEST --format ts --threads 1`."""
    import dataclasses

    from rnnkit.tasks import classify

    configs = {name: cls() for name, cls in classify.sections().items()}
    configs["data"] = dataclasses.replace(configs["data"], data=str(train), test=str(test), format="ts")
    configs["train"] = dataclasses.replace(configs["train"], threads=1, progress=False, seed=seed)
    with tempfile.TemporaryDirectory() as tmp:
        err = io.StringIO()
        t0 = time.perf_counter()
        with contextlib.redirect_stderr(err):
            summary = classify.train(Path(tmp) / "run", configs)
        seconds = time.perf_counter() - t0
    log = err.getvalue()
    warnings = [line for line in log.splitlines() if line.startswith("warning")]
    chosen = [line for line in log.splitlines() if line.startswith("defaults:")]
    return {"acc": summary["test"]["acc"], "seconds": round(seconds, 1), "steps": summary["steps"],
            "warnings": warnings, "chosen": chosen[0] if chosen else ""}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sets", nargs="*", help="only these data sets")
    p.add_argument("--data-dir", nargs="*", default=[], help="more folders of <Name>/<Name>_TRAIN.ts, _TEST.ts")
    p.add_argument("--shared", default=str(HERE.parent.parent / "shared" / "data" / "ucr-uea"))
    p.add_argument("--cache", default=str(HERE / "results" / "classify_broad_baselines.json"))
    p.add_argument("--json", default=str(HERE / "results" / "classify_broad.json"), help="results written here")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--baselines-only", action="store_true")
    args = p.parse_args(argv)

    import torch

    torch.set_num_threads(1)  # the machine's cores are shared; tiny per-step ops are fastest on one thread
    dirs = [*package_dirs(), *(Path(d) for d in ([args.shared] if Path(args.shared).is_dir() else [])),
            *(Path(d) for d in args.data_dir)]
    sets = find_sets(dirs)
    if args.sets:
        sets = {k: v for k, v in sets.items() if k in args.sets}
    cache_path = Path(args.cache)
    cache = json.loads(cache_path.read_text()) if cache_path.is_file() else {}
    rows = []
    # cheapest first (DTW costs n_train * n_test * length^2), so that results arrive early
    cost = {k: v[0].stat().st_size * v[1].stat().st_size for k, v in sets.items()}
    for name, (train, test, where) in sorted(sets.items(), key=lambda kv: cost[kv[0]]):
        row = {"name": name, "source": where, **describe(train, test)}
        row.update(baselines(name, train, test, cache))
        cache_path.parent.mkdir(parents=True, exist_ok=True)
        cache_path.write_text(json.dumps(cache, indent=1) + "\n")
        if not args.baselines_only:
            row["rnnkit"] = run_rnnkit(train, test, args.seed)
        rows.append(row)
        print(json.dumps(row), flush=True)
    if args.baselines_only:
        return 0
    out = {"machine": f"{cpu_name()}, {os.cpu_count()} CPUs, torch {torch.__version__}, 1 thread",
           "rows": rows}
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(out, indent=1) + "\n")
    print(table(rows))
    return 0


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def table(rows: list[dict]) -> str:
    """The Markdown table of benchmarks/README.md, with the means and the targets' checks."""
    lines = ["| data set | train | test | length | channels | classes | rnnkit | 1-NN ED | 1-NN DTW | rnnkit time |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        length = str(r["min_len"]) if r["min_len"] == r["max_len"] else f"{r['min_len']}-{r['max_len']}"
        warn = " (warned)" if r["rnnkit"]["warnings"] else ""
        lines.append(f"| {r['name']} | {r['n_train']} | {r['n_test']} | {length} | {r['channels']} | {r['classes']} | "
                     f"{100 * r['rnnkit']['acc']:.1f}{warn} | {100 * r['ed']:.1f} | {100 * r['dtw']:.1f} | "
                     f"{r['rnnkit']['seconds']:.0f} s |")
    mean = {k: sum(r[k] if k != "rnnkit" else r[k]["acc"] for r in rows) / len(rows) for k in ("rnnkit", "ed", "dtw")}
    lines.append(f"| **mean** ({len(rows)} sets) | | | | | | **{100 * mean['rnnkit']:.1f}** | {100 * mean['ed']:.1f} | "
                 f"{100 * mean['dtw']:.1f} | |")
    worst = min(rows, key=lambda r: r["rnnkit"]["acc"] - r["ed"])
    gap = 100 * (worst["rnnkit"]["acc"] - worst["ed"])
    lines.append("")
    lines.append(f"mean >= 1-NN DTW: {'yes' if mean['rnnkit'] >= mean['dtw'] else 'no'}; largest shortfall against "
                 f"1-NN ED: {gap:+.1f} points ({worst['name']}): {'within' if gap >= -5 else 'beyond'} 5 points")
    if not math.isfinite(gap):
        lines.append("(no rows)")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
