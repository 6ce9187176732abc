"""`rnnkit train caption` end to end on a few composed images."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from rnnkit.cli import main
from rnnkit.tasks.caption import CaptionDataConfig, CaptionTask, targets, words

pytest.importorskip("sklearn")
pytest.importorskip("sacrebleu")


def test_caption_run_writes_test_metrics(tmp_path: Path, capsys):
    run = tmp_path / "cap"
    assert main(["train", "caption", "--out", str(run), "--train-size", "256", "--valid-size", "40",
                 "--test-size", "40", "--channels", "4", "--hidden-size", "16", "--embed-size", "8",
                 "--max-steps", "8", "--eval-every", "4", "--batch-size", "32", "--beam-size", "2",
                 "--no-progress", "--threads", "1", "--device", "cpu"]) == 0
    recs = [json.loads(r) for r in (run / "metrics.jsonl").read_text().splitlines()]
    test = [r for r in recs if r["split"] == "test"][-1]
    assert {"loss", "exact", "exact_greedy", "bleu", "chrf"} <= set(test)
    assert 0 <= test["exact"] <= 1 and [r["step"] for r in recs if r["split"] == "valid"] == [4, 8]


def test_epochs_draw_fresh_images_and_resume_sees_the_same():
    task = CaptionTask(CaptionDataConfig(train_size=96, valid_size=8, test_size=8, batch_size=32), seed=1)
    first = list(task.batches(0, 0))
    assert len(first) == 3 and first[0][0].shape == (32, 1, 12, 40)
    again = CaptionTask(task.cfg, seed=1)
    assert torch.equal(next(again.batches(0, 2))[0], first[2][0])
    assert not torch.equal(next(task.batches(1, 0))[0], first[0][0])
    y = targets([[3, 1, 4], [0]])
    assert y.shape == (2, 5) and words(y[0].tolist()) == "three one four" and words(y[1].tolist()) == "zero"


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("caption") / "run"
    assert main(["train", "caption", "--out", str(run), "--train-size", "128", "--valid-size", "8",
                 "--test-size", "8", "--channels", "4", "--hidden-size", "16", "--embed-size", "8",
                 "--max-steps", "4", "--eval-every", "4", "--batch-size", "32", "--beam-size", "1",
                 "--no-progress", "--threads", "1", "--device", "cpu"]) == 0
    return run


def test_training_writes_sample_captions_that_rnnkit_caption_reproduces(tiny_run: Path, capsys):
    rows = [r.split("\t") for r in (tiny_run / "samples.txt").read_text().splitlines()]
    assert rows[0] == ["image", "predicted", "reference"] and len(rows) == 6
    refs = {r[0]: r[2] for r in rows[1:]}
    assert all(1 <= len(ref.split()) <= 4 for ref in refs.values())
    images = [str(tiny_run / name) for name in refs]
    capsys.readouterr()
    assert main(["caption", str(tiny_run), *images, "--json"]) == 0
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    # the PNGs hold the validation images exactly (8-bit grey, as the pools' 16 levels): same captions
    assert [o["image"] for o in out] == images and [o["caption"] for o in out] == [r[1] for r in rows[1:]]
    assert main(["caption", str(tiny_run), images[0]]) == 0
    assert capsys.readouterr().out == f"{images[0]}\t{rows[1][1]}\n"


def test_caption_bad_images_are_one_line_errors(tiny_run: Path, tmp_path: Path, capsys):
    from PIL import Image

    Image.new("L", (28, 28)).save(tmp_path / "mnist.png")
    (tmp_path / "notes.png").write_text("not an image")
    for name, said in (("mnist.png", "image is 28x28 pixels"), ("notes.png", "not a readable image"),
                       ("missing.png", "not a readable image")):
        capsys.readouterr()
        assert main(["caption", str(tiny_run), str(tmp_path / name)]) != 0
        err = capsys.readouterr().err.strip()
        assert err.startswith("rnnkit: error:") and said in err and len(err.splitlines()) == 1, err
    # another task's run: that is the error, before any image is opened
    (tmp_path / "lm").mkdir()
    assert main(["caption", str(tmp_path / "lm"), str(tmp_path / "missing.png")]) != 0
    err = capsys.readouterr().err
    assert "not a readable image" not in err and "missing.png" not in err, err


def test_read_image_round_trips_a_composed_image(tmp_path: Path):
    from rnnkit.data import captions

    pools = captions.load_pools(0.1, 0.2, 0)
    x, _ = captions.compose(pools["valid"], 1, torch.Generator().manual_seed(0))
    captions.write_image(tmp_path / "a.png", x[0])
    assert torch.allclose(captions.read_image(tmp_path / "a.png"), x[0], atol=0.5 / 255)


def test_evaluate_scores_captioned_images_by_exact_match(tiny_run: Path, tmp_path: Path, capsys):
    rows = [r.split("\t") for r in (tiny_run / "samples.txt").read_text().splitlines()[1:]]
    data = tmp_path / "caps.tsv"
    # two references the run's samples got right by construction (its own predictions), one made wrong
    wrong = "one one one one" if rows[2][1] != "one one one one" else "two"
    lines = [f"{tiny_run / rows[0][0]}\t{rows[0][1]}", f"{tiny_run / rows[1][0]}\t{rows[1][1]}",
             f"{tiny_run / rows[2][0]}\t{wrong}"]
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    capsys.readouterr()
    assert main(["evaluate", str(tiny_run), "--data", str(data), "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["task"] == "caption" and res["images"] == 3 and res["exact"] == pytest.approx(2 / 3)
    # samples.txt itself (relative image paths, the reference in its last column)
    assert main(["evaluate", str(tiny_run), "--data", str(tiny_run / "samples.txt"), "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["images"] == 5 and res["exact"] == pytest.approx(
        sum(r[1] == r[2] for r in rows) / 5)
    data.write_text(f"{tiny_run / rows[0][0]}\tthree four eleven\n", encoding="utf-8")
    assert main(["evaluate", str(tiny_run), "--data", str(data)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("rnnkit: error:") and "'eleven' is not a digit word" in err and "\n" not in err
