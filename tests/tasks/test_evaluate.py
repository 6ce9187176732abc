"""`rnnkit evaluate RUN --data FILE` on classify, tag and translate runs (tiny runs trained in seconds), and the
one-line error for a task it does not score."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rnnkit.cli import main
from tests.tasks.test_tag import SMALL, _slice

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny tensors: see tests/conftest.py

TINY = ["--hidden-size", "8", "--embed-size", "8", "--no-progress", "--threads", "1"]
WORDS = ["good", "great", "bad", "awful", "glad", "sad", "gold", "mad"]


def records(run: Path) -> list[dict]:
    return [json.loads(r) for r in (run / "metrics.jsonl").read_text().splitlines()]


def last_line(capsys) -> str:
    return capsys.readouterr().err.strip().splitlines()[-1]


@pytest.fixture
def classify_run(tmp_path: Path) -> tuple[Path, Path]:
    rows = [f"{'pos' if w.startswith('g') else 'neg'}\t{w} {w}" for w in WORDS * 4]
    data = tmp_path / "d.tsv"
    data.write_text("\n".join(rows) + "\n", encoding="utf-8")
    test = tmp_path / "test.tsv"
    test.write_text("pos\tgood gold\nneg\tsad mad\nneg\tglad\npos\tawful\npos\tgreat\n", encoding="utf-8")
    run = tmp_path / "run"
    assert main(["train", "classify", "--data", str(data), "--test", str(test), "--tokens", "char",
                 "--valid-fraction", "0.25", "--epochs", "2", "--select", "loss", "--out", str(run), *TINY]) == 0
    return run, test


def test_classify_run_scores_a_labelled_file_as_training_did(classify_run, capsys):
    run, test = classify_run
    capsys.readouterr()
    assert main(["evaluate", str(run), "--data", str(test), "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    logged = [r for r in records(run) if r["split"] == "test"][-1]  # the test set scored after training
    assert res["task"] == "classify" and res["sequences"] == 5 and res["checkpoint"] == str(run / "best.pt")
    for key in ("acc", "macro_f1", "loss"):
        assert res[key] == pytest.approx(logged[key]), key
    assert res["confusion"] == json.loads((run / "confusion.json").read_text())
    assert main(["evaluate", str(run), "--data", str(test)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"{test}: 5 sequences | acc {100 * logged['acc']:.2f} | macro-F1 "
                             f"{100 * logged['macro_f1']:.2f} |")
    assert out[1] == "confusion (rows: true, columns: predicted):" and out[2].split() == ["neg", "pos"]
    assert sum(int(x) for line in out[3:] for x in line.split()[1:]) == 5


def test_classify_errors_are_one_line(classify_run, tmp_path: Path, capsys):
    run, _ = classify_run
    bad = tmp_path / "bad.tsv"
    bad.write_text("pos\tgood\nmaybe\tgold\n", encoding="utf-8")
    capsys.readouterr()
    assert main(["evaluate", str(run), "--data", str(bad)]) == 2
    assert last_line(capsys) == (f"rnnkit: error: {bad}:2: label 'maybe' of the file {bad} was never seen in "
                                 f"training; known labels: neg, pos")
    assert main(["evaluate", str(run), "--data", str(bad), "--bptt", "5"]) == 2
    assert last_line(capsys) == (f"rnnkit: error: --bptt is for language-model runs; {run / 'best.pt'} is a "
                                 f"classify run")
    for flags, name in ((["--split", "valid"], "--split"), (["--temperature", "0.7"], "--temperature/--top-p/--top-k")):
        assert main(["evaluate", str(run), "--data", str(bad), *flags]) == 2
        assert last_line(capsys) == f"rnnkit: error: {name} is for music runs; {run / 'best.pt'} is a classify run"
    # a corrupt best.pt: last.pt, with a warning
    (run / "best.pt").write_bytes((run / "best.pt").read_bytes()[:2000])
    assert main(["evaluate", str(run), "--data", str(run.parent / "test.tsv"), "--json"]) == 0
    captured = capsys.readouterr()
    assert "using" in captured.err and json.loads(captured.out)["checkpoint"] == str(run / "last.pt")


def test_tag_run_scores_a_tagged_file_with_seqeval_f1(data_dir: Path, tmp_path: Path, capsys):
    src = data_dir / "conll2003"
    train = _slice(src / "eng.train", tmp_path / "train.conll", 80)
    valid = _slice(src / "eng.testa", tmp_path / "valid.conll", 30)
    run = tmp_path / "run"
    assert main(["train", "tag", "--data", str(train), "--valid", str(valid), "--test", str(valid), "--epochs", "1",
                 "--out", str(run), *SMALL]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(run), "--data", str(valid), "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    logged = json.loads((run / "metrics.json").read_text())["test"]
    assert res["task"] == "tag" and res["sentences"] == 30
    for key in ("f1", "precision", "recall", "acc", "loss"):
        assert res[key] == pytest.approx(logged[key]), key
    assert res["per_type"] == logged["per_type"]
    assert main(["evaluate", str(run), "--data", str(valid)]) == 0
    assert capsys.readouterr().out.startswith(f"{valid}: F1 {logged['f1']:.2f} | precision")


def test_a_task_it_does_not_score_is_a_one_line_error(tmp_path: Path, capsys):
    run = tmp_path / "add"
    assert main(["train", "adding", "--lag", "5", "--out", str(run), "--hidden-size", "4", "--max-steps", "2",
                 "--eval-every", "2", "--valid-size", "8", "--test-size", "8", "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(run), "--data", str(tmp_path / "x.txt")]) == 2
    assert last_line(capsys) == (f"rnnkit: error: rnnkit evaluate does not score 'adding' runs yet "
                                 f"({run / 'best.pt'}); it scores lm, classify, tag, translate, caption, "
                                 f"forecast, asr and music runs")


def test_translate_run_scored_on_its_test_file_agrees_with_training(tmp_path: Path, capsys):
    pytest.importorskip("sacrebleu")
    nums = ["eins", "zwei", "drei", "vier", "fünf"]
    names = ["one", "two", "three", "four", "five"]
    pairs = [f"{a} {b} .\t{x} {y} ." for a, x in zip(nums, names) for b, y in zip(nums, names)]
    data, test = tmp_path / "train.tsv", tmp_path / "test.tsv"
    data.write_text("\n".join(pairs * 4) + "\n", encoding="utf-8")
    test.write_text("\n".join(pairs[:7]) + "\n", encoding="utf-8")
    run = tmp_path / "tr"
    assert main(["train", "translate", "--data", str(data), "--valid", str(test), "--test", str(test),
                 "--out", str(run), "--max-steps", "6", "--eval-every", "6", "--batch-size", "16",
                 "--beam-size", "2", "--lr", "1e-2", "--min-freq", "1", *TINY]) == 0
    logged = [r for r in records(run) if r["split"] == "test"][-1]
    capsys.readouterr()
    assert main(["evaluate", str(run), "--data", str(test), "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["task"] == "translate" and res["sentences"] == 7
    for key in ("bleu", "chrf", "bleu_greedy", "chrf_greedy", "loss"):
        assert res[key] == pytest.approx(logged[key], abs=1e-6), key
    assert main(["evaluate", str(run), "--data", str(test)]) == 0
    assert "7 sentences | BLEU" in capsys.readouterr().out
    (tmp_path / "bad.tsv").write_text("no tab here\n", encoding="utf-8")
    assert main(["evaluate", str(run), "--data", str(tmp_path / "bad.tsv")]) == 2
    err = last_line(capsys)
    assert err.startswith("rnnkit: error:") and "expected 'source<TAB>target'" in err


def test_classify_and_tag_print_accuracy_as_percentages_with_two_decimals(tmp_path: Path, capsys):
    import re

    rows = [f"{'pos' if w.startswith('g') else 'neg'}\t{w} {w}" for w in WORDS * 4]
    data = tmp_path / "d.tsv"
    data.write_text("\n".join(rows) + "\n", encoding="utf-8")
    run = tmp_path / "cls"
    capsys.readouterr()
    assert main(["train", "classify", "--data", str(data), "--test", str(data), "--tokens", "char",
                 "--valid-fraction", "0.25", "--epochs", "1", "--out", str(run), *TINY]) == 0
    err = capsys.readouterr().err
    valid = [r for r in records(run) if r["split"] == "valid"][-1]
    test = [r for r in records(run) if r["split"] == "test"][-1]
    assert f"acc {100 * valid['acc']:.2f} | macro_f1 {100 * valid['macro_f1']:.2f}" in err  # the valid line
    assert re.search(rf"test \(\S+\): .*acc {100 * test['acc']:.2f} \| macro_f1 {100 * test['macro_f1']:.2f}", err)
    conll = tmp_path / "t.conll"
    conll.write_text("".join(f"W{chr(97 + i)} I-PER\nruns O\n\n" for i in range(12)), encoding="utf-8")
    tag_run = tmp_path / "tag"
    assert main(["train", "tag", "--data", str(conll), "--valid", str(conll), "--test", str(conll), "--epochs", "1",
                 "--out", str(tag_run), *SMALL]) == 0
    err = capsys.readouterr().err
    t = json.loads((tag_run / "metrics.json").read_text())["test"]
    assert f"| f1 {t['f1']:.2f} | precision {t['precision']:.2f} | recall {t['recall']:.2f}" in err
    assert re.search(r"valid loss [\d.]+ \| f1 \d+\.\d\d \| precision \d+\.\d\d", err)


def test_forecast_run_scored_on_its_file_agrees_with_its_backtest(data_dir: Path, tmp_path: Path, capsys):
    """The run's own file: the same test span, origins, network and combination (members as fitted), so the
    numbers training wrote to backtest.json; a series the run never saw is scored by the network alone."""
    from tests.tasks.test_forecast import train_flags

    nile = data_dir / "forecasting" / "nile.csv"
    run = tmp_path / "fc"
    assert main(train_flags(nile, run, "--baselines", "naive,seasonal-naive,drift,ets")) == 0
    capsys.readouterr()
    assert main(["evaluate", str(run), "--data", str(nile), "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    backtest = json.loads((run / "backtest.json").read_text())
    assert res["task"] == "forecast" and res["headline"] == "combined" and (res["test"], res["horizon"]) == (10, 5)
    assert set(res["overall"]) == set(backtest["overall"]) == {"combined", "rnn", "naive", "seasonal naive",
                                                               "drift", "ETS"}
    for model, metrics in backtest["overall"].items():
        assert res["overall"][model] == pytest.approx(metrics, rel=1e-6), model
    assert main(["evaluate", str(run), "--data", str(nile)]) == 0
    out = capsys.readouterr().out
    assert "combined MASE" in out and "in-sample seasonal naive" in out and "| drift |" in out

    other = tmp_path / "other.csv"  # a series of another name: no combination of the run's for it
    other.write_text(nile.read_text().replace("year,volume", "year,flow"))
    assert main(["evaluate", str(run), "--data", str(other), "--json"]) == 0
    captured = capsys.readouterr()
    res = json.loads(captured.out)
    assert res["headline"] == "rnn" and "combined" not in res["overall"] and "'flow' was not in" in captured.err
    assert res["overall"]["naive"] == pytest.approx(backtest["overall"]["naive"])
