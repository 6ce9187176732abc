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


def _commands(argv: list[str]) -> list[str]:
    """The subcommands ``rnnkit ARGV --help`` lists."""
    import argparse

    from rnnkit.cli import build_parser

    parser = build_parser()
    for word in argv:
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = sub.choices[word]
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return list(subs[0].choices) if subs else []


@pytest.mark.parametrize("argv", [[c] for c in _commands([])] + [["train", t] for t in _commands(["train"])])
def test_every_command_and_task_prints_its_help(argv, capsys):
    # argparse %-formats help strings: a bare "10% test" in an option's help once crashed `train music --help`
    with pytest.raises(SystemExit) as e:
        main([*argv, "--help"])
    assert e.value.code == 0 and "usage: rnnkit" in capsys.readouterr().out


def test_bench_runs_and_prints_ratios(tmp_path, capsys):
    out = tmp_path / "b.json"
    assert main(["bench", "--cells", "gru", "--cases", "2,5,3,4", "--repeats", "1", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "| gru | 2,5,3,4 | fwd+bwd |" in text and "fused/torch" in text
    assert out.exists() and '"median_ms"' in out.read_text()


def test_bench_rejects_bad_arguments(capsys):
    assert main(["bench", "--cells", "transformer"]) == 2
    assert "bench --cells: unknown transformer; expected from lstm, gru, rnn" in capsys.readouterr().err
    assert main(["bench", "--contenders", "bogus"]) == 2
    assert "bench --contenders: unknown bogus; expected from" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["bench", "--cases", "1,2,3"])


def test_console_entry_point():
    res = subprocess.run([sys.executable, "-m", "rnnkit.cli", "--version"], capture_output=True, text=True)
    assert res.returncode == 0 and "rnnkit" in res.stdout


def test_options_anywhere_among_positional_texts():
    from rnnkit.cli import build_parser

    parser = build_parser()
    args = parser.parse_args(["translate", "RUN", "--beam-size", "10", "I am happy.", "--batch-size", "2", "So am I."])
    assert (args.run, args.text, args.beam_size) == ("RUN", ["I am happy.", "So am I."], 10)
    args = parser.parse_args(["predict", "RUN", "--batch-size", "8", "a great film"])
    assert (args.run, args.inputs, args.batch_size) == ("RUN", ["a great film"], 8)


def test_an_unknown_flag_shows_the_subcommands_usage(capsys):
    with pytest.raises(SystemExit):
        main(["predict", "RUN", "--bogus", "a great film"])
    err = capsys.readouterr().err
    assert "usage: rnnkit predict" in err
    assert err.strip().endswith("rnnkit predict: error: unrecognized arguments: --bogus")
    with pytest.raises(SystemExit):
        main(["train", "lm", "--bogus"])
    assert "rnnkit train lm: error: unrecognized arguments: --bogus" in capsys.readouterr().err


def test_flags_are_never_abbreviated(capsys):
    """`--data` on a task without it is an error, not `--data-seed` read silently."""
    with pytest.raises(SystemExit) as e:
        main(["train", "caption", "--data", "5", "--out", "never-made"])
    assert e.value.code == 2 and "unrecognized arguments: --data" in capsys.readouterr().err
