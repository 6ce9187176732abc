"""The compiled time loop (rnnkit/backends/csrc/loops.cpp): it builds, runs by default where it applies,
gives the Python loop's numbers, and a machine that can't build it falls back loudly."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
import torch

import rnnkit
from rnnkit.backends import compiled
from tests.conftest import rel_err, weighted_sum

needs_compiler = pytest.mark.skipif(shutil.which(os.environ.get("CXX") or "c++") is None,
                                    reason="no C++ compiler (c++ or $CXX): the compiled time loop can't be built")


def _run(layer, x, lengths=None):
    torch.manual_seed(0)
    out, state = layer(x, lengths=lengths)
    parts = state if isinstance(state, tuple) else (state,)
    grads = torch.autograd.grad(weighted_sum([out, *parts]), [x, *layer.parameters()])
    return [out, *parts, *grads]


@needs_compiler
@pytest.mark.parametrize("use_lengths", [False, True])
@pytest.mark.parametrize("recurrent_dropout, zoneout", [(0.0, 0.0), (0.3, 0.0), (0.3, 0.2)])
@pytest.mark.parametrize("kind", ["LSTM", "GRU", "LayerNormLSTM", "PeepholeLSTM", "LayerNormGRU", "IndRNN",
                                  "IndRNN-tanh"])
def test_compiled_and_python_loops_agree(kind, recurrent_dropout, zoneout, use_lengths):
    """float64: the same numbers (1e-12); float32: about as close to the float64 result as the Python loop."""
    assert compiled.load(), "the compiled time loop did not build on a machine with a compiler"
    torch.manual_seed(0)
    kind, _, act = kind.partition("-")
    kw = {"nonlinearity": act} if act else {}
    layer = getattr(rnnkit, kind)(5, 7, num_layers=2, bidirectional=True, batch_first=True, backend="fused",
                                  dtype=torch.float64, recurrent_dropout=recurrent_dropout, zoneout=zoneout, **kw)
    x = torch.randn(4, 9, 5, dtype=torch.float64, requires_grad=True)
    lengths = torch.tensor([9, 4, 6, 1]) if use_lengths else None
    if kind == "PeepholeLSTM":  # away from their zero init, so that they matter
        with torch.no_grad():
            for c in layer.cells:
                c.weight_ch.normal_()
    fast = _run(layer, x, lengths)
    with compiled.disabled():
        slow = _run(layer, x, lengths)
    for a, b in zip(fast, slow):
        assert rel_err(a, b) <= 1e-12
    layer.float()
    x32 = x.detach().float().requires_grad_()
    fast32 = _run(layer, x32, lengths)
    with compiled.disabled():
        slow32 = _run(layer, x32, lengths)
    for a, b, truth in zip(fast32, slow32, fast):
        err, python_err = rel_err(a.double(), truth), rel_err(b.double(), truth)
        # the exact agreement is the float64 check above; here float32 rounding only (a wrong formula is O(1))
        assert err <= max(5 * python_err, 5e-4), (err, python_err)


@needs_compiler
def test_the_compiled_loop_runs_by_default(monkeypatch):
    """auto sends a training GRU at a small size to the fused backend, whose loop is then the compiled one."""
    assert compiled.load()
    calls = []
    real = compiled.ops()

    class Spy:
        def __getattr__(self, name):
            calls.append(name)
            return getattr(real, name)

    monkeypatch.setattr(compiled, "ops", lambda: Spy())
    gru = rnnkit.GRU(3, 8, batch_first=True)
    out, _ = gru(torch.randn(2, 5, 3))
    out.sum().backward()
    assert gru.backend_used == "fused" and calls == ["gru_forward", "gru_backward"]
    lstm_ops, gru_ops = ["lstm_forward", "lstm_backward"], ["gru_forward", "gru_backward"]
    for layer, ops in [
        (rnnkit.LSTM(3, 8, batch_first=True, backend="fused"), lstm_ops),
        (rnnkit.LayerNormLSTM(3, 8, batch_first=True, recurrent_dropout=0.2), ["lnlstm_forward", "lnlstm_backward"]),
        (rnnkit.LayerNormGRU(3, 8, batch_first=True), ["lngru_forward", "lngru_backward"]),
        (rnnkit.PeepholeLSTM(3, 8, batch_first=True), lstm_ops),
        (rnnkit.GRU(3, 8, batch_first=True, backend="fused", zoneout=0.1), gru_ops),
        (rnnkit.IndRNN(3, 8, batch_first=True, recurrent_dropout=0.2), ["indrnn_forward", "indrnn_backward"]),
        (rnnkit.LSTM(3, 8, batch_first=True, backend="fused", zoneout=0.1, recurrent_dropout=0.2), lstm_ops),
    ]:
        calls.clear()
        layer(torch.randn(2, 5, 3))[0].sum().backward()
        assert calls == ops, (layer, calls)
    calls.clear()
    # a projection keeps the Python loop
    proj = rnnkit.LSTM(3, 8, batch_first=True, backend="fused", proj_size=4)
    proj(torch.randn(2, 5, 3))[0].sum().backward()
    assert calls == []


_PROBE = """
import warnings, torch, rnnkit
from rnnkit.backends import compiled
with warnings.catch_warnings(record=True) as w:
    warnings.simplefilter("always")
    gru = rnnkit.GRU(3, 4, backend="fused")
    out, _ = gru(torch.randn(5, 2, 3))
    out.sum().backward()
print("LOADED", compiled.load())
print("WARNED", [str(x.message) for x in w if isinstance(x.message, rnnkit.BackendFallbackWarning)])
"""


def _probe(tmp_path, **env):
    e = {**os.environ, "RNNKIT_CACHE": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1", **env}
    return subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, env=e, timeout=300)


def test_a_machine_that_cannot_build_it_falls_back_loudly_once(tmp_path):
    first = _probe(tmp_path, CXX=str(tmp_path / "no-such-compiler"))
    assert first.returncode == 0, first.stderr
    assert "LOADED False" in first.stdout
    assert "compiled time loop is unavailable" in first.stdout and "no-such-compiler" in first.stdout
    assert "compiling the C++ time loop" in first.stderr           # announced, never silent
    again = _probe(tmp_path, CXX=str(tmp_path / "no-such-compiler"))
    assert "LOADED False" in again.stdout and "rnnkit build-loops retries" in again.stdout
    assert "compiling the C++ time loop" not in again.stderr       # the failure is remembered


def test_it_can_be_turned_off_or_limited_to_a_prebuilt_library(tmp_path):
    off = _probe(tmp_path, RNNKIT_COMPILED="0")
    assert "LOADED False" in off.stdout and "WARNED []" in off.stdout and "compiling" not in off.stderr
    pre = _probe(tmp_path, RNNKIT_COMPILED="prebuilt")
    assert "LOADED False" in pre.stdout and "WARNED []" in pre.stdout and "compiling" not in pre.stderr


@needs_compiler
def test_build_loops_command(tmp_path, monkeypatch, capsys):
    from rnnkit.cli import main

    assert compiled.load()
    assert main(["build-loops"]) == 0
    assert "already built for this machine" in capsys.readouterr().out
    monkeypatch.setenv("RNNKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("CXX", str(tmp_path / "no-such-compiler"))
    assert main(["build-loops"]) == 2
    err = capsys.readouterr().err
    assert "did not build; the Python loop keeps running" in err and "no-such-compiler" in err
