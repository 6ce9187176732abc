"""`rnnkit train translate` and `rnnkit translate` end to end on a slice of Tatoeba eng-fra."""

from __future__ import annotations

import io
import json
import os
import re
import select
import subprocess
import sys
from pathlib import Path

import pytest

from rnnkit.cli import main
from rnnkit.data.parallel import read_pairs
from rnnkit.tasks import translate

pytest.importorskip("tokenizers")
pytest.importorskip("sacrebleu")

SMALL = ["--embed-size", "32", "--hidden-size", "32", "--no-progress", "--log-every", "5", "--threads", "1",
         "--device", "cpu", "--eval-batch-size", "64"]


def records(run: Path) -> list[dict]:
    return [json.loads(r) for r in (run / "metrics.jsonl").read_text().splitlines()]


def test_tatoeba_slice_trains_translates_and_resumes(data_dir: Path, tmp_path: Path, capsys, monkeypatch):
    pairs = data_dir / "tatoeba-eng-fra-5k" / "eng-fra.txt"
    run = tmp_path / "tatoeba"
    assert main(["train", "translate", "--data", str(pairs), "--limit", "600", "--held-out", "40", "--out", str(run),
                 *SMALL, "--tokenizer", "bpe", "--vocab-size", "400", "--max-steps", "30", "--eval-every", "15",
                 "--batch-size", "32", "--lr", "5e-3", "--beam-size", "3", "--max-length", "20"]) == 0
    test = [r for r in records(run) if r["split"] == "test"][-1]
    assert test["sentences"] == 40 and 0 <= test["bleu"] <= 100 and 0 <= test["chrf"] <= 100
    assert 0 <= test["beam_below_greedy"] <= 1 and test["loss"] < 7  # below the uniform guess over 400 pieces
    valid = [r["loss"] for r in records(run) if r["split"] == "valid"]
    assert valid[-1] < valid[0]
    assert {"config.json", "curves.png", "best.pt", "last.pt", "test.beam.txt", "attention.png"} <= \
        {p.name for p in run.iterdir()}
    assert len((run / "test.beam.txt").read_text().splitlines()) == 40
    capsys.readouterr()
    assert main(["translate", str(run), "Go.", "I'm tired.", "--beam-size", "1", "--heatmap",
                 str(tmp_path / "h.png")]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2 and (tmp_path / "h.png").stat().st_size > 0
    monkeypatch.setattr("sys.stdin", io.StringIO("Go.\nRun!\nWe won.\n"))
    assert main(["translate", str(run)]) == 0
    three = capsys.readouterr().out.splitlines()
    assert len(three) == 3
    monkeypatch.setattr("sys.stdin", io.StringIO("Go.\n\nRun!\n  \nWe won.\n"))  # blank lines: blank lines back
    assert main(["translate", str(run)]) == 0
    assert capsys.readouterr().out.splitlines() == [three[0], "", three[1], "", three[2]]
    monkeypatch.setattr("sys.stdin", io.StringIO("Go.\n" + "word " * 120 + "\n"))
    assert main(["translate", str(run)]) == 2
    assert re.search(r"stdin:2: \d+ tokens, more than the run's --max-len 100", capsys.readouterr().err)
    # a resumed run keeps its tokenisers and continues
    assert main(["train", "translate", "--out", str(run), "--resume", "--max-steps", "34", "--no-progress"]) == 0
    assert [r for r in records(run) if r["split"] == "valid"][-1]["step"] == 34


def test_held_out_splits_and_parallel_files(tmp_path: Path, capsys):
    src = tmp_path / "train.de"
    tgt = tmp_path / "train.en"
    src.write_text("".join(f"satz {i} .\n" for i in range(30)), encoding="utf-8")
    tgt.write_text("".join(f"sentence {i} .\n" for i in range(30)), encoding="utf-8")
    cfg = translate.TranslateDataConfig(source=str(src), target=str(tgt), held_out=5)
    splits = translate.read_splits(cfg)
    assert [len(splits[k][0]) for k in ("train", "valid", "test")] == [20, 5, 5]
    seen = set(splits["train"][0]) | set(splits["valid"][0]) | set(splits["test"][0])
    assert len(seen) == 30 and splits["valid"][0][0].replace("satz", "sentence") == splits["valid"][1][0]
    short = tmp_path / "short.en"
    short.write_text("one .\n", encoding="utf-8")
    assert main(["train", "translate", "--source", str(src), "--target", str(short), "--out",
                 str(tmp_path / "r")]) == 2
    assert "has 30 lines" in capsys.readouterr().err
    assert main(["train", "translate", "--data", str(src), "--out", str(tmp_path / "r2")]) == 2
    assert f"{src}:1: expected 'source<TAB>target', found no tab" in capsys.readouterr().err
    with pytest.raises(Exception, match="give --data or --source/--target, not both"):
        translate.read_splits(translate.TranslateDataConfig(data=str(src), source=str(src), target=str(tgt)))
    assert read_pairs  # the reader the task uses


def test_select_bleu_scores_the_validation_pairs_and_picks_best_pt_by_it(tmp_path: Path):
    from rnnkit.training import checkpoint

    words = ["eins", "zwei", "drei", "vier", "fünf", "sechs"]
    english = dict(zip(words, ["one", "two", "three", "four", "five", "six"]))
    lines = [f"{a} {b}\t{english[a]} {english[b]}" for a in words for b in words]
    (tmp_path / "pairs.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    args = ["train", "translate", "--data", str(tmp_path / "pairs.tsv"), "--held-out", "6", *SMALL,
            "--max-steps", "12", "--eval-every", "3", "--batch-size", "8", "--lr", "1e-2"]
    assert main([*args, "--out", str(tmp_path / "bleu"), "--select", "bleu"]) == 0
    valid = [r for r in records(tmp_path / "bleu") if r["split"] == "valid"]
    assert len(valid) == 4 and all(0 <= r["bleu"] <= 100 and 0 <= r["chrf"] <= 100 for r in valid)
    best = max(valid, key=lambda r: (r["bleu"], -r["loss"]))
    assert checkpoint.load(tmp_path / "bleu" / "best.pt")["trainer"]["step"] == best["step"]
    # the default selects by the loss and decodes nothing while training
    assert main([*args, "--out", str(tmp_path / "loss")]) == 0
    assert all("bleu" not in r for r in records(tmp_path / "loss") if r["split"] == "valid")


def test_stdin_is_translated_as_it_arrives(tmp_path: Path):
    words = ["eins", "zwei", "drei", "vier"]
    (tmp_path / "pairs.tsv").write_text("".join(f"{a} {b}\t{b} {a}\n" for a in words for b in words), encoding="utf-8")
    assert main(["train", "translate", "--data", str(tmp_path / "pairs.tsv"), "--held-out", "2", *SMALL,
                 "--max-steps", "2", "--batch-size", "4", "--out", str(tmp_path / "run")]) == 0
    proc = subprocess.Popen([sys.executable, "-m", "rnnkit", "translate", str(tmp_path / "run")],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    try:
        proc.stdin.write(b"eins zwei\n")
        proc.stdin.flush()  # stdin stays open: the translation must not wait for its end
        ready, _, _ = select.select([proc.stdout], [], [], 120)
        assert ready, "no translation of the first line while stdin was open"
        assert proc.stdout.readline().endswith(b"\n") and proc.poll() is None
        proc.stdin.write(b"drei vier\n")
        proc.stdin.close()
        assert len(proc.stdout.read().splitlines()) == 1
        assert proc.wait(60) == 0
    finally:
        proc.kill()
        proc.wait()


def test_default_tokenizer_reads_raw_text_without_unknown_words(tmp_path: Path):
    from rnnkit.data.parallel import UNK

    # raw text: each word glued to one punctuation mark in training, to another one in the inputs
    pairs = [f"le {a}{p}\tthe {b}{p}" for a, b, p in (("chat", "cat", "."), ("chien", "dog", ","), ("lit", "bed", "!"))]
    data = tmp_path / "pairs.tsv"
    data.write_text("\n".join(pairs * 8) + "\n", encoding="utf-8")
    run = tmp_path / "run"
    assert main(["train", "translate", "--data", str(data), "--held-out", "2", "--out", str(run), *SMALL,
                 "--max-steps", "2", "--eval-every", "2", "--batch-size", "8"]) == 0
    _, codecs, conf, _ = translate.load_run(run)
    assert conf["data"]["tokenizer"] == "bpe"
    assert not any(UNK in ids for ids in codecs[0].encode_batch(["le chat,", "le chien!", "le lit."]))
    assert not any(UNK in ids for ids in codecs[1].encode_batch(["the cat!", "the dog."]))
