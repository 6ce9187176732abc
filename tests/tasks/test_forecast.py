"""rnnkit train forecast / rnnkit forecast end to end on a small real series, and bad input."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from rnnkit.cli import main
from rnnkit.errors import RnnkitError
from rnnkit.tasks import forecast

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny tensors: see tests/conftest.py


def train_flags(data: Path, out: Path, *extra: str) -> list[str]:
    return ["train", "forecast", "--data", str(data), "--horizon", "5", "--context", "10", "--test", "10",
            "--valid", "10", "--hidden-size", "16", "--max-steps", "60", "--eval-every", "20", "--threads", "1",
            "--no-progress", "--baselines", "naive,seasonal-naive,drift", "--out", str(out), *extra]


def test_train_and_forecast_nile_end_to_end(data_dir, tmp_path, capsys):
    nile = data_dir / "forecasting" / "nile.csv"
    run = tmp_path / "run"
    assert main(train_flags(nile, run)) == 0
    for name in ("best.pt", "last.pt", "metrics.jsonl", "curves.png", "backtest.json", "backtest.csv",
                 "forecast.png", "calibration.json"):
        assert (run / name).is_file(), name
    bt = json.loads((run / "backtest.json").read_text())
    assert set(bt["overall"]) == {"combined", "rnn", "naive", "seasonal naive", "drift"}
    assert set(bt["combination"]["volume"]["weights"]) == {"rnn", "ets", "arima", "theta", "naive", "drift"}
    rnn = bt["overall"]["rnn"]
    assert 0 < rnn["mase"] < 3 and 0 <= rnn["coverage80"] <= 1 and rnn["crps"] > 0
    # yearly data: the seasonal naive forecast is the naive one, on the same 6 origins x 5 steps
    assert bt["overall"]["naive"]["mase"] == pytest.approx(bt["overall"]["seasonal naive"]["mase"])
    with (run / "backtest.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 5 * 6 * 5 and rows[0]["origin"] == "1961" and rows[0]["time"] == "1961"
    err = capsys.readouterr().err
    assert "| rnn |" in err and "| combined |" in err  # the table of all models

    out = tmp_path / "f.csv"
    assert main(["forecast", str(run), "--data", str(nile), "--out", str(out), "--plot", str(tmp_path / "f.png")]) == 0
    with out.open() as f:
        fc = list(csv.DictReader(f))
    assert [r["time"] for r in fc] == ["1971", "1972", "1973", "1974", "1975"]
    for r in fc:
        assert float(r["lo80"]) < float(r["forecast"]) < float(r["hi80"])
        assert 400 < float(r["forecast"]) < 1400  # the Nile's range of flows
    assert (tmp_path / "f.png").is_file()
    # monthly data has calendar inputs the yearly run never saw: a one-line error, not a traceback
    assert main(["forecast", str(run), "--data", str(data_dir / "forecasting" / "Airline.csv")]) == 2
    assert "the run was trained with 1" in capsys.readouterr().err


def test_simple_benchmarks_as_members_and_the_widen_rule(data_dir, tmp_path):
    nile = data_dir / "forecasting" / "nile.csv"
    run = tmp_path / "run"
    assert main(train_flags(nile, run, "--members", "rnn,naive,seasonal-naive,drift", "--interval", "widen")) == 0
    comb = json.loads((run / "combination.json").read_text())["volume"]
    assert set(comb["members"]) == {"naive", "seasonal-naive", "drift"} and comb["combination"]["factor"] >= 1
    out = tmp_path / "f.csv"
    assert main(["forecast", str(run), "--data", str(nile), "--out", str(out)]) == 0  # restored by name
    with out.open() as f:
        assert len(list(csv.DictReader(f))) == 5
    with pytest.raises(SystemExit) as e:  # argparse's choices: the usage and one line
        main(train_flags(nile, tmp_path / "bad", "--interval", "wide"))
    assert e.value.code == 2 and not (tmp_path / "bad").exists()


def test_autoregressive_decoder_and_log_transform(data_dir, tmp_path):
    run = tmp_path / "run"
    rc = main(train_flags(data_dir / "forecasting" / "Airline.csv", run, "--decoder", "autoregressive",
                          "--transform", "log", "--base", "seasonal", "--context", "12", "--max-steps", "20"))
    assert rc == 0
    bt = json.loads((run / "backtest.json").read_text())
    assert bt["overall"]["rnn"]["mae"] > 0


def test_global_model_over_series_with_covariates(tmp_path):
    rows = ["t,a,b,x"] + [f"{2000 + i // 4}-Q{i % 4 + 1},{10 + i + (i % 4)},{50 - i * 0.5},{i % 3}" for i in range(40)]
    data = tmp_path / "q.csv"
    data.write_text("\n".join(rows) + "\n")
    configs = {name: cls() for name, cls in forecast.sections().items()}
    d = configs["data"]
    d.data, d.target, d.covariates, d.horizon, d.context, d.test, d.valid = str(data), "a,b", "x", 4, 8, 8, 4
    d.baselines = "naive"
    configs["model"].hidden_size = 8
    configs["train"].max_steps, configs["train"].eval_every, configs["train"].progress = 10, 5, False
    summary = forecast.train(tmp_path / "run", configs, quiet=True)
    assert set(summary["backtest"]["series"]) == {"a", "b"}
    cfg = json.loads((tmp_path / "run" / "config.json").read_text())["model"]
    assert cfg["input_size"] == 1 + 1 + 2 and cfg["known_size"] == 2  # target, covariate, quarter sin/cos


@pytest.mark.parametrize("flags,match", [
    (["--horizon", "12"], r"--horizon 12 is longer than the test span \(--test 10 steps\) of column 'volume', "
                          r"which starts at line 92"),
    (["--context", "80"], r"too little history: the series has 100 steps; .* leave 80 steps \(rows at lines 2-81\)"),
    (["--target", "year"], r"column 'year' is both a target and the time"),
    (["--base", "seasonal", "--season", "12"], r"--base seasonal needs a context of at least one season"),
    (["--transform", "log", "--target", "volume", "--baselines", "arma"], r"--baselines: unknown arma"),
    (["--members", "rnn,prophet"], r"--members: unknown prophet"),
    (["--season", "30"], r"series 'volume': 80 steps before the validation span are too short for season 30 "
                         r"\(needs 90\); give a smaller --season"),
    (["--seasonality", "on", "--season", "40"], r"too short for season 40 \(needs 82\)"),
    (["--freq", "7min"], r"--freq must be one of .* got '7min'"),
])
def test_bad_options_are_one_line_errors(data_dir, tmp_path, capsys, flags, match):
    assert main(train_flags(data_dir / "forecasting" / "nile.csv", tmp_path / "run", *flags)) == 2
    err = capsys.readouterr().err
    assert err.startswith("rnnkit: error:") and len(err.strip().splitlines()) == 1
    import re

    assert re.search(match, err), err


def test_help_renders(capsys):
    for argv in (["train", "forecast", "--help"], ["forecast", "--help"]):
        with pytest.raises(SystemExit) as e:
            main(argv)
        assert e.value.code == 0
    assert "--calibrate" in capsys.readouterr().out


def test_unsorted_csv_names_row_and_column(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("year,y\n" + "".join(f"{2000 + i},{i}\n" for i in range(30)).replace("2010,10", "1990,10"))
    assert main(train_flags(bad, tmp_path / "run")) == 2
    assert "bad.csv:12: column 'year': time stamp '1990' comes before '2009' (line 11)" in capsys.readouterr().err


def test_forecast_refuses_another_task_run(tmp_path):
    with pytest.raises(RnnkitError, match="no such directory"):
        forecast.load_run(tmp_path / "missing")


def test_combination_beats_seasonal_naive_on_a_real_series_with_several_validation_windows(data_dir, tmp_path):
    """Airline, defaults but for a small, short-trained network: the validation span is 2 x H = 24 steps,
    13 forecast windows, on which the weights and the interval factor are chosen."""
    configs = {name: cls() for name, cls in forecast.sections().items()}
    d = configs["data"]
    d.data, d.horizon, d.baselines = str(data_dir / "forecasting" / "Airline.csv"), 12, "seasonal-naive"
    configs["model"].hidden_size = 16
    configs["train"].max_steps, configs["train"].eval_every, configs["train"].progress = 60, 20, False
    data, sp, splits, prepared = forecast.setup(d, quiet=True)
    assert (sp.valid, sp.test, sp.context) == (24, 24, 24)
    assert prepared[0].seasonal and prepared[0].scaler.log  # the season and the log found from the data
    task = forecast.ForecastTask(prepared, splits, sp, d, 0)
    assert task.valid["target"].shape[0] == 13  # valid - H + 1 rolling windows, not one
    summary = forecast.train(tmp_path / "run", configs, quiet=True)
    o = summary["backtest"]["overall"]
    assert o["combined"]["mase"] < o["seasonal naive"]["mase"]
    assert summary["test"] == o["combined"]
    comb = json.loads((tmp_path / "run" / "combination.json").read_text())["Passengers"]
    assert comb["seasonal"] and comb["transform"] == "log" and comb["combination"]["windows"] == 13
    assert sum(comb["combination"]["weights"]) == pytest.approx(1)
    assert set(comb["members"]) == {"ets", "arima", "theta", "naive", "drift"}
    assert comb["members"]["ets"]["spec"]["seasonal"] == "add"


def test_interval_factor_is_computed_on_the_validation_windows(data_dir):
    """The combination's factor puts 80% of the validation points inside the 80% intervals, whatever the test span."""
    from rnnkit.data import series as ser
    from rnnkit.forecasting import combine, members

    configs = {name: cls() for name, cls in forecast.sections().items()}
    d = configs["data"]
    d.data, d.horizon, d.valid, d.members = str(data_dir / "forecasting" / "nile.csv"), 5, 20, "ets,arima"
    data, sp, splits, prepared = forecast.setup(d, quiet=True)
    model = forecast.Forecaster(forecast.model_config(configs["model"], prepared, sp))
    (comb, stat), = forecast.fit_combinations(d, model, prepared, splits, sp, quiet=True)
    p, split = prepared[0], splits[0]
    v = members.transformed(p)
    pre = members.statistical(["ets", "arima"], v[: split.valid_start], 1)  # the members as fitted for validation
    starts = ser.origins(split.valid_start, split.test_start, sp.horizon, 1)
    assert comb.windows == len(starts) == 16
    means, stds = members.forecasts(pre, comb.members, None, p, starts, sp, d.base)
    mean, std = comb.forecast(means, stds)
    actual = np.stack([v[o : o + sp.horizon] for o in starts])
    c0 = comb.factor if comb.factor >= 1 else 2 * comb.factor - 1  # the conformal factor before the halfway rule
    inside = np.abs(actual - mean) <= combine.Z80 * std * (c0 / comb.factor) * (1 + 1e-9)
    assert 0.8 <= inside.mean() <= 0.8 + 2 / inside.size  # c0: exactly 80% of the validation points inside
    assert c0 == pytest.approx(combine.conformal_factor(np.abs(actual - mean) / (std / comb.factor)))


def test_integer_index_and_half_hourly_series_train(tmp_path):
    rng = np.random.default_rng(0)
    t = np.arange(400)
    y = 10 + np.sin(2 * np.pi * t / 48) + 0.1 * rng.normal(size=400)
    idx = tmp_path / "idx.csv"
    idx.write_text("step,y\n" + "".join(f"{i + 1},{v:.4f}\n" for i, v in enumerate(y[:160])))
    half = tmp_path / "half.csv"
    half.write_text("time,y\n" + "".join(f"2021-03-{1 + i // 48:02d} {i % 48 // 2:02d}:{30 * (i % 2):02d},{v:.4f}\n"
                                          for i, v in enumerate(y)))
    for path, extra, freq in ((idx, [], "index"), (half, ["--freq", "30min"], "30min")):
        run = tmp_path / path.stem
        flags = ["train", "forecast", "--data", str(path), "--horizon", "6", "--hidden-size", "8", "--max-steps", "20",
                 "--eval-every", "10", "--threads", "1", "--no-progress", "--baselines", "seasonal-naive",
                 "--members", "rnn,ets", "--out", str(run), *extra]
        assert main(flags) == 0
        cfg = json.loads((run / "config.json").read_text())["data"]
        bt = json.loads((run / "backtest.json").read_text())
        assert bt["combination"]["y"]["seasonal"] == (freq == "30min")  # m = 48 half hours: one day
        assert cfg["season"] == (48 if freq == "30min" else 1)
    with (tmp_path / "half" / "backtest.csv").open() as f:
        assert next(csv.DictReader(f))["origin"] == "2021-03-09 02:00"  # step 388 = 8 days + 4 half hours


def test_series_too_short_for_the_horizon_is_a_one_line_error(tmp_path, capsys):
    short = tmp_path / "short.csv"
    short.write_text("year,y\n" + "".join(f"{2000 + i},{i % 3}\n" for i in range(15)))
    assert main(["train", "forecast", "--data", str(short), "--horizon", "6", "--no-progress",
                 "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "too little history" in err


def test_baselines_are_scored_on_the_datas_own_scale_whatever_the_transform(data_dir, tmp_path):
    """The naive forecasts don't depend on a log taken first: undone before scoring, their metrics stay put."""
    scores = {}
    for transform in ("none", "log"):
        run = tmp_path / transform
        assert main(train_flags(data_dir / "forecasting" / "Airline.csv", run, "--transform", transform,
                                "--max-steps", "4", "--members", "rnn,naive")) == 0
        scores[transform] = json.loads((run / "backtest.json").read_text())["overall"]
    for model in ("naive", "seasonal naive"):
        for metric in ("mase", "mae", "smape"):
            got, want = scores["log"][model][metric], scores["none"][model][metric]
            assert got == pytest.approx(want, rel=1e-6), (model, metric)
    assert scores["log"]["naive"]["mae"] > 1  # passengers, not log-passengers
