"""`rnnkit gradflow` and `rnnkit report adding` on tiny runs: the table and the figure are written."""

from __future__ import annotations

import json
from pathlib import Path

from rnnkit.cli import main


def test_report_writes_table_and_figure(tmp_path: Path, capsys):
    out = tmp_path / "report"
    argv = ["report", "adding", "--lags", "8,12", "--cells", "rnn,lstm,gru", "--max-steps", "20",
            "--eval-every", "10", "--hidden-size", "16", "--out", str(out), "--no-progress"]
    assert main(argv) == 0
    png = out / "gradflow.png"
    assert png.is_file() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    result = json.loads((out / "report.json").read_text())
    assert [(r["cell"], r["lag"]) for r in result["rows"]] == [(c, t) for t in (8, 12) for c in ("rnn", "lstm", "gru")]
    assert all(r["steps"] == 20 and r["test_mse"] > 0 for r in result["rows"])
    assert set(result["flow"]) == {f"{n} ({w})" for n in ("Elman RNN", "LSTM", "GRU") for w in ("init", "trained")}
    assert all(len(v) == 12 for v in result["flow"].values())
    table = (out / "report.md").read_text()
    assert "| Elman RNN | 12 |" in table and "d=11:" in table
    # finished runs are reused: a second call trains nothing more
    before = (out / "lstm-T8" / "last.pt").read_bytes()
    assert main(argv) == 0
    assert (out / "lstm-T8" / "last.pt").read_bytes() == before


def test_gradflow_command(tmp_path: Path, capsys):
    run = tmp_path / "add"
    assert main(["train", "adding", "--lag", "10", "--out", str(run), "--hidden-size", "8", "--max-steps", "5",
                 "--eval-every", "5", "--no-progress", "--valid-size", "20", "--test-size", "20"]) == 0
    capsys.readouterr()
    png = tmp_path / "g.png"
    assert main(["gradflow", str(run), "--fresh", "rnn,gru", "--hidden-size", "8", "--out", str(png)]) == 0
    out = capsys.readouterr().out
    assert "LSTM (trained, add): ||dL/dh_t|| d=0:" in out and "Elman RNN (init)" in out and png.is_file()
    # the fresh cells are measured over the run's own length (T=10), not 100
    fresh_line = next(line for line in out.splitlines() if line.startswith("Elman RNN (init)"))
    assert "d=9:" in fresh_line and "d=10:" not in fresh_line
    assert "fresh cells: T=10 (the runs' length)" in out
    assert main(["gradflow", "--fresh", "tanh", "--out", str(png)]) == 2
    assert "unknown cell 'tanh'" in capsys.readouterr().err
    copy = tmp_path / "copy"
    main(["train", "copy", "--lag", "3", "--out", str(copy), "--hidden-size", "8", "--max-steps", "2",
          "--eval-every", "2", "--no-progress", "--valid-size", "10", "--test-size", "10"])
    capsys.readouterr()
    assert main(["gradflow", str(copy)]) == 2
    assert "many-to-one runs" in capsys.readouterr().err
