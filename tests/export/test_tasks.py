"""`rnnkit export RUN` for every task: the files, their inputs and outputs, and the check against PyTorch."""

from __future__ import annotations

import pytest

from rnnkit.export import ExportedGraph, export_run


def _check(res, task: str, graphs: set[str]) -> None:
    assert res.task == task and set(res.paths) == graphs
    assert all(p.is_file() for p in res.paths.values())
    assert res.report.scaled < 1e-4 and res.report.identical
    assert res.report.diffs and all(k.split(".")[0] in graphs for k in res.report.diffs)


@pytest.mark.parametrize("fmt", ["onnx", "pt2"])
def test_classify(classify_run, tmp_path, fmt):
    res = export_run(classify_run, fmt, tmp_path / f"m.{fmt}")
    _check(res, "classify", {"model"})
    assert res.report.same["labels"] == (40, 40)
    g = ExportedGraph(res.paths["model"])
    assert g.meta["classes"] == ["0", "1"] and g.inputs == ["x", "lengths"]


@pytest.mark.parametrize("fmt", ["onnx", "pt2"])
def test_tag(tag_run, tmp_path, fmt):
    res = export_run(tag_run, fmt, tmp_path / f"m.{fmt}")
    _check(res, "tag", {"model"})
    assert res.report.same["tags"] == (30, 30)
    meta = ExportedGraph(res.paths["model"]).meta
    assert meta["scheme"] == "bioes" and len(meta["crf"]["trans"]) == len(meta["tags"])


@pytest.mark.parametrize("fmt", ["onnx", "pt2"])
def test_lm(lm_run, tmp_path, fmt):
    res = export_run(lm_run, fmt, tmp_path / f"m.{fmt}")
    _check(res, "lm", {"encoder", "decoder"})
    assert [p.name for p in res.paths.values()] == [f"m.encoder.{fmt}", f"m.decoder.{fmt}"]
    assert ExportedGraph(res.paths["decoder"]).inputs == ["token", "h", "c"]


@pytest.mark.parametrize("fmt", ["onnx", "pt2"])
def test_translate(translate_run, tmp_path, fmt):
    res = export_run(translate_run, fmt, tmp_path / f"m.{fmt}")
    _check(res, "translate", {"encoder", "decoder"})
    assert res.report.same["greedy tokens"] == (30, 30)
    enc = ExportedGraph(res.paths["encoder"])
    assert enc.inputs == ["src", "lengths"] and enc.meta["outputs"] == ["keys", "mask", "prepared", "h", "c"]


@pytest.mark.parametrize("fmt", ["onnx", "pt2"])
def test_caption(caption_run, tmp_path, fmt):
    res = export_run(caption_run, fmt, tmp_path / f"m.{fmt}")
    _check(res, "caption", {"encoder", "decoder"})
    assert ExportedGraph(res.paths["decoder"]).meta["inputs"] == ["y_prev", "keys", "mask", "prepared", "h", "c",
                                                                  "feed"]


@pytest.mark.parametrize("fmt", ["onnx", "pt2"])
def test_forecast(forecast_run, tmp_path, fmt):
    res = export_run(forecast_run, fmt, tmp_path / f"m.{fmt}")
    _check(res, "forecast", {"model"})
    assert set(res.report.diffs) == {"model.mu", "model.sigma"}


def test_series_classifier_and_softmax_tagger(tmp_path):
    """Feature inputs (normalised inside the graph) through the conv front end with downsampling (lengths shrink
    inside the graph), a unidirectional GRU read at its last step; a POS tagger without CRF or character features."""
    from rnnkit.cli import main
    from tests.export.conftest import _data, _sentences

    jv = _data("ucr-uea", "JapaneseVowels", "JapaneseVowels_TRAIN.ts")
    src = jv.read_text(encoding="utf-8").splitlines(keepends=True)
    data_at = next(i for i, line in enumerate(src) if line.strip().lower() == "@data")
    small = tmp_path / "small.ts"  # the header and the first 4 recordings of every speaker (30 each, in order)
    small.write_text("".join(src[: data_at + 1] + [src[data_at + 1 + 30 * k + j] for k in range(9)
                                                   for j in range(4)]), encoding="utf-8")
    run = tmp_path / "jv"
    assert main(["train", "classify", "--data", str(small), "--format", "ts", "--valid-fraction", "0.25", "--cell",
                 "gru", "--no-bidirectional", "--pooling", "last", "--frontend", "conv", "--downsample", "2",
                 "--hidden-size", "8", "--epochs", "1", "--no-progress", "--threads", "1", "--out", str(run)]) == 0
    res = export_run(run, "onnx", tmp_path / "jv.onnx", data=str(small))
    _check(res, "classify", {"model"})
    assert res.report.same["labels"] == (36, 36)
    assert ExportedGraph(res.paths["model"]).meta["input_kind"] == "features"

    ud = _data("ud-english-ewt", "en_ewt-ud-train.conllu.gz")
    train = _sentences(ud, tmp_path / "train.conllu.gz", 60)
    run = tmp_path / "pos"
    assert main(["train", "tag", "--data", str(train), "--valid", str(train), "--format", "conllu", "--no-crf",
                 "--no-char-features", "--casing-size", "0", "--cell", "rnn", "--hidden-size", "8",
                 "--word-embed-size", "8", "--epochs", "1", "--no-progress", "--threads", "1", "--out", str(run)]) == 0
    res = export_run(run, "onnx", tmp_path / "pos.onnx")
    _check(res, "tag", {"model"})
    graph = ExportedGraph(res.paths["model"])
    assert graph.inputs == ["words", "lengths"] and graph.meta["crf"] is None and res.report.same["tags"] == (60, 60)
