"""``rnnkit bench --lengths``: every contender runs on the path it is meant to (the benchmark asserts it)."""

from __future__ import annotations

from rnnkit.cli import main


def test_bench_lengths_runs_both_directions(capsys):
    assert main(["bench", "--lengths", "--cases", "4,12,8,8", "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    assert "| unidirectional |" in out and "| bidirectional |" in out and "(a)/(c)" in out
    assert main(["bench", "--lengths", "--cells", "gru", "--cases", "3,6,4,4", "--repeats", "1"]) == 0
    assert "gru, (B, T, I, H) = (3, 6, 4, 4)" in capsys.readouterr().out
    assert main(["bench", "--lengths", "--cells", "transformer", "--repeats", "1"]) == 2
