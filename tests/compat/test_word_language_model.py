"""pytorch/examples' word_language_model, end to end, with torch.nn's and with rnnkit's RNN layers.

The example (``word_language_model/{main,model,data}.py`` of pytorch/examples, BSD-3-Clause,
copyright its contributors) is not kept in this repository: each test reads the three files
from a local git checkout of pytorch/examples (``$RNNKIT_EXAMPLES_REPO``, by default the
mirror at ``/work/.mirror/pytorch+examples/repo``), writes them unchanged into a temporary
folder except for model.py, which gets a five-line swap (a comment and four lines) after its imports so that
``nn.LSTM``/``nn.GRU``/``nn.RNN`` are rnnkit's when ``RNNKIT_SWAP=1`` (see :data:`SWAP`), and
runs ``python main.py`` there on a small slice of the Penn Treebank from the shared data
(the first 2,000 lines of train, 300 of valid and of test). It checks: exit code 0 (training,
``torch.save``, the ``torch.load`` under ``torch.serialization.safe_globals`` of main.py, the
ONNX export), the final test-perplexity line, that the saved model's recurrent layer is the
implementation asked for, and, with onnxruntime, that the exported ONNX model gives the
PyTorch model's outputs on one batch to 1e-5 (absolute and relative).
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

REPO = Path(__file__).resolve().parents[2]
PTB = REPO.parent / "shared" / "data" / "ptb"
EXAMPLES = Path(os.environ.get("RNNKIT_EXAMPLES_REPO", "/work/.mirror/pytorch+examples/repo"))
FILES = ("main.py", "model.py", "data.py")
LINES = {"train": 2000, "valid": 300, "test": 300}
BPTT = 10

# inserted after model.py's imports: the only change made to the example
SWAP = """\
# rnnkit compat test (the only change to this file): with RNNKIT_SWAP=1, nn.LSTM/nn.GRU/nn.RNN are rnnkit's
import os, types
if os.environ.get("RNNKIT_SWAP") == "1":
    import rnnkit
    nn = types.SimpleNamespace(**{**vars(nn), "LSTM": rnnkit.LSTM, "GRU": rnnkit.GRU, "RNN": rnnkit.RNN})
"""
SWAP_AFTER = "import torch.nn.functional as F\n"
TEST_PPL = re.compile(r"\| End of training \| test loss\s+[\d.]+ \| test ppl\s+[\d.]+")


def _example_source(name: str) -> str:
    """One file of word_language_model at the checkout's HEAD."""
    out = subprocess.run(["git", "-C", str(EXAMPLES), "show", f"HEAD:word_language_model/{name}"],
                         capture_output=True, text=True, check=True)
    return out.stdout


def _write_example(dst: Path) -> None:
    for name in FILES:
        src = _example_source(name)
        if name == "model.py":
            assert src.count(SWAP_AFTER) == 1, "model.py's imports changed: place the rnnkit swap by hand"
            src = src.replace(SWAP_AFTER, SWAP_AFTER + SWAP, 1)
        (dst / name).write_text(src, encoding="utf-8")


def _write_data(dst: Path) -> None:
    dst.mkdir()
    for split, n in LINES.items():
        with open(PTB / f"ptb.{split}.txt", encoding="utf-8") as f:
            lines = [line for _, line in zip(range(n), f)]
        (dst / f"{split}.txt").write_text("".join(lines), encoding="utf-8")


def _import_model_module(path: Path, swap: bool, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The written model.py as module ``model`` (the name the saved checkpoint refers to)."""
    monkeypatch.setenv("RNNKIT_SWAP", "1" if swap else "0")
    spec = importlib.util.spec_from_file_location("model", path / "model.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "model", module)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("impl", ["torch", "rnnkit"])
@pytest.mark.parametrize("model_type", ["LSTM", "GRU", "RNN_TANH"])
def test_word_language_model(model_type: str, impl: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if not PTB.is_dir():
        pytest.skip(f"shared data not found: {PTB} (the Penn Treebank from shared/data)")
    if not (EXAMPLES / ".git").exists() and not (EXAMPLES / "HEAD").exists():
        pytest.skip(f"no pytorch/examples checkout at {EXAMPLES} (set RNNKIT_EXAMPLES_REPO)")
    _write_example(tmp_path)
    _write_data(tmp_path / "data")
    out_dir = tmp_path / "tmp"
    out_dir.mkdir()
    swap = impl == "rnnkit"
    env = {**os.environ, "RNNKIT_SWAP": "1" if swap else "0", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    cmd = [sys.executable, "main.py", "--data", str(tmp_path / "data"), "--model", model_type,
           "--emsize", "16", "--nhid", "16", "--epochs", "1", "--bptt", str(BPTT), "--batch_size", "8",
           "--save", str(out_dir / "model.pt"), "--onnx-export", str(out_dir / "model.onnx")]
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    log = f"--- stdout ---\n{proc.stdout[-4000:]}\n--- stderr ---\n{proc.stderr[-6000:]}"
    assert proc.returncode == 0, log
    assert TEST_PPL.search(proc.stdout), log

    # the checkpoint holds the implementation asked for, and loads as main.py loads it
    module = _import_model_module(tmp_path, swap, monkeypatch)
    safe = [module.RNNModel, torch.nn.modules.dropout.Dropout, torch.nn.modules.linear.Linear,
            torch.nn.modules.rnn.GRU, torch.nn.modules.rnn.LSTM, torch.nn.modules.rnn.RNN,
            torch.nn.modules.sparse.Embedding]
    with open(out_dir / "model.pt", "rb") as f, torch.serialization.safe_globals(safe):
        model = torch.load(f)
    rnn_module = type(model.rnn).__module__
    assert rnn_module.startswith("rnnkit") if swap else rnn_module.startswith("torch.nn"), rnn_module

    ort = pytest.importorskip("onnxruntime")
    model.eval()
    torch.manual_seed(0)
    ids = torch.randint(model.ntoken, (BPTT, 1))  # main.py exports with batch 1 and seq_len = bptt
    hidden = model.init_hidden(1)
    with torch.no_grad():
        out, hid = model(ids, hidden)
    session = ort.InferenceSession(str(out_dir / "model.onnx"), providers=["CPUExecutionProvider"])
    feeds = [ids] + (list(hidden) if isinstance(hidden, tuple) else [hidden])
    names = [i.name for i in session.get_inputs()]
    assert len(names) == len(feeds), names
    got = session.run(None, {n: t.numpy() for n, t in zip(names, feeds)})
    want = [out] + (list(hid) if isinstance(hid, tuple) else [hid])
    assert len(got) == len(want)
    for g, w in zip(got, want):
        # 1e-5 absolute and relative: the log-probabilities are ~-8, where float32 rounding alone is ~1e-6
        torch.testing.assert_close(torch.from_numpy(g), w, atol=1e-5, rtol=1e-5)
