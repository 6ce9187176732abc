"""Forecasting with rnnkit's defaults on many real series that ship in pip packages, against the baselines.

Every series runs ``rnnkit train forecast`` with its data, a horizon H from its frequency (M4's: yearly 6,
quarterly 8, monthly 18, weekly 13, daily 14, hourly 48; at most n / 6 for a short series), a test span of
2 H with about seven rolling origins (stride max(1, H / 6)), and every other option at its default. All
models (the combination, the network alone, naive, seasonal naive, drift, ETS, ARIMA) forecast from the
same origins; the table gives MASE, sMAPE and the coverage of the 80% intervals.

    python benchmarks/forecast_broad.py --out runs/broad --json broad.json      # all series
    python benchmarks/forecast_broad.py --dev 1 --out runs/dev1 --json dev1.json   # development periods (below)
    python benchmarks/forecast_broad.py --dev 2 --out runs/dev2 --json dev2.json
    python benchmarks/forecast_broad.py --choose dev1.json dev2.json              # the grid and the choice
    python benchmarks/forecast_broad.py --series airline,nile

``--dev N`` drops the last N test spans (N x 2 H steps) of every series first, so its test span lies wholly
before the real one (and before those of the development runs with a smaller N); series left with fewer than
40 steps are skipped. The defaults were chosen on these development scores, never on the reported test
spans: every development run scores every member pool x weighting scheme x interval rule x spread from the
same members, and ``--choose`` applies the rule of :func:`choose` to them.

Data: ``../shared/data/forecasting`` (the project's copies of the aeon / statsmodels files),
``statsmodels.datasets`` and ``vega_datasets`` (``pip install "rnnkit[forecast-bench]"``); series longer than
1,000 steps keep their last 1,000. pmdarima's data sets are never used (kept for an independent check).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from rnnkit.forecasting import combine
from rnnkit.metrics import forecast as fm
from rnnkit.tasks import forecast

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "forecasting"
HORIZON = {"Y": 6, "Q": 8, "M": 18, "W": 13, "D": 14, "H": 48}
MAX_LEN = 1000
MIN_DEV = 40  # a development run leaves out the series with fewer steps than this before its spans


class TooShort(Exception):
    """A series that a development run leaves out."""
MODELS = ("combined", "rnn", "seasonal naive", "naive", "drift", "ETS", "ARIMA", "Theta")
FERTILITY = ("Canada", "France", "Germany", "Italy", "Japan", "United Kingdom", "United States")  # the G7


# -- the series: (name, frequency, stamps as text, values) --------------------------------------

Series = tuple[str, str, list[str], list[float]]


def _shared(name: str, file: str, freq: str, column: str, time_of: Callable[[list[str]], str] | None = None
            ) -> Series:
    with (SHARED / file).open(newline="") as f:
        rows = list(csv.reader(f))
    head, body = rows[0], rows[1:]
    j = head.index(column)
    stamps = [time_of(r) if time_of else r[0] for r in body]
    return name, freq, stamps, [float(r[j]) if r[j].strip() else math.nan for r in body]


def _elnino() -> Series:
    with (SHARED / "elnino.csv").open(newline="") as f:
        rows = list(csv.reader(f))[1:]
    stamps = [f"{r[0]}-{k + 1:02d}" for r in rows for k in range(12)]
    return "elnino", "M", stamps, [float(v) for r in rows for v in r[1:13]]


def _co2() -> Series:
    _, _, stamps, values = _shared("co2", "co2.csv", "W", "co2")
    return "co2", "W", [f"{s[:4]}-{s[4:6]}-{s[6:]}" for s in stamps], values


def _statsmodels() -> list[Series]:
    import statsmodels.api as sm

    out: list[Series] = []
    fert = sm.datasets.fertility.load_pandas().data.set_index("Country Name")
    years = [c for c in fert.columns if c.isdigit()]
    for region in FERTILITY:
        row = fert.loc[region, years].astype(float)
        ok = row.notna().to_numpy()
        out.append((f"fertility {region}", "Y", [y for y, k in zip(years, ok) if k], row[ok].tolist()))
    dan = sm.datasets.danish_data.load_pandas().data
    q = [f"{d.year}-Q{(d.month - 1) // 3 + 1}" for d in dan.index]
    out += [(f"danish {c}", "Q", q, dan[c].tolist()) for c in ("lrm", "lry", "lpy", "ibo", "ide")]
    ii = sm.datasets.interest_inflation.load_pandas().data
    q = [f"{int(y)}-Q{int(k)}" for y, k in zip(ii["year"], ii["quarter"])]
    out += [(f"interest_inflation {c}", "Q", q, ii[c].tolist()) for c in ("Dp", "R")]
    return out


def _macro() -> list[Series]:
    stamp = lambda r: f"{r[0]}-Q{r[1]}"  # noqa: E731
    return [_shared(f"macrodata {c}", "macrodata.csv", "Q", c, stamp)
            for c in ("realgdp", "realcons", "realinv", "realgovt", "cpi", "m1", "unemp", "tbilrate")]


def _vega() -> list[Series]:
    from vega_datasets import local_data as vd

    out: list[Series] = []
    stocks = vd.stocks()
    for sym in sorted(set(stocks["symbol"])):
        s = stocks[stocks["symbol"] == sym]
        out.append((f"stocks {sym}", "M", [d.strftime("%Y-%m") for d in s["date"]], s["price"].tolist()))
    emp = vd.us_employment()
    months = [str(m)[:7] for m in emp["month"]]
    out += [(f"us-employment {c}", "M", months, emp[c].astype(float).tolist()) for c in list(emp.columns)[1:7]]
    drv = vd.driving().sort_values("year")
    out += [(f"driving {c}", "Y", [str(y) for y in drv["year"]], drv[c].astype(float).tolist())
            for c in ("miles", "gas")]
    w = vd.seattle_weather()
    days = [d.strftime("%Y-%m-%d") for d in w["date"]]
    out += [(f"seattle-weather {c}", "D", days, w[c].astype(float).tolist()) for c in ("temp_max", "temp_min", "wind")]
    for name, frame in (("seattle-temps", vd.seattle_temps()), ("sf-temps", vd.sf_temps())):
        out.append((name, "H", [d.strftime("%Y-%m-%d %H:%M") for d in frame["date"]], frame["temp"].tolist()))
    return out


def all_series() -> list[Series]:
    out = [_shared("airline", "Airline.csv", "M", "Passengers"), _shared("shampoo", "ShampooSales.csv", "M", "Sales"),
           _elnino(), _co2(), _shared("nile", "nile.csv", "Y", "volume"), _shared("sunspots", "sunspots.csv", "Y",
                                                                                    "SUNACTIVITY"),
           _shared("lynx", "Lynx.csv", "Y", "0"), *_macro()]
    out += _statsmodels()
    try:
        out += _vega()
    except ImportError:
        print('note: vega_datasets not installed (pip install "rnnkit[forecast-bench]"): its series are left out',
              file=sys.stderr)
    return out


# -- one series -----------------------------------------------------------------------------------


def spans(freq: str, n: int) -> tuple[int, int, int]:
    """``(horizon, test, stride)`` of a series of ``n`` steps: the problem, fixed by the frequency."""
    H = min(HORIZON[freq], max(1, n // 6))
    return H, 2 * H, max(1, H // 6)


def run_one(s: Series, out: Path, dev: int, threads: int) -> dict:
    name, freq, stamps, values = s
    stamps, values = stamps[-MAX_LEN:], values[-MAX_LEN:]
    H, test, stride = spans(freq, len(values))
    if dev:  # a development run: the real test span (and, for dev > 1, the later development spans) never seen
        stamps, values = stamps[: -dev * test], values[: -dev * test]
        if len(values) < MIN_DEV:
            raise TooShort(f"{name}: {len(values)} steps left before development span {dev}, fewer than {MIN_DEV}")
        H, test, stride = spans(freq, len(values))
    run_dir = out / name.replace(" ", "_").replace("&", "and")
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / "series.csv"
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["time", "y"])
        w.writerows(zip(stamps, ["" if math.isnan(v) else repr(v) for v in values]))
    configs = {sec: cls() for sec, cls in forecast.sections().items()}
    d = configs["data"]
    d.data, d.horizon, d.test, d.stride = str(path), H, test, stride
    configs["train"].threads, configs["train"].progress = threads, False
    if dev:  # every candidate member forecasts, so that each pool, scheme and interval rule can be scored
        d.members = ",".join(POOLS["all"])
    t0 = time.perf_counter()
    summary = forecast.train(run_dir / "run", configs, quiet=True)
    bt = summary["backtest"]
    res = {"name": name, "freq": freq, "n": len(values), "horizon": H, "origins": len(range(0, test - H + 1, stride)),
           "seconds": time.perf_counter() - t0, "train_seconds": summary["seconds"], "overall": bt["overall"],
           "combination": bt.get("combination", {}), "forms": bt["forms"]}
    if dev:
        snaive = bt["overall"]["seasonal naive"]["mase"]
        res["members"] = bt["members"]  # to score other rules later without training again
        res["grid"] = {f"{pool} {scheme} {rule} {spread}": score(bt["members"], POOLS[pool], scheme, rule, spread,
                                                                  snaive)
                       for pool in POOLS for scheme in combine.SCHEMES for rule in combine.RULES
                       for spread in combine.SPREADS}
    return res


POOLS = {"rnn+ets+arima": ("rnn", "ets", "arima"),
         "rnn+ets+arima+theta": ("rnn", "ets", "arima", "theta"),
         "+naive+drift": ("rnn", "ets", "arima", "naive", "drift"),
         "+theta+naive+drift": ("rnn", "ets", "arima", "theta", "naive", "drift"),
         "all": ("rnn", "ets", "arima", "theta", "naive", "seasonal-naive", "drift")}


def score(members: dict, pool: tuple[str, ...], scheme: str, rule: str, spread: str, snaive: float
          ) -> dict[str, float]:
    """MASE, 80% coverage and a win over seasonal naive (MASE strictly below) of one combination, from
    the members' validation and test-span forecasts that the run recorded (the development run's
    choice of the defaults): the weights and the interval factor as :func:`combine.fit` sets them."""
    errs, covs = [], []
    for m in members.values():
        va = m["valid"]
        names = [k for k in pool if k in va["means"] and k in m["means"]]
        comb = combine.fit(np.asarray(va["actual"]), {k: np.asarray(va["means"][k]) for k in names},
                           {k: np.asarray(va["stds"][k]) for k in names}, scheme, rule, spread)
        mean, std = comb.forecast({k: np.asarray(m["means"][k]) for k in comb.members},
                                  {k: np.asarray(m["stds"][k]) for k in comb.members})
        actual = np.asarray(m["actual"])
        f = np.exp(mean) if m["log"] else mean
        errs.append(float(np.mean(np.abs(actual - f).mean(axis=1) / m["scale"])))
        y = np.log(actual) if m["log"] else actual
        covs.append(fm.coverage(y, mean - combine.Z80 * std, mean + combine.Z80 * std))
    mase = float(np.mean(errs))
    return {"mase": mase, "coverage80": float(np.mean(covs)), "win": float(mase < snaive)}


# -- report -----------------------------------------------------------------------------------------


def report(results: list[dict]) -> str:
    cols = [m for m in MODELS if all(m in r["overall"] for r in results)]
    lines = ["| series | freq | n | H x origins | " + " | ".join(f"{m} MASE" for m in cols)
             + " | combined sMAPE | combined cov80 | ETS cov80 | ARIMA cov80 | members chosen (weights) | s |",
             "|---|---|---|---|" + "---|" * (len(cols) + 6)]
    for r in results:
        o = r["overall"]
        best = min(o[m]["mase"] for m in cols)
        cells = [("**{:.3f}**" if o[m]["mase"] == best else "{:.3f}").format(o[m]["mase"]) for m in cols]
        wts = next(iter(r["combination"].values()), {}).get("weights", {})
        wtxt = ", ".join(f"{k} {w:.2f}" for k, w in wts.items() if w > 0) or "-"
        cov = [f"{o[m]['coverage80']:.2f}" if m in o else "-" for m in ("combined", "ETS", "ARIMA")]
        lines.append(f"| {r['name']} | {r['freq']} | {r['n']} | {r['horizon']} x {r['origins']} | " + " | ".join(cells)
                     + f" | {o['combined']['smape']:.2f} | {' | '.join(cov)} | {wtxt} | {r['seconds']:.0f} |")
    lines += ["", aggregate(results, cols)]
    return "\n".join(lines)


def aggregate(results: list[dict], cols: list[str]) -> str:
    groups = {"all": results} | {f: [r for r in results if r["freq"] == f] for f in HORIZON}
    lines = ["| series | n | " + " | ".join(f"{m} mean MASE" for m in cols)
             + " | combined beats seasonal naive | combined mean sMAPE | ETS sMAPE | ARIMA sMAPE | combined cov80 |"
             " rnn cov80 | ETS cov80 | ARIMA cov80 |",
             "|---|---|" + "---|" * (len(cols) + 8)]
    for g, rs in groups.items():
        if not rs:
            continue
        def mean(m: str, k: str, rs: list[dict] = rs) -> float:
            return float(np.mean([r["overall"][m][k] for r in rs]))

        wins = sum(r["overall"]["combined"]["mase"] < r["overall"]["seasonal naive"]["mase"] for r in rs)
        lines.append(f"| {g} | {len(rs)} | " + " | ".join(f"{mean(m, 'mase'):.3f}" for m in cols)
                     + f" | {wins}/{len(rs)} | {mean('combined', 'smape'):.2f} | {mean('ETS', 'smape'):.2f} | "
                     f"{mean('ARIMA', 'smape'):.2f} | {mean('combined', 'coverage80'):.3f} | "
                     f"{mean('rnn', 'coverage80'):.3f} | {mean('ETS', 'coverage80'):.3f} | "
                     f"{mean('ARIMA', 'coverage80'):.3f} |")
    if "grid" in results[0]:
        lines += ["", grid_table(results)]
    return "\n".join(lines)


def grid_table(results: list[dict]) -> str:
    """The development run's scores of every member pool x weighting scheme x interval rule."""
    lines = ["| pool | scheme | interval rule | spread | mean MASE | beats seasonal naive | mean cov80 |",
             "|---|---|---|---|---|---|---|"]
    for key in results[0]["grid"]:
        g = [r["grid"][key] for r in results]
        pool, scheme, rule, spread = key.split(" ")
        lines.append(f"| {pool} | {scheme} | {rule} | {spread} | {np.mean([x['mase'] for x in g]):.3f} | "
                     f"{int(sum(x['win'] for x in g))}/{len(g)} | {np.mean([x['coverage80'] for x in g]):.3f} |")
    return "\n".join(lines)


def choose(periods: list[list[dict]]) -> str:
    """The defaults' choice from development runs (their JSON results), by a rule fixed before any of
    them was read: of the grid's rows whose mean 80% coverage lies in [0.75, 0.85] in every period
    (failing that, pooled over the periods), the one that beats seasonal naive on the most series,
    summed over the periods; ties go to the lower mean MASE over all series of all periods."""
    keys = list(periods[0][0]["grid"])
    rows = []
    for key in keys:
        per = [[r["grid"][key] for r in rs] for rs in periods]
        pooled = [x for g in per for x in g]
        rows.append({"key": key, "cov": [float(np.mean([x["coverage80"] for x in g])) for g in per],
                     "wins": [int(sum(x["win"] for x in g)) for g in per],
                     "mase": [float(np.mean([x["mase"] for x in g])) for g in per],
                     "pooled_cov": float(np.mean([x["coverage80"] for x in pooled])),
                     "pooled_mase": float(np.mean([x["mase"] for x in pooled]))})
    ok = [r for r in rows if all(0.75 <= c <= 0.85 for c in r["cov"])] or \
        [r for r in rows if 0.75 <= r["pooled_cov"] <= 0.85]
    best = min(ok, key=lambda r: (-sum(r["wins"]), r["pooled_mase"])) if ok else None
    n = [len(rs) for rs in periods]
    head = " | ".join(f"period {k + 1} ({m} series): MASE, wins, cov80" for k, m in enumerate(n))
    lines = [f"| pool | scheme | interval rule | spread | {head} | pooled MASE | wins | pooled cov80 |",
             "|---|---|---|---|" + "---|" * (len(n) + 3)]
    for r in rows:
        per = " | ".join(f"{m:.3f}, {w}, {c:.3f}" for m, w, c in zip(r["mase"], r["wins"], r["cov"]))
        mark = "**" if r is best else ""
        cells = " | ".join(r["key"].split(" "))
        lines.append(f"| {mark}{cells.replace(' | ', mark + ' | ' + mark)}{mark} | {per} | {r['pooled_mase']:.3f} | "
                     f"{sum(r['wins'])}/{sum(n)} | {r['pooled_cov']:.3f} |")
    lines.append("")
    lines.append(f"chosen: {best['key'] if best else 'nothing qualifies'}")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--series", default="", help="comma list of series names (default: all)")
    p.add_argument("--out", default=f"runs/bench-broad-{time.strftime('%Y%m%d-%H%M%S')}", help="run directory")
    p.add_argument("--dev", type=int, nargs="?", const=1, default=0, metavar="N",
                   help="development run N: the last N test spans (N x 2 H steps) of every series dropped (default 1)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default: 1)")
    p.add_argument("--json", default=None, help="also write the results to this JSON file")
    p.add_argument("--choose", nargs="+", default=None, metavar="DEV.json",
                   help="no run: print the grid of these development runs' results and the defaults' choice")
    args = p.parse_args()
    if args.choose:
        print(choose([json.loads(Path(f).read_text(encoding="utf-8")) for f in args.choose]))
        return
    torch.set_num_threads(args.threads)
    wanted = {s.strip() for s in args.series.split(",") if s.strip()}
    series = [s for s in all_series() if not wanted or s[0] in wanted]
    results = []
    for s in series:
        try:
            r = run_one(s, Path(args.out), args.dev, args.threads)
        except TooShort as e:
            print(f"skipped: {e}", file=sys.stderr, flush=True)
            continue
        results.append(r)
        o = r["overall"]
        print(f"{r['name']}: combined MASE {o['combined']['mase']:.3f}, rnn {o['rnn']['mase']:.3f}, seasonal naive "
              f"{o['seasonal naive']['mase']:.3f}, ETS {o['ETS']['mase']:.3f}, ARIMA {o['ARIMA']['mase']:.3f}, "
              f"cov80 {o['combined']['coverage80']:.2f}, {r['seconds']:.0f}s", file=sys.stderr, flush=True)
        if args.json:  # after every series: a partial run still leaves its numbers
            Path(args.json).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(report(results))


if __name__ == "__main__":
    main()
