"""`rnnkit predict RUN`: JSON lines for texts (arguments, stdin, a labelled file), series files and WAVs."""

from __future__ import annotations

import io
import json
import os
import re
import select
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from rnnkit.cli import main

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny tensors: see tests/conftest.py

TINY = ["--hidden-size", "8", "--embed-size", "8", "--no-progress", "--threads", "1", "--epochs", "1"]


def lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def text_run(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("textrun")
    rows = [f"{'pos' if i % 2 else 'neg'}\t{'a fine film' if i % 2 else 'a dull plot'} {i}" for i in range(40)]
    (d / "train.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    assert main(["train", "classify", "--data", str(d / "train.tsv"), "--lowercase", "--out", str(d / "run"),
                 *TINY]) == 0
    return d


def test_texts_from_arguments_and_stdin(text_run: Path, capsys, monkeypatch):
    run = str(text_run / "run")
    assert main(["predict", run, "A fine film", "a dull plot"]) == 0
    out = lines(capsys.readouterr().out)
    assert [r["input"] for r in out] == ["A fine film", "a dull plot"]
    for r in out:
        assert r["label"] in ("neg", "pos") and set(r["probabilities"]) == {"neg", "pos"}
        assert sum(r["probabilities"].values()) == pytest.approx(1, abs=1e-5)
        assert r["label"] == max(r["probabilities"], key=r["probabilities"].get)
    monkeypatch.setattr("sys.stdin", io.StringIO("a fine film\n\nanother one\n"))
    assert main(["predict", run, "--output", str(text_run / "out.jsonl")]) == 0
    assert [r["input"] for r in lines((text_run / "out.jsonl").read_text())] == ["a fine film", "another one"]


def test_labelled_file_and_unknown_labels(text_run: Path, capsys):
    run = str(text_run / "run")
    assert main(["predict", run, "--data", str(text_run / "train.tsv")]) == 0
    captured = capsys.readouterr()
    out = lines(captured.out)
    assert len(out) == 40 and out[1]["true"] == "pos"
    assert re.search(rf"{re.escape(str(text_run / 'train.tsv'))}: accuracy \d+\.\d\d% \(\d+/40\)", captured.err)
    # in percent, as rnnkit evaluate's acc
    bad = text_run / "bad.tsv"
    bad.write_text("pos\tgood\nmaybe\tunsure\n", encoding="utf-8")
    assert main(["predict", run, "--data", str(bad)]) == 2
    assert f"{bad}:2: label 'maybe' of the labelled data was never seen in training" in capsys.readouterr().err
    assert main(["predict", run, "x", "--data", str(bad)]) == 2
    assert "either INPUTs or --data" in capsys.readouterr().err


def test_series_files(data_dir: Path, tmp_path: Path, capsys):
    jv = data_dir / "ucr-uea" / "JapaneseVowels"
    src = (jv / "JapaneseVowels_TRAIN.ts").read_text(encoding="utf-8").splitlines(keepends=True)
    data_at = next(i for i, line in enumerate(src) if line.strip().lower() == "@data")
    small = tmp_path / "small.ts"  # the header and the first 3 cases of every speaker (30 each, in order)
    small.write_text("".join(src[: data_at + 1] + [src[data_at + 1 + 30 * k + j] for k in range(9)
                                                   for j in range(3)]), encoding="utf-8")
    run = tmp_path / "run"
    assert main(["train", "classify", "--data", str(small), "--format", "ts", "--valid-fraction", "0.34",
                 "--out", str(run), *TINY]) == 0
    capsys.readouterr()
    assert main(["predict", str(run), str(small)]) == 0
    out = lines(capsys.readouterr().out)
    assert len(out) == 27 and out[0]["input"].endswith(f"small.ts:{data_at + 2}") and "true" not in out[0]
    assert len(out[0]["probabilities"]) == 9


def test_not_a_classifier_run(tmp_path: Path, capsys):
    run = tmp_path / "add"
    assert main(["train", "adding", "--lag", "5", "--out", str(run), "--hidden-size", "4", "--max-steps", "2",
                 "--valid-size", "8", "--test-size", "8", "--no-progress"]) == 0
    assert main(["predict", str(run), "text"]) == 2
    assert "rnnkit predict reads classify and tag runs" in capsys.readouterr().err


def test_a_tag_run_is_handed_to_the_tagger(data_dir: Path, tmp_path: Path, capsys, monkeypatch):
    import gzip

    with gzip.open(data_dir / "ud-english-ewt" / "en_ewt-ud-train.conllu.gz", "rt", encoding="utf-8") as f:
        blocks = f.read().split("\n\n")[:40]
    train = tmp_path / "train.conllu"
    train.write_text("\n\n".join(blocks) + "\n\n", encoding="utf-8")
    run = tmp_path / "tag"
    assert main(["train", "tag", "--data", str(train), "--valid", str(train), "--format", "conllu", "--no-crf",
                 "--epochs", "1", "--hidden-size", "8", "--word-embed-size", "8", "--char-embed-size", "4",
                 "--char-hidden-size", "4", "--threads", "1", "--no-progress", "--out", str(run)]) == 0
    capsys.readouterr()
    monkeypatch.setattr("sys.stdin", io.StringIO("The cat sat .\n"))
    assert main(["predict", str(run)]) == 0
    out = lines(capsys.readouterr().out)
    assert len(out) == 1 and out[0]["tokens"] == ["The", "cat", "sat", "."] and len(out[0]["tags"]) == 4
    assert main(["predict", str(run), "--data", str(train)]) == 2
    assert "--data (a labelled file) is for classify runs" in capsys.readouterr().err


def test_empty_stdin_says_so(text_run: Path, capsys, monkeypatch):
    # no output and exit 0 would read as success
    monkeypatch.setattr("sys.stdin", io.StringIO("\n  \n"))
    assert main(["predict", str(text_run / "run")]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err == "rnnkit: error: no inputs: stdin held no non-blank line; give the inputs as " \
                                "arguments, or one per line\n"


def _predict_process(run: Path, *extra: str, stdin: Any = subprocess.PIPE) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "rnnkit", "predict", str(run), "--threads", "1", *extra],
                            stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)


def test_stdin_is_answered_as_it_arrives(text_run: Path):
    proc = _predict_process(text_run / "run")
    try:
        proc.stdin.write(b"a fine film\n")
        proc.stdin.flush()  # stdin stays open: the answer must not wait for its end
        ready, _, _ = select.select([proc.stdout], [], [], 120)
        assert ready, "no answer to the first line while stdin was open"
        first = json.loads(proc.stdout.readline())
        assert first["input"] == "a fine film" and proc.poll() is None
        proc.stdin.write(b"a dull plot\n")
        proc.stdin.close()
        assert [r["input"] for r in lines(proc.stdout.read().decode())] == ["a dull plot"]
        assert proc.wait(60) == 0
    finally:
        proc.kill()
        proc.wait()


def _peak_rss_kib(run: Path, n: int, tmp_path: Path) -> int:
    """Peak RSS of ``rnnkit predict`` over ``n`` stdin lines of 40 tokens, run in a child process."""
    src = tmp_path / f"in{n}.txt"
    src.write_text("".join(f"{'a fine film ' * 13}{i}\n" for i in range(n)), encoding="utf-8")
    # VmHWM, not ru_maxrss: the latter keeps the parent's peak across fork and exec (Linux)
    code = ("import sys\nfrom rnnkit.cli import main\nrc = main(sys.argv[1:])\n"
            "hwm = [v for v in open('/proc/self/status') if v.startswith('VmHWM:')][0]\n"
            "print(hwm.split()[1], file=sys.stderr)\nsys.exit(rc)")
    with src.open("rb") as f:
        done = subprocess.run([sys.executable, "-c", code, "predict", str(run), "--threads", "1"], stdin=f,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=120,
                              env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr.decode()
    return int(done.stderr.decode().split()[-1])


@pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="reads VmHWM from /proc")
def test_a_long_stdin_keeps_memory_flat(text_run: Path, tmp_path: Path):
    small, large = _peak_rss_kib(text_run / "run", 10_000, tmp_path), _peak_rss_kib(text_run / "run", 100_000, tmp_path)
    # holding 100,000 encoded lines (40 tokens each) would add tens of MB; a batch at a time adds nothing
    assert large - small < 12 * 1024, (small, large)
