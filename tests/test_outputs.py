"""Files commands write: never an input or a run's own file, never half written, errors in one line."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from rnnkit.cli import main
from rnnkit.errors import RnnkitError
from rnnkit.outputs import OutputError, atomic_file, atomic_path, check_output_path, is_temporary, write_atomic

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny tensors: see tests/conftest.py


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    """A tiny trained adding run (seconds): what the commands below are pointed at."""
    d = tmp_path_factory.mktemp("outputs") / "add"
    assert main(["train", "adding", "--lag", "5", "--out", str(d), "--hidden-size", "4", "--max-steps", "2",
                 "--valid-size", "8", "--test-size", "8", "--no-progress"]) == 0
    return d


def error_of(capsys, argv: list[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("rnnkit: error: ") and err.count("\n") == 1, err
    return err


def snapshot(d: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in d.iterdir() if p.is_file()}


def test_check_output_path(tmp_path: Path):
    src = tmp_path / "data.txt"
    src.write_text("x")
    with pytest.raises(OutputError, match="is also an input"):
        check_output_path(src, [src])
    with pytest.raises(OutputError, match="is also an input"):  # another spelling of the same file
        check_output_path(tmp_path / "." / "data.txt", [src])
    link = tmp_path / "link.txt"
    link.symlink_to(src)
    with pytest.raises(OutputError, match="is also an input"):
        check_output_path(link, [src])
    with pytest.raises(OutputError, match="is a directory"):
        check_output_path(tmp_path, [])
    rd = tmp_path / "run"
    rd.mkdir()
    (rd / "last.pt").write_bytes(b"PK")
    for name in ("config.json", "metrics.jsonl", "best.pt"):
        with pytest.raises(OutputError, match="would overwrite"):
            check_output_path(rd / name, [], [rd])
    with pytest.raises(OutputError, match="would overwrite a checkpoint"):
        check_output_path(rd / "last.pt")  # a checkpoint, whatever the command's run
    with pytest.raises(OutputError, match=r"not \.pt"):
        check_output_path(tmp_path / "x.pt", figure=True)
    assert check_output_path(tmp_path / "out.jsonl", [src], [rd]) == tmp_path / "out.jsonl"
    assert check_output_path(tmp_path / "fig.svg", figure=True) == tmp_path / "fig.svg"


def test_write_atomic_keeps_the_old_file_on_failure(tmp_path: Path):
    path = tmp_path / "out.txt"
    write_atomic(path, "old\n")
    assert path.read_text() == "old\n" and oct(path.stat().st_mode & 0o777) != oct(0o600)

    def dies(f):
        f.write(b"half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_atomic(path, dies)
    assert path.read_text() == "old\n" and os.listdir(tmp_path) == ["out.txt"]

    def disk_full(f):
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OutputError, match=f"could not write {path}: No space left on device"):
        write_atomic(path, disk_full)
    assert path.read_text() == "old\n" and os.listdir(tmp_path) == ["out.txt"]
    with atomic_file(tmp_path / "new" / "t.txt") as f:  # parents are created
        f.write("é")
    assert (tmp_path / "new" / "t.txt").read_text(encoding="utf-8") == "é"
    with pytest.raises(RuntimeError), atomic_path(tmp_path / "p.csv") as tmp:
        assert tmp.suffix == ".csv" and is_temporary(tmp.name)
        raise RuntimeError("writer failed")
    assert not (tmp_path / "p.csv").exists() and sorted(os.listdir(tmp_path)) == ["new", "out.txt"]


def test_predict_never_overwrites_its_input_or_the_run(run: Path, tmp_path: Path, capsys):
    victim = tmp_path / "victim.txt"
    victim.write_text("a b c\n")
    err = error_of(capsys, ["predict", str(run), "--data", str(victim), "--output", str(victim)])
    assert f"--output {victim} is also an input" in err and victim.read_text() == "a b c\n"
    before = snapshot(run)
    for name in ("best.pt", "config.json"):
        err = error_of(capsys, ["predict", str(run), "some text", "--output", str(run / name)])
        assert "would overwrite" in err
    err = error_of(capsys, ["predict", str(run / "last.pt"), "x", "--output", str(run / "last.pt")])
    assert "is also an input" in err
    assert "is a directory" in error_of(capsys, ["predict", str(run), "x", "--output", str(tmp_path)])
    assert snapshot(run) == before


def test_forecast_and_translate_refuse_inputs_and_run_files(run: Path, tmp_path: Path, capsys):
    series = tmp_path / "A.csv"
    series.write_text("t,y\n1,2\n2,3\n")
    before = snapshot(run)
    err = error_of(capsys, ["forecast", str(run), "--data", str(series), "--out", str(series)])
    assert "is also an input" in err and series.read_text() == "t,y\n1,2\n2,3\n"
    err = error_of(capsys, ["forecast", str(run), "--data", str(series), "--out", str(tmp_path / "f.csv"),
                            "--plot", str(run / "best.pt")])
    assert "--plot" in err and "would overwrite a checkpoint" in err
    err = error_of(capsys, ["translate", str(run), "hello", "--heatmap", str(tmp_path / "x.pt")])
    assert "--heatmap" in err and "not .pt" in err
    assert "is a directory" in error_of(capsys, ["translate", str(run), "hi", "--heatmap", str(tmp_path)])
    assert snapshot(run) == before and not (tmp_path / "f.csv").exists()


def test_gradflow_output_and_sizes(run: Path, tmp_path: Path, capsys):
    before = snapshot(run)
    err = error_of(capsys, ["gradflow", str(run), "--out", str(run / "best.pt")])
    assert "would overwrite a checkpoint" in err
    out_dir = tmp_path / "figs"
    out_dir.mkdir()
    assert "is a directory" in error_of(capsys, ["gradflow", "--fresh", "rnn", "--out", str(out_dir)])
    assert list(out_dir.iterdir()) == [] and not (tmp_path / "figs.png").exists()
    assert snapshot(run) == before
    for flags, match in ((["--lag", "0"], "--lag must be >= 1"), (["--lag", "-1"], "--lag must be >= 1"),
                         (["--hidden-size", "0"], "--hidden-size must be >= 1"),
                         (["--hidden-size", "100000"], "GiB of memory"), (["--lag", "10000000000"], "GiB of memory")):
        err = error_of(capsys, ["gradflow", "--fresh", "rnn", *flags, "--out", str(tmp_path / "g.png")])
        assert match in err, err
    assert main(["gradflow", str(run), "--fresh", "rnn", "--lag", "8", "--out", str(tmp_path / "g.png")]) == 0
    assert (tmp_path / "g.png").read_bytes()[:4] == b"\x89PNG" and not any(map(is_temporary, os.listdir(tmp_path)))


def test_bench_checks_its_options_first(tmp_path: Path, capsys):
    for n in ("-1", "0"):
        assert "--repeats must be >= 1" in error_of(capsys, ["bench", "--quick", "--repeats", n])
    assert "is a directory" in error_of(capsys, ["bench", "--quick", "--json", str(tmp_path)])


def test_an_output_error_is_a_user_error():
    assert issubclass(OutputError, RnnkitError)
