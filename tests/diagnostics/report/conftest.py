"""Tiny runs of every task (seconds each), trained once per test session, with their report.html.

The data is written here (a few hundred lines generated from fixed seeds), so the runs need no download;
only the speech task reads the shared FSDD recordings and is skipped without them.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from rnnkit.cli import main

COMMON = ["--no-progress", "--threads", "1", "--device", "cpu"]
NAMES = ["Anna", "Paris", "Berlin", "John", "Rome", "Maria", "Oslo", "Peter"]
PLACES = {"Paris", "Berlin", "Rome", "Oslo"}
WORDS = ["the", "a", "good", "bad", "film", "story", "was", "very", "not", "really", "fine", "dull"]


def _texts(d: Path) -> dict[str, Path]:
    from rnnkit.tasks.demo import corpus_text

    rng = random.Random(0)
    text = corpus_text()
    (d / "train.txt").write_text(text[:6000], encoding="utf-8")
    (d / "valid.txt").write_text(text[6000:7500], encoding="utf-8")
    rows = []
    for _ in range(160):
        label = rng.choice(["pos", "neg"])
        words = [rng.choice(WORDS) for _ in range(rng.randint(3, 9))] + ["good" if label == "pos" else "bad"]
        rng.shuffle(words)
        rows.append(f"{label}\t{' '.join(words)}\n")
    (d / "cls.tsv").write_text("".join(rows[:120]), encoding="utf-8")
    (d / "cls-test.tsv").write_text("".join(rows[120:]), encoding="utf-8")
    blocks = []
    for _ in range(120):
        toks = []
        for _ in range(rng.randint(3, 8)):
            if rng.random() < 0.3:
                name = rng.choice(NAMES)
                toks.append(f"{name} {'B-LOC' if name in PLACES else 'B-PER'}")
            else:
                toks.append(f"{rng.choice(WORDS)} O")
        blocks.append("\n".join(toks))
    (d / "tag.conll").write_text("\n\n".join(blocks[:90]) + "\n\n", encoding="utf-8")
    (d / "tag-test.conll").write_text("\n\n".join(blocks[90:]) + "\n\n", encoding="utf-8")
    pairs = []
    for _ in range(300):
        words = [rng.choice(WORDS) for _ in range(rng.randint(2, 5))]
        pairs.append(f"{' '.join(words)}\t{' '.join(reversed(words))}\n")
    (d / "pairs.tsv").write_text("".join(pairs), encoding="utf-8")
    import math

    lines = ["month,y\n"] + [f"{2000 + i // 12}-{i % 12 + 1:02d},{100 + i + 20 * math.sin(i * math.pi / 6):.2f}\n"
                             for i in range(96)]
    (d / "series.csv").write_text("".join(lines), encoding="utf-8")
    return {p.stem: p for p in d.iterdir()}


def _commands(f: dict[str, Path], out: Path) -> dict[str, list[str]]:
    steps = ["--max-steps", "6", "--eval-every", "3", "--log-every", "2"]
    return {
        "lm": ["train", "lm", "--data", str(f["train"]), "--valid", str(f["valid"]), "--hidden-size", "16",
               "--embed-size", "8", "--num-layers", "2", "--dropout", "0", "--batch-size", "4", "--bptt", "16",
               "--eval-batch-size", "4", *steps],
        "classify": ["train", "classify", "--data", str(f["cls"]), "--test", str(f["cls-test"]), "--format", "tsv",
                     "--pooling", "attention", "--hidden-size", "8", "--embed-size", "8", "--batch-size", "16",
                     *steps],
        "tag": ["train", "tag", "--data", str(f["tag"]), "--test", str(f["tag-test"]), "--format", "conll",
                "--scheme", "bio", "--hidden-size", "8", "--word-embed-size", "8", "--char-embed-size", "4",
                "--char-hidden-size", "4", "--batch-size", "8", *steps],
        "translate": ["train", "translate", "--data", str(f["pairs"]), "--held-out", "20", "--embed-size", "16",
                      "--hidden-size", "16", "--batch-size", "32", "--beam-size", "2", "--eval-batch-size", "32",
                      *steps],
        "caption": ["train", "caption", "--train-size", "64", "--valid-size", "8", "--test-size", "8", "--channels",
                    "4", "--hidden-size", "16", "--embed-size", "8", "--batch-size", "32", "--beam-size", "1", *steps],
        "forecast": ["train", "forecast", "--data", str(f["series"]), "--horizon", "6", "--hidden-size", "8",
                     "--baselines", "naive,seasonal-naive", *steps],
        "adding": ["train", "adding", "--lag", "10", "--hidden-size", "8", "--valid-size", "20", "--test-size", "20",
                   *steps],
        "copy": ["train", "copy", "--lag", "4", "--hidden-size", "8", "--valid-size", "10", "--test-size", "10",
                 *steps],
        "seqdigits": ["train", "seqdigits", "--hidden-size", "8", "--cell", "gru", *steps],
        "music": ["train", "music", "--corpus", str(_tunes(out)), "--batch-size", "4", "--hidden-size", "16",
                  "--embed-size", "8", "--cond-size", "4", "--num-layers", "1", "--eval-samples", "6",
                  "--max-orders", "2", "--lr", "0.01", *steps],
    }


def _tunes(out: Path) -> Path:
    from tests.music.test_corpus import _folder

    d = out / "music-data"
    d.mkdir()
    return _folder(d, 40)


def _asr(out: Path) -> list[str] | None:
    from tests.conftest import DATA, fsdd_recordings

    if not (DATA / "fsdd" / "recordings.tar.xz").is_file():
        return None
    wanted = {f"recordings/{digit}_{spk}_{i}.wav" for digit in (0, 1, 2) for spk in ("george", "jackson", "lucas")
              for i in range(15)}
    rec = out / "fsdd"
    rec.mkdir()
    fsdd_recordings(rec, wanted)
    return ["train", "asr", "--data", str(rec), "--hidden-size", "16", "--num-layers", "1", "--proj-size", "16",
            "--train-size", "48", "--valid-size", "8", "--test-size", "8", "--max-digits", "3", "--batch-size", "8",
            "--max-steps", "6", "--eval-every", "3", "--warmup-steps", "0", "--beam-size", "3", "--no-bidirectional"]


@pytest.fixture(scope="session")
def tiny_runs(tmp_path_factory) -> dict[str, Path]:
    """``{task: run directory}`` of a finished tiny run of every task (asr only with the shared recordings)."""
    out = tmp_path_factory.mktemp("tiny-runs")
    data = out / "data"
    data.mkdir()
    cmds = _commands(_texts(data), out)
    asr = _asr(out)
    if asr is not None:
        cmds["asr"] = asr
    got = {}
    for task, argv in cmds.items():
        run = out / task
        code = main([*argv, *COMMON, "--out", str(run)] if task != "asr" else [*argv, "--no-progress", "--out",
                                                                               str(run)])
        assert code == 0, f"tiny {task} run failed"
        got[task] = run
    return got
