"""`rnnkit export` and `rnnkit predict --onnx` from the command line, and their errors."""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import pytest

from rnnkit.cli import main
from rnnkit.export import ExportedGraph
from rnnkit.training import checkpoint
from tests.export.conftest import DATA


def _lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _one_error(capsys) -> str:
    err = capsys.readouterr().err
    assert err.startswith("rnnkit: error: ") and len(err.strip().splitlines()) == 1, err
    return err


def test_classify_export_and_predict_onnx(classify_run, capsys):
    assert main(["export", str(classify_run)]) == 0
    out = capsys.readouterr().out
    assert f"wrote {classify_run / 'model.onnx'}" in out and "labels identical: 40/40" in out
    umask = os.umask(0o022)
    os.umask(umask)  # written as open() would have: readable by others under the usual umask, not mkstemp's 0600
    assert stat.S_IMODE((classify_run / "model.onnx").stat().st_mode) == 0o666 & ~umask
    dev = DATA / "sentiment" / "stsa.binary.dev"
    assert main(["predict", str(classify_run), "--data", str(dev)]) == 0
    torch_records = _lines(capsys.readouterr().out)
    assert main(["predict", str(classify_run), "--data", str(dev), "--onnx"]) == 0
    onnx_records = _lines(capsys.readouterr().out)
    assert len(onnx_records) == len(torch_records) == 872
    assert [r["label"] for r in onnx_records] == [r["label"] for r in torch_records]
    worst = max(abs(a["probabilities"][c] - b["probabilities"][c])
                for a, b in zip(onnx_records, torch_records) for c in a["probabilities"])
    assert worst <= 2e-6  # probabilities are written rounded to 6 decimals


def test_tag_predict_onnx_same_tags(tag_run, tmp_path, capsys):
    out = tmp_path / "tagger.onnx"
    assert main(["export", str(tag_run), "--out", str(out), "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["files"] == {"model": str(out)} and res["identical"] == {"tags": [30, 30]}
    assert res["scaled_diff"] < 1e-4
    texts = ["EU rejects German call to boycott British lamb .", "Peter Blackburn", "BRUSSELS 1996-08-22", ""]
    assert main(["predict", str(tag_run), *texts]) == 0
    want = _lines(capsys.readouterr().out)
    assert main(["predict", str(tag_run), *texts, f"--onnx={out}"]) == 0
    assert _lines(capsys.readouterr().out) == want
    assert main(["predict", str(tag_run), "x", "--onnx"]) == 2  # no model.onnx in the run directory
    assert "rnnkit export" in _one_error(capsys)


def test_bad_inputs_one_clear_line(classify_run, tag_run, tmp_path, capsys):
    assert main(["export", str(classify_run), "--format", "tflite"]) == 2
    assert "--format: expected one of onnx, pt2, got 'tflite'" in _one_error(capsys)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["export", str(empty)]) == 2
    assert "holds no checkpoint" in _one_error(capsys)
    for name in ("best.pt", "config.json"):
        assert main(["export", str(classify_run), "--out", str(classify_run / name)]) == 2
        assert "would replace the run's own" in _one_error(capsys)
    assert main(["export", str(classify_run), "--out", str(tmp_path / "m.pt2")]) == 2
    assert "a onnx export is written to a .onnx file" in _one_error(capsys)
    assert main(["export", str(classify_run), "--exporter", "jit"]) == 2
    assert "--exporter: expected one of legacy, dynamo" in _one_error(capsys)
    # an export of another run is refused by predict --onnx
    other = tmp_path / "tag.onnx"
    assert main(["export", str(tag_run), "--out", str(other)]) == 0
    capsys.readouterr()
    assert main(["predict", str(classify_run), "a fine film", f"--onnx={other}"]) == 2
    assert "is an export of a 'tag' run" in _one_error(capsys)
    assert main(["predict", str(classify_run), "--onnx", "a fine film"]) == 2
    assert "expected an .onnx file" in _one_error(capsys)


def test_stale_export_refused(classify_run, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(classify_run, run)
    assert main(["export", str(run)]) == 0
    capsys.readouterr()
    # the run's selected checkpoint changes (trained on): its export no longer describes it
    used = Path(ExportedGraph(run / "model.onnx").meta["checkpoint"])
    assert used.parent == run
    ckpt = checkpoint.load(used)
    ckpt["model"]["out.bias"] = ckpt["model"]["out.bias"] + 1.0
    checkpoint.save_atomic(ckpt, used)
    assert main(["predict", str(run), "a fine film", "--onnx"]) == 2
    assert "was exported from another checkpoint" in _one_error(capsys)


def test_dynamo_exporter(classify_run, tmp_path, capsys):
    """The recurrence as an ONNX Scan (the same graphs as the pt2 exports, which test every task)."""
    out = tmp_path / "m.onnx"
    assert main(["export", str(classify_run), "--exporter", "dynamo", "--out", str(out), "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["exporter"] == "dynamo" and res["scaled_diff"] < 1e-4 and res["identical"] == {"labels": [40, 40]}
    import onnx

    assert "Scan" in {n.op_type for n in onnx.load(str(out)).graph.node}


@pytest.mark.parametrize("problem", ["adding", "copy", "seqdigits"])
def test_memory_problems(problem, tmp_path, capsys):
    if problem == "seqdigits":
        pytest.importorskip("sklearn")
    extra = ["--lag", "8"] if problem != "seqdigits" else []
    run = tmp_path / "run"
    assert main(["train", problem, *extra, "--hidden-size", "8", "--max-steps", "2", "--eval-every", "2",
                 "--no-progress", "--threads", "1", "--out", str(run)]) == 0
    capsys.readouterr()
    for fmt in ("onnx", "pt2"):
        assert main(["export", str(run), "--format", fmt, "--json", "--limit", "8"]) == 0
        res = json.loads(capsys.readouterr().out)
        assert res["files"] == {"model": str(run / f"model.{fmt}")} and res["scaled_diff"] < 1e-4
        assert all(a == b for a, b in res["identical"].values())


def test_failed_check_writes_nothing(classify_run, tmp_path, capsys):
    out = tmp_path / "m.onnx"
    out.write_bytes(b"previous export")
    assert main(["export", str(classify_run), "--out", str(out), "--tolerance", "-1"]) == 2
    assert "does not reproduce the PyTorch model" in _one_error(capsys)
    assert out.read_bytes() == b"previous export" and sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx"]
