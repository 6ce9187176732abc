"""rnnkit train forecast / rnnkit forecast end to end on a small real series, and bad input."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch

from rnnkit.cli import main
from rnnkit.errors import RnnkitError
from rnnkit.tasks import forecast


@pytest.fixture(autouse=True)
def one_thread():
    """These models are tiny: one thread is many times faster than two on a busy machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


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
    assert set(bt["overall"]) == {"rnn", "naive", "seasonal naive", "drift"}
    rnn = bt["overall"]["rnn"]
    assert 0 < rnn["mase"] < 3 and 0 <= rnn["coverage80"] <= 1 and rnn["crps"] > 0
    # yearly data: the seasonal naive forecast is the naive one, on the same 6 origins x 5 steps
    assert bt["overall"]["naive"]["mase"] == pytest.approx(bt["overall"]["seasonal naive"]["mase"])
    with (run / "backtest.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 4 * 6 * 5 and rows[0]["origin"] == "1961" and rows[0]["time"] == "1961"
    assert "| rnn |" in capsys.readouterr().err  # the table of all models

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
    (["--context", "80"], r"too little history: 80 steps \(rows at lines 2-81\)"),
    (["--target", "year"], r"column 'year' is both a target and the time"),
    (["--base", "seasonal", "--season", "12"], r"--base seasonal needs a context of at least one season"),
    (["--transform", "log", "--target", "volume", "--baselines", "arma"], r"--baselines: unknown arma"),
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
