"""The ``rnnkit`` command."""

from __future__ import annotations

import subprocess
import sys

import pytest

from rnnkit.cli import main


def test_help_lists_bench(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "bench" in capsys.readouterr().out


def test_bench_runs_and_prints_ratios(tmp_path, capsys):
    out = tmp_path / "b.json"
    assert main(["bench", "--cells", "gru", "--cases", "2,5,3,4", "--repeats", "1", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "| gru | 2,5,3,4 | fwd+bwd |" in text and "fused/torch" in text
    assert out.exists() and '"median_ms"' in out.read_text()


def test_bench_rejects_bad_arguments(capsys):
    with pytest.raises(SystemExit):
        main(["bench", "--cells", "transformer"])
    assert "unknown cell or contender: transformer" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["bench", "--cases", "1,2,3"])


def test_console_entry_point():
    res = subprocess.run([sys.executable, "-m", "rnnkit.cli", "--version"], capture_output=True, text=True)
    assert res.returncode == 0 and "rnnkit" in res.stdout
