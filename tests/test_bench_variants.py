"""``rnnkit bench --variants``: every contender runs on the backend it is meant to (the benchmark asserts it)."""

from __future__ import annotations

from rnnkit.cli import main


def test_bench_variants_runs_every_contender(capsys):
    assert main(["bench", "--variants", "--cases", "2,5,3,4", "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    for name in ("torch", "lstm", "lstm-python", "gru", "gru-python", "lstm+rd", "lstm+zo", "lstm+wd", "lnlstm",
                 "lstm-proj", "lstm-proj-native", "peephole", "indrnn", "indrnn-python", "lnlstm-autograd",
                 "indrnn-autograd"):
        assert f"| {name} |" in out, name
