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
