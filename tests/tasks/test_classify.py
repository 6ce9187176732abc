"""`rnnkit train classify` end to end on tiny slices of real data: SST-2 texts, JapaneseVowels series, FSDD audio."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from rnnkit.cli import main
from rnnkit.errors import RnnkitError
from rnnkit.tasks import classify
from rnnkit.tasks import classify_data as cd

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny tensors: see tests/conftest.py

TINY = ["--hidden-size", "8", "--embed-size", "8", "--no-progress", "--log-every", "5", "--threads", "1"]


def records(run: Path) -> list[dict]:
    return [json.loads(r) for r in (run / "metrics.jsonl").read_text().splitlines()]


def head(src: Path, dst: Path, n: int) -> Path:
    dst.write_text("".join(src.read_text(encoding="utf-8").splitlines(keepends=True)[:n]), encoding="utf-8")
    return dst


@pytest.fixture(scope="module")
def sst(tmp_path_factory, request) -> Path:
    from tests.conftest import DATA

    if not DATA.is_dir():
        pytest.skip(f"shared data not found at {DATA}")
    d = tmp_path_factory.mktemp("sst")
    head(DATA / "sentiment" / "stsa.binary.train", d / "train.txt", 160)
    head(DATA / "sentiment" / "stsa.binary.dev", d / "dev.txt", 40)
    return d


def test_text_run_writes_everything_and_resumes(sst: Path, tmp_path: Path, capsys):
    run = tmp_path / "sst"
    args = ["train", "classify", "--data", str(sst / "train.txt"), "--valid", str(sst / "dev.txt"), "--test",
            str(sst / "dev.txt"), "--format", "label-sentence", "--select", "acc", "--out", str(run), *TINY]
    assert main([*args, "--epochs", "2", "--batch-size", "16"]) == 0
    test = [r for r in records(run) if r["split"] == "test"][-1]
    assert 0 <= test["acc"] <= 1 and 0 <= test["macro_f1"] <= 1 and test["loss"] > 0
    assert {"config.json", "curves.png", "best.pt", "last.pt", "confusion.png", "confusion.json"} <= \
        {p.name for p in run.iterdir()}
    # the test set is scored with the best validation accuracy (ties: lower loss): the Trainer's best.pt,
    # and no copy of its own
    valid = [r for r in records(run) if r["split"] == "valid"]
    best = max(valid, key=lambda r: (r["acc"], -r["loss"]))
    kept = torch.load(run / "best.pt", weights_only=True)
    assert test["checkpoint"] == "best.pt" and not (run / "best-acc.pt").exists()
    assert kept["trainer"]["best_metrics"]["acc"] == best["acc"] and kept["trainer"]["step"] == best["step"]
    assert classify.load_run(run).path.name == "best.pt"
    confusion = json.loads((run / "confusion.json").read_text())
    assert confusion["labels"] == ["0", "1"] and sum(map(sum, confusion["matrix"])) == 40
    loaded = classify.load_run(run)
    assert loaded.classes == ["0", "1"] and loaded.vocab is not None and loaded.model.config.vocab_size == len(
        loaded.vocab)
    assert main([*args, "--resume", "--epochs", "3"]) == 0
    assert torch.load(run / "last.pt", weights_only=True)["trainer"]["step"] == 30  # 10 batches per epoch


def test_resumed_batches_are_the_same(sst: Path):
    split = cd.read_split(str(sst / "train.txt"), classify.DataConfig(format="label-sentence"), None)
    enc = classify.Encoded([torch.zeros(len(t), dtype=torch.long) for t in split.items],
                           torch.zeros(len(split), dtype=torch.long), split.where)
    task = classify.ClassifyTask(enc, enc, classify.DataConfig(batch_size=16), None, seed=3)
    full, tail = list(task.batches(1, 0)), list(task.batches(1, 4))
    assert len(full) == task.num_batches() == 10
    assert all(torch.equal(a[1], b[1]) for a, b in zip(full[4:], tail))
    # bucketing: a batch's lengths are much closer together than the whole set's
    spread = sum(int(b[1].max() - b[1].min()) for b in full) / len(full)
    assert spread < (max(enc.lengths) - min(enc.lengths)) / 2


def test_unknown_label_in_validation_is_an_error(sst: Path, tmp_path: Path, capsys):
    bad = tmp_path / "dev.txt"
    bad.write_text("1 fine film\n2 a label never seen\n", encoding="utf-8")
    assert main(["train", "classify", "--data", str(sst / "train.txt"), "--valid", str(bad), "--format",
                 "label-sentence", "--out", str(tmp_path / "r"), *TINY]) == 2
    assert f"{bad}:2: label '2' of the validation data was never seen in training" in capsys.readouterr().err


def test_tsv_with_header_and_char_tokens(tmp_path: Path, capsys):
    rows = ["text\tlabel"] + [f"{w} {w}\t{'pos' if w.startswith('g') else 'neg'}"
                              for w in ["good", "great", "bad", "awful", "glad", "sad", "gold", "mad"] * 3]
    (tmp_path / "d.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    run = tmp_path / "r"
    assert main(["train", "classify", "--data", str(tmp_path / "d.tsv"), "--header", "--text-column", "text",
                 "--label-column", "label", "--tokens", "char", "--valid-fraction", "0.25", "--out", str(run),
                 "--class-weights", "balanced", "--pooling", "attention", "--epochs", "1", "--select", "loss",
                 *TINY]) == 0
    loaded = classify.load_run(run)
    assert loaded.vocab.level == "char" and loaded.classes == ["neg", "pos"] and loaded.path.name == "best.pt"


def test_japanese_vowels_learns(data_dir: Path, tmp_path: Path, capsys):
    jv = data_dir / "ucr-uea" / "JapaneseVowels"
    run = tmp_path / "jv"
    assert main(["train", "classify", "--data", str(jv / "JapaneseVowels_TRAIN.ts"), "--test",
                 str(jv / "JapaneseVowels_TEST.ts"), "--format", "ts", "--cell", "gru", "--pooling", "mean",
                 "--lr", "1e-2", "--epochs", "6", "--batch-size", "16", "--out", str(run), *TINY]) == 0
    test = [r for r in records(run) if r["split"] == "test"][-1]
    assert test["acc"] > 0.5  # 9 speakers: chance is about 0.11
    model = classify.load_run(run).model
    assert model.config.input_size == 12 and float(model.feature_std.min()) > 0


@pytest.fixture(scope="module")
def fsdd(tmp_path_factory) -> Path:
    from tests.conftest import fsdd_recordings

    wanted = {f"recordings/{digit}_george_{i}.wav" for digit in (0, 1) for i in range(15)}
    return fsdd_recordings(tmp_path_factory.mktemp("fsdd"), wanted)


def test_fsdd_slice_with_the_usual_split(fsdd: Path, tmp_path: Path, capsys):
    run = tmp_path / "fsdd"
    assert main(["train", "classify", "--data", str(fsdd), "--format", "wav-dir", "--epochs", "2",
                 "--batch-size", "8", "--out", str(run), *TINY]) == 0
    err = capsys.readouterr().err
    assert "18 / 2 / 10 train / valid / test sequences, 2 classes, 26 features" in err  # indices 0-4: test
    test = [r for r in records(run) if r["split"] == "test"][-1]
    assert 0 <= test["acc"] <= 1


def test_fsdd_wrong_sample_rate(fsdd: Path, tmp_path: Path, capsys):
    assert main(["train", "classify", "--data", str(fsdd), "--format", "wav-dir", "--sample-rate", "16000",
                 "--out", str(tmp_path / "r"), *TINY]) == 2
    assert "_george_0.wav: sample rate 8000 Hz, expected 16000 Hz" in capsys.readouterr().err


def test_split_helpers():
    kept, held = cd.stratified_holdout(["a"] * 10 + ["b"] * 3 + ["c"], 0.2, seed=0)
    assert len(held) == 3 and sorted(kept + held) == list(range(14))  # 2 of a, 1 of b, none of a lone c
    assert cd.class_order(["10", "9", "1"]) == ["1", "9", "10"] and cd.class_order(["b", "a"]) == ["a", "b"]
    assert classify.balanced_weights(torch.tensor([0, 0, 0, 1]), 2).tolist() == pytest.approx([4 / 6, 2.0])
    with pytest.raises(RnnkitError, match="--valid-fraction must be in"):
        classify.check_data(classify.DataConfig(data="x", valid_fraction=1.5), None)


def ts_file(path: Path, cases: list[tuple[list[float], str]]) -> Path:
    labels = sorted({y for _, y in cases})
    lines = ["@problemName T", "@univariate true", f"@classLabel true {' '.join(labels)}", "@data"]
    path.write_text("\n".join(lines + [",".join(map(str, x)) + f":{y}" for x, y in cases]) + "\n", encoding="utf-8")
    return path


def test_defaults_learn_a_real_ucr_set_quickly(data_dir: Path, tmp_path: Path, capsys):
    """No options but the files: ItalyPowerDemand (61 training series of 24 steps) well above chance, < 30 s."""
    import time

    d = data_dir / "ucr-uea" / "ItalyPowerDemand"
    test = head(d / "ItalyPowerDemand_TEST.ts", tmp_path / "test.ts", 320)  # header + 307 cases
    run = tmp_path / "ipd"
    start = time.process_time()
    assert main(["train", "classify", "--data", str(d / "ItalyPowerDemand_TRAIN.ts"), "--test", str(test),
                 "--format", "ts", "--out", str(run), "--threads", "1", "--no-progress"]) == 0
    cpu = time.process_time() - start
    err = capsys.readouterr().err
    assert "defaults: series normalisation, no front end, 500 epochs, 50 warm-up steps" in err
    # no warning about the model (the Trainer's busy-machine line depends on the load, not on the run)
    assert not [line for line in err.splitlines() if "warning" in line and "the machine is busy" not in line], err
    test = [r for r in records(run) if r["split"] == "test"][-1]
    assert test["acc"] > 0.8 and test["checkpoint"] == "best.pt"  # chance 0.5; 1-NN ED 0.955 on the full set
    assert cpu < 30
    saved = json.loads((run / "config.json").read_text())
    assert saved["train"]["epochs"] == 500 and saved["train"]["select"] == "last"  # resolved, so resumes agree
    # 6 validation series: too few to pick by accuracy, so best.pt is the final model
    best, last = (torch.load(run / n, weights_only=True) for n in ("best.pt", "last.pt"))
    assert all(torch.equal(best["model"][k], last["model"][k]) for k in best["model"])
    assert classify.load_run(run).path.name == "best.pt"


def test_long_series_get_the_conv_front_end(data_dir: Path, tmp_path: Path, capsys):
    d = data_dir / "ucr-uea" / "GunPoint"
    run = tmp_path / "gp"
    assert main(["train", "classify", "--data", str(d / "GunPoint_TRAIN.ts"), "--format", "ts", "--out", str(run),
                 "--max-steps", "3", *TINY]) == 0
    assert "conv front end 64 channels, /4 steps" in capsys.readouterr().err  # 150 steps -> 38
    model = classify.load_run(run).model
    assert model.frontend is not None and model.frontend.downsample == 2


def test_a_model_at_chance_is_never_silent(data_dir: Path, tmp_path: Path, capsys):
    """lr 0: nothing can be learned, and the run says so (also in metrics.jsonl)."""
    d = data_dir / "ucr-uea" / "ItalyPowerDemand"
    run = tmp_path / "stuck"
    assert main(["train", "classify", "--data", str(d / "ItalyPowerDemand_TRAIN.ts"), "--format", "ts",
                 "--out", str(run), "--lr", "0", "--epochs", "10", *TINY]) == 0
    err = capsys.readouterr().err
    assert "warning: the model stayed at chance" in err
    assert "warning: after 20 steps the training loss" in err  # said early too, while it runs
    assert any(r["split"] == "warning" for r in records(run))


def test_one_class_and_lone_classes(tmp_path: Path, capsys):
    one = ts_file(tmp_path / "one.ts", [([float(i), 1.0, 2.0], "a") for i in range(6)])
    assert main(["train", "classify", "--data", str(one), "--format", "ts", "--out", str(tmp_path / "r1"),
                 *TINY]) == 2
    assert "the training data has 1 class (a); a classifier needs at least 2" in capsys.readouterr().err
    # a class with one example can't be in both splits: trained on, and said to be missing from validation
    cases = [([float(i), 0.0, 1.0], "a") for i in range(6)] + [([5.0, 5.0, float(i)], "b") for i in range(5)]
    lone = ts_file(tmp_path / "lone.ts", [*cases, ([9.0, 9.0, 9.0], "c")])
    assert main(["train", "classify", "--data", str(lone), "--format", "ts", "--out", str(tmp_path / "r2"),
                 "--epochs", "1", *TINY]) == 0
    assert "note: 1 of 3 classes have no validation example: c (1 in training)" in capsys.readouterr().err


def test_stratified_holdout_keeps_every_class_with_two_examples():
    labels = [c for c in "abcdefghij" for _ in range(2)] + ["k"] * 30
    kept, held = cd.stratified_holdout(labels, 0.1, seed=0)
    assert {labels[i] for i in held} == set("abcdefghijk") and {labels[i] for i in kept} == set("abcdefghijk")
    assert sorted(kept + held) == list(range(len(labels)))


def test_budget_and_schedule_follow_the_data():
    from rnnkit.tasks import classify_auto as ca

    auto = ca.ClassifyTrainConfig()
    small = ca.resolve_train(auto, batches_per_epoch=2)
    assert (small.epochs, small.warmup_steps, small.eval_every) == (500, 50, 100)  # 1,000 steps, 10 evaluations
    big = ca.resolve_train(auto, batches_per_epoch=2000)
    assert (big.epochs, big.warmup_steps, big.eval_every) == (10, 200, 0)  # at least 10 epochs, evaluated each
    given = ca.resolve_train(ca.ClassifyTrainConfig(epochs=3, warmup_steps=0, eval_every=0), 2)
    assert (given.epochs, given.warmup_steps, given.eval_every) == (3, 0, 0)  # given options are kept
    assert ca.resolve_select("auto", 99) == "last" and ca.resolve_select("auto", 100) == "acc"
    with pytest.raises(RnnkitError, match="--warmup-steps must be >= -1"):
        ca.ClassifyTrainConfig(warmup_steps=-2).validate()


def test_a_run_saved_before_the_auto_defaults_resumes_as_it_was(tmp_path: Path):
    cases = [([float(i), 0.0, 1.0, 2.0], "a") for i in range(8)] + [([3.0, 2.0, float(i), 0.0], "b") for i in range(8)]
    data = ts_file(tmp_path / "d.ts", cases)
    run = tmp_path / "old"
    args = ["train", "classify", "--data", str(data), "--format", "ts", "--out", str(run), *TINY]
    assert main([*args, "--epochs", "1", "--normalize", "global", "--frontend", "none"]) == 0
    # what an older rnnkit wrote: no normalize / frontend / downsample in the saved configs
    conf = json.loads((run / "config.json").read_text())
    for key in ("normalize", "frontend", "downsample"):
        del conf["model"][key]
    (run / "config.json").write_text(json.dumps(conf))
    from rnnkit.training import checkpoint

    for name in ("last.pt", "best.pt"):
        ckpt = torch.load(run / name, weights_only=False)
        ckpt.pop("checksum", None)
        checkpoint.save_atomic({**ckpt, "config": conf}, run / name)
    assert main([*args, "--resume", "--epochs", "2"]) == 0
    assert classify.load_run(run).model.normalize == "global"


def test_auto_searches_on_validation_and_trains_the_winner(data_dir: Path, tmp_path: Path, capsys):
    d = data_dir / "ucr-uea" / "ItalyPowerDemand"
    test = head(d / "ItalyPowerDemand_TEST.ts", tmp_path / "test.ts", 60)
    run = tmp_path / "auto"
    assert main(["train", "classify", "--data", str(d / "ItalyPowerDemand_TRAIN.ts"), "--test", str(test),
                 "--format", "ts", "--out", str(run), "--auto", "4", "--epochs", "3", *TINY]) == 0
    err = capsys.readouterr().err
    found = json.loads((run / "auto.json").read_text())
    names = [c["name"] for c in found["candidates"]]
    assert names == ["given", "hidden-4", "lr-0.001", "lr-0.005"] and found["chosen"] in names
    assert all(0 <= c["valid_acc"] <= 1 for c in found["candidates"])
    assert f"auto: chose {found['chosen']}" in err
    # candidates never score the test set; the run itself does, with the winner's options
    assert not any((run / "auto" / n / "confusion.json").exists() for n in names)
    saved = json.loads((run / "config.json").read_text())
    assert saved["data"]["auto"] == 0.0 and saved["model"]["hidden_size"] == (4 if found["chosen"] == "hidden-4"
                                                                                else 8)
    assert [r for r in records(run) if r["split"] == "test"]


def glue_rows(n: int = 30) -> list[str]:
    """A GLUE-style ``sentence<TAB>label`` file's lines: a header, then distinct sentences."""
    return ["sentence\tlabel"] + [f"film number {i} was {'good' if i % 2 else 'bad'}\t{i % 2}" for i in range(n)]


def test_a_header_and_swapped_columns_are_refused_with_the_layout_that_fits(tmp_path: Path, capsys):
    # without --header, column 0 (the sentences) would be read as labels: a class per row, accuracy 0
    data = tmp_path / "train.tsv"
    data.write_text("\ufeff" + "\n".join(glue_rows()) + "\n", encoding="utf-8")  # with a BOM, as Excel writes
    run = tmp_path / "r"
    assert main(["train", "classify", "--data", str(data), "--out", str(run), "--epochs", "1", *TINY]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "label column 0 has 31 distinct values in 31 rows" in err
    assert "first row looks like a header: pass --header --label-column label --text-column sentence" in err
    # without the header row, the hint names the columns by index
    data.write_text("\n".join(glue_rows()[1:]) + "\n", encoding="utf-8")
    assert main(["train", "classify", "--data", str(data), "--out", str(run), "--epochs", "1", *TINY]) == 2
    assert "column 1 looks like labels: pass --label-column 1 --text-column 0" in capsys.readouterr().err
    # the hint, followed (the BOM does not get in the way of the header's names)
    data.write_text("\ufeff" + "\n".join(glue_rows()) + "\n", encoding="utf-8")
    assert main(["train", "classify", "--data", str(data), "--out", str(run), "--epochs", "1", "--header",
                 "--label-column", "label", "--text-column", "sentence", *TINY]) == 0
    assert classify.load_run(run).classes == ["0", "1"]


def test_a_recipe_with_select_in_data_is_told_where_it_went(tmp_path: Path, capsys):
    recipe = tmp_path / "old.toml"
    recipe.write_text('task = "classify"\n[data]\ndata = "d.tsv"\nselect = "acc"\n', encoding="utf-8")
    assert main(["train", "classify", "--config", str(recipe), "--out", str(tmp_path / "r"), *TINY]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        f"rnnkit: error: recipe {recipe}: 'select' is an option of [train] now, not [data]; move it there")



@pytest.mark.parametrize(("name", "fmt"), [("x.ts", "ts"), ("X_TRAIN.TS", "ts"), ("a.csv", "csv"), ("a.tsv", "tsv"),
                                           ("a.txt", "tsv"), ("wavs.tar.xz", "wav-dir"), ("wavs.zip", "wav-dir")])
def test_format_auto_is_read_from_the_data_path(name, fmt, tmp_path):
    assert cd.detect_format(name) == fmt
    assert cd.detect_format(str(tmp_path)) == "wav-dir"  # a directory: WAVs


def test_format_auto_reads_a_ts_file_without_being_told(data_dir, tmp_path):
    ts = data_dir / "ucr-uea" / "JapaneseVowels" / "JapaneseVowels_TRAIN.ts"
    if not ts.exists():
        pytest.skip(f"{ts} not found")
    run = tmp_path / "run"
    assert main(["train", "classify", "--data", str(ts), "--out", str(run), "--max-steps", "2", "--eval-every", "2",
                 "--hidden-size", "8", "--threads", "1", "--no-progress"]) == 0
    assert json.loads((run / "config.json").read_text())["data"]["format"] == "ts"  # the run saves what it read
