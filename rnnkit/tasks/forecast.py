"""Forecasting: ``rnnkit train forecast`` and ``rnnkit forecast``.

Data (:mod:`rnnkit.data.series`): one CSV, one or more series (wide columns or long format), on a
regular grid. Every series is split in time: the last ``--test`` steps are held out, the
``--valid`` steps before them (several rolling windows: ``valid - H + 1`` forecast origins) choose
the best model, weigh the combination and calibrate the intervals; the rest trains.

Found from each series' training span (:mod:`rnnkit.forecasting.detect`), unless given:

- **Season**: ``m`` from the frequency (12 monthly, 24 hourly, ...), kept when the autocorrelation
  at lag ``m`` is significant (``--seasonality auto``); otherwise the models are non-seasonal.
- **Transform**: ``log`` when Guerrero's Box-Cox lambda is below 1/2 (``--transform auto``).

What the network sees (design choices, each one a flag):

- **Scaling per series** (:class:`rnnkit.data.series.Scaler`): ``z = (f(y) - mean) / scale`` with
  ``f = log`` for multiplicative series and the scale the mean absolute one-step change over the
  training span; one global model learns all the series.
- **Relative to a base forecast** (``--base``): the network predicts ``z_{o+k} - b_k``, where
  ``b`` is the hybrid ES-RNN's smoothed level plus seasonal indices (``level``, the default; see
  :mod:`rnnkit.forecasting.smoothing`), the last value (``last``), the seasonal naive forecast
  (``seasonal``) or 0 (``none``). The context is given relative to the same level, so a series
  that trends out of its training range still looks familiar.
- **Inputs per context step**: the target, the past-only covariates (scaled the same way) and
  sine/cosine calendar features; the calendar features of the forecast steps are the known-future
  covariates.
- **Output**: a Gaussian for each step (mean and standard deviation), the point forecast its
  median; intervals and quantiles are the Gaussian's, mapped back through the scaling (and ``exp``).
- **Calibration** (``--calibrate``): the standard deviations are multiplied by one factor, chosen
  on the validation windows so that 80% of their actuals fall inside the 80% intervals.

**Combination** (``--combine``, :mod:`rnnkit.forecasting.combine`): the network, ETS, ARIMA,
naive and drift (``--members``) forecast every validation window; their weights and the interval
factor are chosen there, never on the test span, and the combined forecast is the run's headline model
(``combined``).

After training, every model is scored by rolling-origin backtesting over the test span (a
forecast of H steps from every ``--stride``-th origin), beside the baselines of
:mod:`rnnkit.forecasting` on the very same origins. The run directory gets ``backtest.json``
(every model's metrics), ``backtest.csv`` (every forecast), ``combination.json`` and ``forecast.png``.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from rnnkit import config as cfgmod
from rnnkit.config import field
from rnnkit.data import series as ser
from rnnkit.errors import RnnkitError
from rnnkit.forecasting import combine, detect, members
from rnnkit.forecasting.backtest import backtest, combined_forecast, network_forecast, table, write_rows
from rnnkit.forecasting.smoothing import LevelSeason
from rnnkit.forecasting.windows import Prepared, Spans, cat, windows
from rnnkit.metrics import forecast as fm
from rnnkit.models.forecaster import Forecaster, ForecasterConfig, gaussian_nll
from rnnkit.outputs import atomic_path, check_output_path
from rnnkit.tasks import runs
from rnnkit.training import StatelessTask, TrainConfig, checkpoint
from rnnkit.training.trainer import resolve_device

TASK = "forecast"
BASELINES = ("naive", "seasonal-naive", "drift", "ets", "arima", "theta")


@dataclasses.dataclass
class ForecastDataConfig:
    """The series, how they are read and split, and what the network is asked to predict."""

    data: str = field("", "CSV file: a time column and value columns (or long format with --id-column)", path=True)
    target: str = field("", "target column(s), comma-separated; each is a series (default: every column but the "
                        "time, id and covariates)")
    time: str = field("", "time column, or two columns such as year,quarter (default: the first column)")
    id_column: str = field("", "long format: the column naming each series")
    covariates: str = field("", "past-only covariate columns, comma-separated (inputs, never forecast)")
    layout: str = field("auto", "CSV layout: wide (time + value columns), long (time, id, value), months (a year "
                        "column and 12 month columns); auto: months by the header, long with --id-column, else wide",
                        choices=("auto", "wide", "long", "months"))
    freq: str = field("auto", "frequency: Y, Q, M, W, D, sub-daily such as 30min or 1h, or index (plain integers "
                      "counting steps); auto: inferred from the time stamps")
    season: int = field(0, "season length m for seasonal naive, MASE and the seasonal models (0: from the "
                        "frequency: 12 monthly, 4 quarterly, 52 weekly, 7 daily, 1 yearly, one day sub-daily)")
    seasonality: str = field("auto", "seasonal models (ETS, ARIMA, the hybrid's seasonal indices): auto keeps the "
                             "season when the autocorrelation at lag m is significant on the training span "
                             "(90 percent); on, off", choices=("auto", "on", "off"))
    missing: str = field("interpolate", "missing time steps and values: reported, then interpolated linearly, "
                         "or an error", choices=("interpolate", "error"))
    transform: str = field("auto", "transform of the target before scaling: log for multiplicative series "
                           "(seasonal swings that grow with the level); auto: log when Guerrero's Box-Cox lambda "
                           "of the training span is below 1/2 and every value is positive",
                           choices=("auto", "none", "log"))
    horizon: int = field(12, "forecast steps H")
    context: int = field(0, "context window L in steps (0: the larger of 2 x season and 2 x horizon)")
    test: int = field(0, "held-out final steps of every series for the backtest (0: 2 x horizon)")
    valid: int = field(0, "validation steps before the test span: valid - horizon + 1 rolling forecast windows "
                       "for early stopping, the combination's weights and the interval calibration (0: 2 x horizon, "
                       "less for short series)")
    stride: int = field(1, "steps between rolling forecast origins in the backtest")
    base: str = field("level", "the network predicts the change from a base forecast: level (the hybrid ES-RNN: "
                      "exponentially smoothed level plus seasonal indices), the last value, the seasonal naive "
                      "forecast, or none (the scaled level)", choices=("level", "last", "seasonal", "none"))
    batch_size: int = field(32, "windows per training step")
    calibrate: bool = field(True, "after training, scale the forecast standard deviation so that the 80 percent "
                            "intervals cover 80 percent of the validation span's actuals (a network fitted to few "
                            "windows is overconfident)")
    interval: str = field("halfway", "the combination's 80 percent intervals from the validation windows: conformal "
                          "(the factor that covers 80 percent of them), widen (that factor, but never narrower than "
                          "the members' own intervals), halfway (as widen, but a narrowing factor goes halfway)",
                          choices=combine.RULES)
    spread: str = field("mixture", "the width the interval factor scales: mean (the members' weighted standard "
                        "deviations) or mixture (the linear pool's: their variances plus their disagreement)",
                        choices=combine.SPREADS)
    combine: str = field("inverse", "combine the network with the other --members, weights chosen on "
                         "the validation windows: inverse (weights 1 / validation MAE), inverse-squared (1 / MAE^2), "
                         "equal, best (the best member), top2 (the mean of the two best), or none (the network alone)",
                         choices=(*combine.SCHEMES, "none"))
    members: str = field("rnn,ets,arima,theta,naive,drift", "members of the combination, comma-separated from rnn, "
                         "ets, arima, theta, naive, seasonal-naive, drift")
    baselines: str = field("naive,seasonal-naive,drift,ets,arima,theta", "baselines scored on the same origins, "
                           "comma-separated (ets, arima and theta need statsmodels; skipped with a note without it)")


@dataclasses.dataclass
class ForecastTrainConfig(TrainConfig):
    """The Trainer's options with defaults for small series: many short epochs, early stopping."""

    lr: float = field(3e-3, "peak learning rate")
    weight_decay: float = field(1e-4, "weight decay (decoupled for adamw)")
    epochs: int = field(100000, "passes over the training windows (the run is bounded by --max-steps)")
    max_steps: int = field(2000, "stop after this many optimizer steps (0: no limit)")
    eval_every: int = field(25, "evaluate every N steps (0: at the end of each epoch)")
    patience: int = field(16, "stop after this many evaluations without a better validation loss (0: never)")
    log_every: int = field(25, "write a training record to metrics.jsonl every N steps")


def sections() -> dict[str, type]:
    return {"data": ForecastDataConfig, "model": ForecasterConfig, "train": ForecastTrainConfig}


def check_data(d: ForecastDataConfig) -> None:
    """One-line errors for values no run can use."""
    if not d.data:
        raise RnnkitError("--data is required: a CSV file of time series")
    for name, low in (("horizon", 1), ("context", 0), ("test", 0), ("valid", 0), ("stride", 1),
                      ("batch_size", 1), ("season", 0)):
        if getattr(d, name) < low:
            raise RnnkitError(f"--{name.replace('_', '-')} must be >= {low}, got {getattr(d, name)}")
    unknown = [b for b in _columns(d.baselines) if b not in BASELINES]
    if unknown:
        raise RnnkitError(f"--baselines: unknown {', '.join(unknown)}; expected from {', '.join(BASELINES)}")
    unknown = [b for b in _columns(d.members) if b not in members.NAMES]
    if unknown or (d.combine != "none" and not _columns(d.members)):
        raise RnnkitError(f"--members: unknown {', '.join(unknown) or '(none given)'}; expected from "
                          f"{', '.join(members.NAMES)}")
    ser.parse_freq(d.freq)


def _columns(spec: str) -> list[str]:
    return [c.strip() for c in spec.split(",") if c.strip()]


MIN_TRAIN_WINDOWS = 8  # the defaults shrink the context and validation span to keep this many training windows


def resolve_spans(d: ForecastDataConfig, freq: str, n: int | None = None) -> Spans:
    """The sizes, defaults filled in. With ``n`` (the shortest series), default context and
    validation spans shrink, context first, down to the horizon, so that short series keep
    ``MIN_TRAIN_WINDOWS`` training windows; given values are never changed (too short: an error
    from :func:`rnnkit.data.series.split_spans`)."""
    H = d.horizon
    m = d.season or ser.default_season(freq)
    test = d.test or 2 * H
    context = d.context or max(2 * m, 2 * H)
    valid = d.valid or 2 * H
    if n is not None:
        room = lambda: n - test - valid - H - MIN_TRAIN_WINDOWS + 1  # noqa: E731  (the context that fits)
        if not d.context and room() < context:
            context = max(H, min(context, room()))
        if not d.valid and room() < context:
            valid = max(H, valid - (context - room()))
    return Spans(m, H, context, test, valid)


class ForecastTask(StatelessTask):
    """Training windows reshuffled every epoch (seeded); validation on the forecasts from every
    origin of the validation span."""

    unit = "win"

    def __init__(self, prepared: list[Prepared], splits: list[ser.Split], sp: Spans, d: ForecastDataConfig,
                 seed: int) -> None:
        self.cfg, self.sp, self.seed = d, sp, seed
        train, valid = [], []
        for p, s in zip(prepared, splits):
            train.append(windows(p, list(range(sp.context, s.valid_start - sp.horizon + 1)), sp, d.base))
            valid.append(windows(p, list(range(s.valid_start, s.test_start - sp.horizon + 1)), sp, d.base))
        self.train, self.valid = cat(train), cat(valid)
        self.n = self.train["target"].shape[0]

    def num_batches(self) -> int:
        return -(-self.n // self.cfg.batch_size)

    def batches(self, epoch: int, start: int) -> Iterator[dict[str, Tensor]]:
        order = torch.randperm(self.n, generator=torch.Generator().manual_seed(self.seed * 1_000_003 + epoch))
        B = self.cfg.batch_size
        for i in range(start, self.num_batches()):
            idx = order[i * B : (i + 1) * B]
            yield {k: v[idx] for k, v in self.train.items()}

    def train_step(self, model: nn.Module, batch: dict[str, Tensor]) -> tuple[Tensor, int]:
        dev = next(model.parameters()).device
        target = batch["target"].to(dev)
        mu, sigma = model(batch["context"].to(dev), batch["known"].to(dev), teacher=target)
        return gaussian_nll(mu, sigma, target), target.shape[0]

    def evaluate(self, model: nn.Module) -> dict[str, float]:
        dev = next(model.parameters()).device
        target = self.valid["target"].to(dev)
        mu, sigma = model(self.valid["context"].to(dev), self.valid["known"].to(dev))
        return {"loss": float(gaussian_nll(mu, sigma, target)), "mae_z": float((mu - target).abs().mean())}


# -- reading and preparing ---------------------------------------------------------------------


def read(d: ForecastDataConfig, path: str | None = None, quiet: bool = False) -> ser.SeriesSet:
    """The series of ``d.data`` (or ``path``), with the missing-data notes printed."""
    data = ser.read_series(path or d.data, d.target, d.time, d.id_column, d.covariates, d.layout, d.freq, d.missing)
    if not quiet:
        for note in data.notes:
            print(f"note: {note}", file=sys.stderr)
    if d.transform == "log":
        for s in data.series:
            ser.check_positive(s, s.name)
    return data


def fit_scalers(d: ForecastDataConfig, s: ser.Series, train_end: int, m: int = 1
                ) -> tuple[ser.Scaler, list[ser.Scaler]]:
    """The scalers of a series and its covariates, from its training span only (``--transform
    auto``: log or none by :func:`rnnkit.forecasting.detect.choose_transform` on that span)."""
    log = d.transform == "log" or (d.transform == "auto" and detect.choose_transform(s.y[:train_end], m) == "log")
    scaler = ser.Scaler.fit(s.y[:train_end], log)
    covs = [ser.Scaler.fit(s.covariates[:train_end, j], False) for j in range(s.covariates.shape[1])]
    return scaler, covs


def find_season(d: ForecastDataConfig, s: ser.Series, v: np.ndarray, m: int) -> bool:
    """Whether series ``s`` (``v`` its transformed training span) is seasonal with period ``m``; a
    one-line error when a season was asked for and the span is too short to hold it."""
    if m <= 1 or d.seasonality == "off":
        return False
    need = 2 * m + 2 if d.seasonality == "on" else 3 * m  # seasonal models need 2 seasons; the test 3
    if len(v) < need:
        if d.seasonality == "on" or d.season > 1:
            raise RnnkitError(f"series {s.name!r}: {len(v)} steps before the validation span are too short for "
                              f"season {m} (needs {need}); give a smaller --season, --seasonality off, or shorter "
                              f"--valid / --test")
        return False
    return True if d.seasonality == "on" else detect.is_seasonal(v, m)


def calibration_factor(model: Forecaster, task: ForecastTask) -> float:
    """The factor on sigma that makes the 80% intervals cover 80% of the validation targets:
    the 0.8 quantile of ``|target - mu| / sigma`` over the 0.9 quantile of the standard normal."""
    from rnnkit.forecasting.statistical import Z80

    dev = next(model.parameters()).device
    model.eval()
    with torch.no_grad():
        mu, sigma = model(task.valid["context"].to(dev), task.valid["known"].to(dev))
    r = ((task.valid["target"].to(dev) - mu).abs() / sigma).flatten().double().cpu().numpy()
    return float(np.quantile(r, 0.8) / Z80)


def fit_combinations(d: ForecastDataConfig, model: Forecaster, prepared: list[Prepared], splits: list[ser.Split],
                     sp: Spans, quiet: bool = False, record: dict[str, Any] | None = None
                     ) -> list[tuple[combine.Combination, dict[str, Any]]]:
    """Per series: the combination chosen on the forecasts from every origin of its validation span
    (:mod:`rnnkit.forecasting.combine`) by the members fitted before that span, and the statistical
    members refitted on everything before the test span, which forecast from then on (as the
    baselines are: a short series gains most from the longer fit)."""
    names = _columns(d.members)
    out = []
    for p, split in zip(prepared, splits):
        v = members.transformed(p)
        m = sp.m if p.seasonal else 1
        stat = members.statistical(names, v[: split.valid_start], m, quiet)
        starts = ser.origins(split.valid_start, split.test_start, sp.horizon, 1)
        means, stds = members.forecasts(stat, names, model, p, starts, sp, d.base)
        actual = np.stack([v[o : o + sp.horizon] for o in starts])
        comb = combine.fit(actual, means, stds, d.combine, d.interval, d.spread)
        if record is not None:
            record[p.series.name] = {"actual": actual.tolist(), "means": {k: a.tolist() for k, a in means.items()},
                                     "stds": {k: a.tolist() for k, a in stds.items()}}
        refit = members.statistical([n for n in comb.members if n != "rnn"], v[: split.test_start], m, quiet)
        keep = [k for k, n in enumerate(comb.members) if n == "rnn" or n in refit]
        if len(keep) < len(comb.members):  # a member that fitted before but not now: the others share its weight
            total = sum(comb.weights[k] for k in keep)
            comb = dataclasses.replace(comb, members=[comb.members[k] for k in keep],
                                       weights=[comb.weights[k] / total for k in keep],
                                       valid_mae=[comb.valid_mae[k] for k in keep])
        out.append((comb, refit))
    return out


def _combinations_meta(prepared: list[Prepared], combos: list[tuple[combine.Combination, dict[str, Any]]],
                       sp: Spans) -> dict[str, Any]:
    return {p.series.name: {"transform": "log" if p.scaler.log else "none", "seasonal": p.seasonal,
                            "m": sp.m if p.seasonal else 1, "combination": dataclasses.asdict(c),
                            "members": {name: model.state() for name, model in stat.items()}}
            for p, (c, stat) in zip(prepared, combos)}


# -- train -------------------------------------------------------------------------------------


def setup(d: ForecastDataConfig, quiet: bool = False
          ) -> tuple[ser.SeriesSet, Spans, list[ser.Split], list[Prepared]]:
    """Read, split, scale: everything the task and the backtest need."""
    check_data(d)
    data = read(d, quiet=quiet)
    sp = resolve_spans(d, data.freq, min(len(s) for s in data.series))
    if d.base == "seasonal" and sp.context < sp.m:
        raise RnnkitError(f"--base seasonal needs a context of at least one season: --context {sp.context} < "
                          f"season {sp.m}")
    splits, prepared = [], []
    for s in data.series:
        split = ser.split_spans(s, sp.horizon, sp.test, sp.valid, sp.context, s.name)
        scaler, covs = fit_scalers(d, s, split.valid_start, sp.m)
        v = (np.log(s.y) if scaler.log else s.y)[: split.valid_start]
        seasonal = find_season(d, s, v, sp.m)
        p = Prepared(s, scaler, covs, sp.horizon)
        es = LevelSeason.fit(p.z[: split.valid_start], p.phases[: split.valid_start], sp.m, seasonal, sp.horizon)
        p = Prepared(s, scaler, covs, sp.horizon, es)
        p.seasonal = seasonal
        splits.append(split)
        prepared.append(p)
    return data, sp, splits, prepared


def model_config(model: ForecasterConfig, prepared: list[Prepared], sp: Spans) -> ForecasterConfig:
    p = prepared[0]
    return dataclasses.replace(model, input_size=1 + p.c.shape[1] + p.cal.shape[1], known_size=p.cal.shape[1],
                               out_steps=sp.horizon)


def _scalers_meta(prepared: list[Prepared]) -> dict[str, Any]:
    return {p.series.name: {"y": dataclasses.asdict(p.scaler), "covariates": [dataclasses.asdict(c)
                                                                              for c in p.cov_scalers],
                            "es": dataclasses.asdict(p.es) if p.es else None, "seasonal": p.seasonal}
            for p in prepared}


def train(run_dir: Path, configs: dict[str, Any], resume: bool = False, quiet: bool = False) -> dict[str, Any]:
    """Train into ``run_dir``, then backtest the best model beside the baselines; returns the
    Trainer's summary with ``"test"`` (the network's metrics) and ``"backtest"`` (every model's)."""
    d, model_cfg, train_cfg = configs["data"], configs["model"], configs["train"]
    train_cfg.validate()
    say = (lambda *a: None) if quiet else (lambda *a: print(*a, file=sys.stderr))
    data, sp, splits, prepared = setup(d, quiet)
    with runs.lock(run_dir):
        task = ForecastTask(prepared, splits, sp, d, train_cfg.seed)
        model_cfg = model_config(model_cfg, prepared, sp)
        torch.manual_seed(train_cfg.seed)
        try:
            model = Forecaster(model_cfg)
        except (ValueError, TypeError) as e:
            raise RnnkitError(f"model options: {cfgmod.as_flags(str(e), ForecasterConfig)}") from None
        # the spans as resolved for these series: a later forecast must use the context the model was trained on
        d_resolved = dataclasses.replace(d, context=sp.context, valid=sp.valid, test=sp.test, season=sp.m)
        resolved = {"task": TASK, "data": cfgmod.to_dict(d_resolved), "model": cfgmod.to_dict(model_cfg),
                    "train": cfgmod.to_dict(train_cfg)}
        runs.write_config(run_dir, resolved)
        found = ", ".join(f"{p.series.name}: {'seasonal' if p.seasonal else 'no season'}, "
                          f"{'log' if p.scaler.log else 'no transform'}" for p in prepared[:4])
        say(f"run {run_dir}: {len(data.series)} series ({data.freq}, m={sp.m}; {found}), horizon {sp.horizon}, context "
            f"{sp.context}; {task.n} training / {task.valid['target'].shape[0]} validation windows; "
            f"{model_cfg.num_layers}x{model_cfg.hidden_size} {model_cfg.cell.upper()} ({model_cfg.decoder}), "
            f"{sum(p.numel() for p in model.parameters()):,} parameters")
        meta = {"task": TASK, "config": resolved, "scalers": _scalers_meta(prepared),
                "title": f"forecast: {Path(d.data).name} ({run_dir.name})"}
        trainer, summary = runs.fit(model, task, train_cfg, run_dir, meta, resume)
        model.load_state_dict(checkpoint.load(run_dir / "best.pt", TASK)["model"])
        model.eval()
        factor = calibration_factor(model, task) if d.calibrate else 1.0
        (run_dir / "calibration.json").write_text(json.dumps({"sigma_factor": factor}) + "\n", encoding="utf-8")
        valid_forecasts: dict[str, Any] = {}
        combos = (fit_combinations(d, model, prepared, splits, sp, quiet, valid_forecasts) if d.combine != "none"
                  else None)
        if combos is not None:
            (run_dir / "combination.json").write_text(json.dumps(_combinations_meta(prepared, combos, sp), indent=2)
                                                      + "\n", encoding="utf-8")
        res = backtest(model, prepared, splits, sp, d.base, d.stride, _columns(d.baselines), quiet, factor, combos)
        summary["test"] = res["overall"]["combined" if combos is not None else "rnn"]
        for name, rec in valid_forecasts.items():  # the members' validation forecasts beside their test ones
            res["members"].setdefault(name, {})["valid"] = rec
        summary["backtest"] = {k: v for k, v in res.items() if k != "rows"} | {"sigma_factor": factor}
        if combos is not None:
            summary["backtest"]["combination"] = {p.series.name: {"weights": dict(zip(c.members, c.weights)),
                                                                  "factor": c.factor, "windows": c.windows,
                                                                  "seasonal": p.seasonal, "log": p.scaler.log}
                                                  for p, (c, _) in zip(prepared, combos)}
        trainer.log.write({"step": trainer.step, "split": "test", **summary["test"]})
        (run_dir / "backtest.json").write_text(json.dumps(summary["backtest"], indent=2) + "\n", encoding="utf-8")
        write_rows(run_dir / "backtest.csv", res["rows"])
        from rnnkit.forecasting.plot import plot_backtest

        plot_backtest(prepared, splits, sp, res["rows"], run_dir / "forecast.png", Path(d.data).name)
        undone = " (the log undone)" if any(p.scaler.log for p in prepared) else ""
        say(f"backtest over the last {sp.test} steps, {sp.horizon}-step forecasts from origins {d.stride} step(s) "
            f"apart (best model, sigma x {factor:.3g}); MASE scaled by each series' in-sample seasonal naive "
            f"error, the other metrics on the data's own scale{undone}:\n" + table(res["overall"]))
    return summary


# -- forecast with a trained run ----------------------------------------------------------------


def load_run(run: str | Path, device: str = "cpu") -> tuple[Forecaster, dict[str, Any], dict[str, Any], Path]:
    """``(model in eval mode, resolved config, scalers by series, checkpoint path)`` of a forecast run."""
    dev = resolve_device(device)
    path = runs.find_checkpoint(run)
    ckpt = checkpoint.load(path)
    if ckpt.get("task") != TASK:
        raise RnnkitError(f"checkpoint {path} is from a {ckpt.get('task')!r} run, not a forecast run")
    try:
        conf = ckpt["config"]
        model = Forecaster(cfgmod.build(ForecasterConfig, conf["model"], f"{path} (model config)", internal=True))
        model.load_state_dict(ckpt["model"])
        scalers = ckpt["scalers"]
    except (KeyError, TypeError, ValueError, RuntimeError) as e:
        raise RnnkitError(f"checkpoint {path} lacks a valid model ({str(e).splitlines()[0]})") from None
    return model.to(dev).eval(), conf, scalers, path


def _prepare_for_run(d: ForecastDataConfig, s: ser.Series, known: dict[str, Any] | None, sp: Spans,
                     model: Forecaster, data_path: str, freq: str, end: int) -> Prepared:
    """``s`` scaled and smoothed as a trained run saw it: with the run's scalers and level/season when
    the run trained on a series of that name (``known``), else fitted on ``s``'s first ``end`` steps."""
    if known is None:
        print(f"note: series {s.name!r} was not in the training data: scaled and smoothed by its own history, "
              f"forecast by the network alone", file=sys.stderr)
        scaler, covs = fit_scalers(d, s, end, sp.m)
        p0 = Prepared(s, scaler, covs, 0)
        v = np.log(s.y[:end]) if scaler.log else s.y[:end]
        es = LevelSeason.fit(p0.z[:end], p0.phases[:end], sp.m, find_season(d, s, v, sp.m), sp.horizon)
    else:
        scaler = ser.Scaler(**known["y"])
        covs = [ser.Scaler(**c) for c in known["covariates"]]
        es = LevelSeason(**known["es"]) if known.get("es") else None
    if len(covs) != s.covariates.shape[1]:
        raise RnnkitError(f"{data_path}: {s.covariates.shape[1]} covariate columns, the run was trained with "
                          f"{len(covs)}")
    p = Prepared(s, scaler, covs, sp.horizon, es)
    features = 1 + p.c.shape[1] + p.cal.shape[1]
    if features != model.config.input_size or p.cal.shape[1] != model.config.known_size:
        raise RnnkitError(f"{data_path}: {freq} series with {p.c.shape[1]} covariate(s) give {features} "
                          f"inputs per step, the run was trained with {model.config.input_size} (a different "
                          f"frequency or covariates)")
    return p


def _run_files(path: Path) -> tuple[float, dict[str, Any]]:
    """A run's interval factor (calibration.json) and its combinations by series (combination.json)."""
    calib = path.parent / "calibration.json"
    factor = json.loads(calib.read_text(encoding="utf-8"))["sigma_factor"] if calib.is_file() else 1.0
    comb_file = path.parent / "combination.json"
    combos = json.loads(comb_file.read_text(encoding="utf-8")) if comb_file.is_file() else {}
    return factor, combos


def forecast_file(run: str | Path, data_path: str, out: str | Path, plot: str | Path | None = None,
                  device: str = "cpu") -> list[dict[str, Any]]:
    """Forecast H steps past the end of every series in ``data_path`` with a trained run; write the
    forecasts with 80% intervals to ``out`` (CSV: series, time, step, forecast, lo80, hi80)."""
    # refused before any work: an output that is an input or a run's file (written only once all is read)
    check_output_path(out, [data_path, run], [run], "--out")
    if plot:
        check_output_path(plot, [data_path, run, out], [run], "--plot", figure=True)
    model, conf, scalers, path = load_run(run, device)
    d = cfgmod.build(ForecastDataConfig, conf["data"], f"{path} (data config)", internal=True)
    factor, combos = _run_files(path)
    data = read(d, data_path)
    sp = resolve_spans(d, data.freq)
    rows: list[dict[str, Any]] = []
    prepared = []
    for s in data.series:
        if len(s) < sp.context:
            raise RnnkitError(f"{data_path}: column {s.name!r}: too little history: {len(s)} rows, the context "
                              f"window needs {sp.context}")
        known = scalers.get(s.name)
        p = _prepare_for_run(d, s, known, sp, model, data_path, data.freq, len(s))
        prepared.append(p)
        if s.name in combos and known is not None:  # the run's combination, its members' parameters as trained
            c = combos[s.name]
            comb = combine.Combination(**c["combination"])
            f, q, _ = combined_forecast(comb, members.restore(c["members"]), model, p, [len(s)], sp, d.base)
        else:
            f, q = network_forecast(model, p, [len(s)], sp, d.base, factor)
        for k in range(sp.horizon):
            rows.append({"series": s.name, "time": s.label(len(s) + k), "step": k + 1, "forecast": f[0, k],
                         "lo80": q[0, k, fm.LOW], "hi80": q[0, k, fm.HIGH]})
    with atomic_path(out) as tmp:
        write_rows(tmp, rows)
    if plot:
        from rnnkit.forecasting.plot import plot_future

        with atomic_path(plot) as tmp:
            plot_future(prepared, sp, rows, tmp, Path(data_path).name)
    return rows


def evaluate_file(run: str | Path, data_path: str, device: str = "cpu") -> dict[str, Any]:
    """The backtest of a trained run on the series of ``data_path``, read as the run's data was: the
    last ``test`` steps of every series (the run's span) forecast from rolling origins ``stride`` steps
    apart by the run's network and combination as trained (no refitting: its weights, and its members'
    parameters, for the series it trained on), beside the baselines fitted on each series before its
    test span, all on the same origins. MASE is scaled by each series' in-sample seasonal naive error
    before the test span; every metric is on the data's own scale (the log, where the run took it, is
    undone before scoring)."""
    model, conf, scalers, path = load_run(run, device)
    d = cfgmod.build(ForecastDataConfig, conf["data"], f"{path} (data config)", internal=True)
    factor, combos = _run_files(path)
    data = read(d, data_path, quiet=True)
    sp = resolve_spans(d, data.freq)
    prepared, splits, combined = [], [], []
    for s in data.series:
        split = ser.split_spans(s, sp.horizon, sp.test, 0, sp.context, s.name)
        known = scalers.get(s.name)
        prepared.append(_prepare_for_run(d, s, known, sp, model, data_path, data.freq, split.test_start))
        splits.append(split)
        c = combos.get(s.name) if known is not None else None
        combined.append(None if c is None else (combine.Combination(**c["combination"]), members.restore(c["members"])))
    res = backtest(model, prepared, splits, sp, d.base, d.stride, _columns(d.baselines), True, factor, combined)
    headline = "combined" if "combined" in res["overall"] else "rnn"
    return {"checkpoint": str(path), "data": str(data_path), "series": len(data.series), "horizon": sp.horizon,
            "test": sp.test, "stride": d.stride, "headline": headline, "overall": res["overall"],
            "per_series": res["series"]}
