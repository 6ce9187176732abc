"""Forecasting benchmark: the RNN against naive, seasonal naive, drift, ETS and ARIMA on eight classic series.

Every series is trained from its recipe (``recipes/forecast-<name>.toml``) into ``--out/<name>``, and
backtested over its held-out final span from rolling origins; the table gives every model's MASE (scaled
by the in-sample seasonal naive forecast), the coverage of the 80% intervals and the training time.

    python benchmarks/forecast.py --threads 1                      # all eight series (~15 minutes)
    python benchmarks/forecast.py --series airline,nile --json results.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from rnnkit import config as cfgmod
from rnnkit.tasks import forecast

RECIPES = Path(__file__).resolve().parents[1] / "recipes"
SERIES = ("airline", "co2", "sunspots", "lynx", "nile", "elnino", "shampoo", "macrodata")
MODELS = ("rnn", "combined", "seasonal naive", "naive", "drift", "ETS", "ARIMA")


def run_one(name: str, out: Path, threads: int, seed: int) -> dict:
    path, tables = cfgmod.load_recipe(str(RECIPES / f"forecast-{name}.toml"))
    configs = {sec: cfgmod.merge(cls, tables.get(sec, {}), {}, str(path), path.parent, sec)
               for sec, cls in forecast.sections().items()}
    configs["train"].threads, configs["train"].progress, configs["train"].seed = threads, False, seed
    t0 = time.perf_counter()
    summary = forecast.train(out / name, configs, quiet=True)
    return {"name": name, "seconds": time.perf_counter() - t0, "train_seconds": summary["seconds"],
            "steps": summary["steps"], **summary["backtest"]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--series", default=",".join(SERIES), help="comma list (default: all eight)")
    p.add_argument("--out", default=f"runs/bench-forecast-{time.strftime('%Y%m%d-%H%M%S')}",
                   help="directory for the runs (one per series)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default: 1)")
    p.add_argument("--seed", type=int, default=0, help="training seed (default: 0)")
    p.add_argument("--json", default=None, help="also write the results to this JSON file")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    names = [s.strip() for s in args.series.split(",") if s.strip()]
    results = []
    for name in names:
        r = run_one(name, Path(args.out), args.threads, args.seed)
        results.append(r)
        o = r["overall"]
        print(f"{name}: rnn MASE {o['rnn']['mase']:.3f}, seasonal naive {o['seasonal naive']['mase']:.3f}, "
              f"coverage80 {o['rnn']['coverage80']:.2f}, {r['seconds']:.0f}s", file=sys.stderr, flush=True)
    print(report(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


def report(results: list[dict]) -> str:
    """The markdown table (MASE per model, best in bold) and the summary lines."""
    head = "| series | " + " | ".join(f"{m} MASE" for m in MODELS) + " | rnn cov80 | ETS cov80 | ARIMA form | train s |"
    lines = [head, "|---|" + "---|" * (len(MODELS) + 4)]
    wins, covs, cwins, ccovs = 0, [], 0, []
    for r in results:
        o = r["overall"]
        best = min(o[m]["mase"] for m in MODELS if m in o)
        cells = [("**{:.3f}**" if o[m]["mase"] == best else "{:.3f}").format(o[m]["mase"]) if m in o else "-"
                 for m in MODELS]
        forms = {f for v in r["forms"].values() for k, f in v.items() if k == "ARIMA"}
        ets = f"{o['ETS']['coverage80']:.2f}" if "ETS" in o else "-"
        lines.append(f"| {r['name']} | " + " | ".join(cells) + f" | {o['rnn']['coverage80']:.2f} | {ets} | "
                     f"{', '.join(sorted(forms)) or '-'} | {r['train_seconds']:.0f} |")
        wins += o["rnn"]["mase"] < o["seasonal naive"]["mase"]
        covs.append(o["rnn"]["coverage80"])
        if "combined" in o:
            cwins += o["combined"]["mase"] < o["seasonal naive"]["mase"]
            ccovs.append(o["combined"]["coverage80"])
    lines.append("")
    lines.append(f"RNN beats seasonal naive on {wins} of {len(results)} series; mean coverage of its nominal 80% "
                 f"intervals {sum(covs) / len(covs):.3f}.")
    if ccovs:
        lines.append(f"The combination beats seasonal naive on {cwins} of {len(ccovs)} series; mean coverage of its "
                     f"80% intervals {sum(ccovs) / len(ccovs):.3f}.")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
