"""``rnnkit train tag`` end to end on slices of real data (CoNLL-2003, UD English-EWT), predict, bad input."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from rnnkit import cli
from rnnkit.data import tagschemes
from rnnkit.errors import RnnkitError
from rnnkit.tasks import tag

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny tensors: see tests/conftest.py

SMALL = ["--hidden-size", "24", "--word-embed-size", "16", "--char-embed-size", "8", "--char-hidden-size", "8",
         "--threads", "1", "--no-progress", "--lr", "0.01", "--batch-size", "8"]


def _slice(src: Path, dst: Path, sentences: int, skip: int = 0) -> Path:
    """The sentences ``skip .. skip + sentences`` of a real file (blank-line separated), gzip kept."""
    opener = gzip.open if src.suffix == ".gz" else open
    with opener(src, "rt", encoding="utf-8") as f:
        blocks = f.read().strip("\n").split("\n\n")
    blocks = [b for b in blocks if not b.startswith("-DOCSTART-")][skip : skip + sentences]
    with (gzip.open if dst.suffix == ".gz" else open)(dst, "wt", encoding="utf-8") as f:
        f.write("\n\n".join(blocks) + "\n\n")
    return dst


def test_conll2003_ner_end_to_end(data_dir, tmp_path):
    src = data_dir / "conll2003"
    train = _slice(src / "eng.train", tmp_path / "train.conll", 200)
    valid = _slice(src / "eng.testa", tmp_path / "valid.conll", 60)
    test = _slice(src / "eng.testb", tmp_path / "test.conll", 60)
    run = tmp_path / "run"
    code = cli.main(["train", "tag", "--data", str(train), "--valid", str(valid), "--test", str(test),
                     "--format", "conll", "--scheme", "bioes", "--crf", "--char-features", "--epochs", "3",
                     "--out", str(run), *SMALL])
    assert code == 0
    for name in ("config.json", "metrics.jsonl", "best.pt", "last.pt", "metrics.json"):
        assert (run / name).is_file(), name
    assert not (run / "best-score.pt").exists()  # one best.pt, picked by F1: no copy of its own
    scores = json.loads((run / "metrics.json").read_text())
    assert scores["scheme"] == "bioes" and scores["checkpoint"] == "best.pt"
    assert json.loads((run / "config.json").read_text())["train"]["select"] == "f1"
    assert set(scores["test"]["per_type"]) <= {"PER", "ORG", "LOC", "MISC"}
    assert scores["test"]["f1"] > 10  # a model that tags nothing scores 0
    valid_f1 = [r["f1"] for r in map(json.loads, (run / "metrics.jsonl").read_text().splitlines())
                if r.get("split") == "valid"]
    assert len(valid_f1) == 3
    # best.pt holds the epoch with the best validation F1; evaluate() scores any checkpoint on a file
    assert tag.evaluate(run, valid)["f1"] == pytest.approx(max(valid_f1))
    last = tag.evaluate(run / "last.pt", valid)
    assert last["checkpoint"].endswith("last.pt") and last["f1"] == pytest.approx(valid_f1[-1])

    out = list(tag.predict(run, ["Peter Blackburn visited Germany .", "", "EU rejects German call"]))
    assert [len(o["tags"]) for o in out] == [5, 0, 4]
    for o in out:
        assert tagschemes.is_valid(o["tags"], "bioes")  # constrained Viterbi
        assert o["spans"] == tag.spans(o["tokens"], o["tags"], "bioes")
        for s in o["spans"]:
            assert s["text"] == " ".join(o["tokens"][s["start"] : s["end"]])


def test_ud_upos_end_to_end(data_dir, tmp_path):
    src = data_dir / "ud-english-ewt"
    train = _slice(src / "en_ewt-ud-train.conllu.gz", tmp_path / "train.conllu.gz", 300)
    dev = _slice(src / "en_ewt-ud-dev.conllu.gz", tmp_path / "dev.conllu.gz", 60)
    summary = tag.train(tmp_path / "run", _configs(train, dev, dev, fmt="conllu", crf=False, epochs=4,
                                                   select="loss"))
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["checkpoint"] == "best.pt"
    valid = [json.loads(r) for r in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
             if json.loads(r).get("split") == "valid"]
    assert summary["select"] == "loss" and summary["best"]["loss"] == min(r["loss"] for r in valid)
    # the most frequent tag (NOUN) is about 17% of the words
    assert summary["test"]["acc"] > 40
    out = next(tag.predict(tmp_path / "run", ["The cat sat on the mat ."]))
    assert len(out["tags"]) == 7 and out["spans"] == []
    assert set(out["tags"]) <= set(tag.load_run(tmp_path / "run")[1].tags)


def _configs(train: Path, valid: Path, test: Path | None, fmt: str = "conll", crf: bool = True,
             epochs: int = 1, select: str = "auto", **data: object) -> dict:
    from rnnkit.models.tagger import TaggerConfig
    from rnnkit.training import TrainConfig

    return {"data": tag.TagDataConfig(data=str(train), valid=str(valid), test=str(test) if test else None,
                                      format=fmt, batch_size=8, **data),
            "model": TaggerConfig(hidden_size=24, word_embed_size=16, char_embed_size=8, char_hidden_size=8,
                                  crf=crf),
            "train": TrainConfig(epochs=epochs, lr=0.01, threads=1, progress=False, select=select)}


def test_unknown_tags_at_evaluation_are_noted_and_scored_as_misses(tmp_path, capsys):
    train = tmp_path / "train.conll"
    train.write_text("Paris I-LOC\nis O\nnice O\n\nBob I-PER\nsings O\n\n", encoding="utf-8")
    valid = tmp_path / "valid.conll"
    valid.write_text("Acme I-ORG\nsings O\n\nParis I-LOC\nsleeps O\n\n", encoding="utf-8")
    summary = tag.train(tmp_path / "run", _configs(train, valid, valid, epochs=2), quiet=True)
    err = capsys.readouterr().err
    assert "tag(s) of the validation file are not among the training tags, e.g. 'S-ORG' at" in err
    assert "valid.conll:1" in err
    assert summary["test"]["recall"] <= 50  # the ORG entity can never be found


@pytest.mark.parametrize("train_text, extra, match", [
    ("EU I-ORG\n\nPeter B-PER\n\n", {}, r"train.conll:3: mixed tag schemes"),
    ("EU NOUN\nrejects VERB\n\n", {"scheme": "bio"}, r"no B-/I- prefixes .* use --scheme none"),
    ("EU I-ORG\nrejects O\n\n", {"scheme": "none"}, r"chunk tags \(IOB1\); train them as --scheme bio or bioes"),
    ("EU S-ORG\nrejects O\n\n", {"input_scheme": "iob1"}, r"--input-scheme iob1 but the file holds BIOES tags"),
])
def test_bad_tags_are_one_line_errors(tmp_path, train_text, extra, match):
    train = tmp_path / "train.conll"
    train.write_text(train_text, encoding="utf-8")
    with pytest.raises(RnnkitError, match=match):
        tag.train(tmp_path / "run", _configs(train, train, None, **extra), quiet=True)


def test_option_errors(tmp_path):
    f = tmp_path / "a.conll"
    f.write_text("EU I-ORG\n\n", encoding="utf-8")
    with pytest.raises(RnnkitError, match="--tag-column 'last': a CoNLL-U file has the tag columns upos and xpos"):
        tag.train(tmp_path / "run", _configs(f, f, None, fmt="conllu", tag_column="last"))
    with pytest.raises(RnnkitError, match="1 sentence\\(s\\) is too few to hold out a validation share; give --valid"):
        tag.train(tmp_path / "run", {**_configs(f, f, None), "data": tag.TagDataConfig(data=str(f))})
    with pytest.raises(RnnkitError, match="holds no checkpoint|no such directory"):
        list(tag.predict(tmp_path / "nothing", ["a b"]))


def test_a_conllu_file_takes_its_tag_columns_without_format_conllu(tmp_path: Path):
    # the file is detected as CoNLL-U, so --tag-column xpos needs no --format conllu
    data = tmp_path / "train.conllu"
    data.write_text("# sent_id = 1\n1\tGo\tgo\tVERB\tVB\t_\t0\troot\t_\t_\n\n", encoding="utf-8")
    d = tag.TagDataConfig(data=str(data), valid=str(data), tag_column="xpos")
    tag.check_data_config(d)
    assert tag.read_tagged(str(data), d, None)[0][0].tags == ["VB"]
    with pytest.raises(RnnkitError, match="names a CoNLL-U column; give --format conllu"):
        tag.check_data_config(tag.TagDataConfig(data=str(tmp_path / "train.txt"), valid="v", tag_column="xpos"))


def test_without_valid_a_seeded_share_of_the_training_sentences_is_held_out(tmp_path: Path, capsys):
    from rnnkit import cli

    data = tmp_path / "train.conll"
    names = [f"W{chr(97 + i)}" for i in range(20)]  # letters: --zeros would map digits together
    data.write_text("".join(f"{n} I-PER\nruns O\n\n" for n in names), encoding="utf-8")
    runs_held = []
    for name in ("a", "b"):
        run = tmp_path / name
        assert cli.main(["train", "tag", "--data", str(data), "--epochs", "1", "--valid-fraction", "0.2",
                         "--out", str(run), *SMALL]) == 0
        err = capsys.readouterr().err
        assert f"no --valid: 4 of the 20 sentences of {data} held out for validation" in err
        assert "16 / 4 train / valid sentences" in err
        runs_held.append([int(v) for v in (run / "valid-sentences.txt").read_text().split()])
    assert runs_held[0] == runs_held[1] and len(set(runs_held[0])) == 4 and all(1 <= i <= 20 for i in runs_held[0])
    # the held-out sentences are not trained on: their words are unknown to the encoder
    enc = tag.load_run(tmp_path / "a")[1]
    words = set(enc.words)
    assert all((names[i - 1].lower() in words) != (i in runs_held[0]) for i in range(1, 21))
