"""Each backend provably runs when chosen; unavailable ones fall back loudly."""

from __future__ import annotations

import warnings

import pytest
import torch

import rnnkit
from rnnkit.backends.select import choose
from rnnkit.cells import Cell


def grad_fn_names(t: torch.Tensor, depth: int = 12) -> set[str]:
    """Names of the autograd nodes near the output."""
    names, frontier = set(), [t.grad_fn]
    for _ in range(depth):
        nxt = []
        for fn in frontier:
            if fn is None:
                continue
            names.add(type(fn).__name__)
            nxt += [f for f, _ in fn.next_functions]
        frontier = nxt
    return names


@pytest.mark.parametrize("cls", [rnnkit.RNN, rnnkit.LSTM, rnnkit.GRU])
def test_fused_backend_runs_our_bptt(cls):
    layer = cls(4, 5, backend="fused")
    out, _ = layer(torch.randn(3, 2, 4))
    assert layer.backend_used == "fused"
    assert "FusedBPTTBackward" in grad_fn_names(out)


@pytest.mark.parametrize("cls", [rnnkit.LSTM, rnnkit.PeepholeLSTM, rnnkit.RNN])
def test_fused_bias_gradients_are_one_sum_in_two_tensors(cls):
    # b_ih and b_hh get the same gradient (LSTM, peephole LSTM, Elman), summed once: still two
    # tensors, so that accumulating into one of them never changes the other
    torch.manual_seed(0)
    layer = cls(4, 5, backend="fused")
    ref = cls(4, 5, backend="reference")
    ref.load_state_dict(layer.state_dict())
    x = torch.randn(6, 3, 4)
    for m in (layer, ref):
        m(x)[0].pow(2).sum().backward()
    grads = dict(layer.named_parameters())
    ref_grads = dict(ref.named_parameters())
    ih, hh = [n for n in grads if "bias_ih" in n][0], [n for n in grads if "bias_hh" in n][0]
    gi, gh = grads[ih].grad, grads[hh].grad
    assert gi is not gh and gi.data_ptr() != gh.data_ptr()
    assert torch.allclose(gi, ref_grads[ih].grad, atol=1e-5) and torch.allclose(gh, ref_grads[hh].grad, atol=1e-5)
    layer(x)[0].sum().backward()       # a second backward accumulates into each separately
    gi.zero_()
    assert gh.abs().sum() > 0


@pytest.mark.parametrize("cls", [rnnkit.RNN, rnnkit.LSTM, rnnkit.GRU])
def test_native_backend_runs_torch_kernel(cls, monkeypatch):
    from rnnkit.backends import native

    layer = cls(4, 5, backend="native")
    kernels, steps = [], []
    orig_run, cell = native.run, layer._defs[0]
    orig_step = type(cell).step_with
    monkeypatch.setattr(native, "run", lambda mode, *a: kernels.append(mode) or orig_run(mode, *a))
    monkeypatch.setattr(type(cell), "step_with", lambda self, *a: steps.append(1) or orig_step(self, *a))
    out, _ = layer(torch.randn(3, 2, 4))
    assert layer.backend_used == "native"
    assert kernels == [layer.kind if layer.kind != "elman" else "elman-tanh"] and steps == []
    assert "FusedBPTTBackward" not in grad_fn_names(out)
    if cls is rnnkit.LSTM:  # oneDNN's fused LSTM node: no per-gate autograd nodes at all
        assert not {"SigmoidBackward0", "TanhBackward0"} & grad_fn_names(out)


@pytest.mark.parametrize("cls", [rnnkit.RNN, rnnkit.LSTM, rnnkit.GRU])
def test_reference_backend_runs_the_step_loop(cls, monkeypatch):
    layer = cls(4, 5, backend="reference")
    calls = []
    cell = layer._defs[0]
    orig = type(cell).step_with
    monkeypatch.setattr(type(cell), "step_with", lambda self, *a: calls.append(1) or orig(self, *a))
    out, _ = layer(torch.randn(3, 2, 4))
    assert layer.backend_used == "reference" and len(calls) == 3
    assert "FusedBPTTBackward" not in grad_fn_names(out)


def test_backend_is_overridable_after_construction():
    layer = rnnkit.GRU(4, 5)
    assert layer.backend == "auto"
    layer.backend = "reference"
    layer(torch.randn(3, 2, 4))
    assert layer.backend_used == "reference"


class Doubler(Cell):
    """A user cell: h_t = tanh(x_t W + 2 h_{t-1})."""

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        self.proj = torch.nn.Linear(input_size, hidden_size)

    def project(self, x):
        return self.proj(x)

    def step(self, xp_t, h):
        h = torch.tanh(xp_t + 2 * h)
        return h, h


def test_user_cell_asking_for_fused_falls_back_with_a_warning():
    layer = rnnkit.Recurrent(Doubler(3, 4), backend="fused")
    with pytest.warns(rnnkit.BackendFallbackWarning, match="reference"):
        layer(torch.randn(2, 1, 3))
    assert layer.backend_used == "reference"


def test_user_cell_asking_for_native_falls_back_with_a_warning():
    layer = rnnkit.Recurrent(Doubler(3, 4), backend="native")
    with pytest.warns(rnnkit.BackendFallbackWarning, match="native"):
        layer(torch.randn(2, 1, 3))
    assert layer.backend_used == "reference"


def test_builtin_cell_in_recurrent_runs_fused_and_native_falls_back_to_fused():
    layer = rnnkit.Recurrent(rnnkit.LSTMCell(3, 4), backend="native")
    with pytest.warns(rnnkit.BackendFallbackWarning):
        layer(torch.randn(2, 1, 3))
    assert layer.backend_used == "fused"
    layer.backend = "auto"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        layer(torch.randn(2, 1, 3))
    assert layer.backend_used == "fused"


def test_auto_rule():
    kw = dict(can_native=True, can_fused=True, device_type="cpu")
    assert choose("auto", kind="lstm", training_grad=True, **kw) == "native"
    # with a projection torch's kernel is its plain loop, not oneDNN's: ruled as the GRU
    assert choose("auto", kind="lstm", training_grad=True, proj_size=32, **kw) == "fused"
    assert choose("auto", kind="lstm", training_grad=False, proj_size=32, **kw) == "native"
    assert choose("auto", kind="gru", training_grad=True, **kw) == "fused"
    assert choose("auto", kind="elman", training_grad=True, **kw) == "fused"
    assert choose("auto", kind="gru", training_grad=False, **kw) == "native"
    assert choose("auto", kind="gru", training_grad=True, step_work=32 * 256 * 256, **kw) == "fused"
    assert choose("auto", kind="gru", training_grad=True, step_work=64 * 512 * 512, **kw) == "native"
    assert choose("auto", kind="gru", training_grad=True, can_native=True, can_fused=True,
                  device_type="cuda") == "native"
    assert choose("auto", kind=None, training_grad=True, can_native=False, can_fused=False,
                  device_type="cpu") == "reference"


def test_auto_picks_per_call_and_reports_it():
    layer = rnnkit.GRU(4, 5)
    layer(torch.randn(3, 2, 4))
    assert layer.backend_used == "fused"
    with torch.no_grad():
        layer(torch.randn(3, 2, 4))
    assert layer.backend_used == "native"


def test_unknown_backend_is_an_error():
    with pytest.raises(ValueError, match="unknown backend 'fast'"):
        rnnkit.LSTM(3, 4, backend="fast")


def _torch_bf16_lstm_runs() -> bool:
    """Whether torch.nn.LSTM itself runs under CPU bf16 autocast here (oneDNN needs bf16 instructions)."""
    try:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            torch.nn.LSTM(4, 5)(torch.randn(3, 2, 4))
    except RuntimeError:
        return False
    return True


def test_autocast_runs_torch_kernel_and_fused_falls_back_loudly():
    x = torch.randn(3, 2, 4)
    lstm = rnnkit.LSTM(4, 5, num_layers=2)
    gru = rnnkit.GRU(4, 5, num_layers=2)
    native_ok = _torch_bf16_lstm_runs()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out, state = lstm(x)
        fell_back = [w for w in caught if issubclass(w.category, rnnkit.BackendFallbackWarning)]
        # where torch's kernel fails (as torch.nn.LSTM does) the layer still runs, and says so
        assert lstm.backend_used == ("native" if native_ok else "reference")
        assert bool(fell_back) == (not native_ok)
        out2, _ = lstm(x, state)  # the state a previous call returned under autocast is accepted
        assert out2.shape == (3, 2, 5)
        gru(x)
        assert gru.backend_used == "native"  # auto never picks fused under autocast
        gru.backend = "fused"
        with pytest.warns(rnnkit.BackendFallbackWarning, match="not under autocast"):
            gru(x)
        assert gru.backend_used == "reference"


def test_native_failure_under_cpu_autocast_falls_back_loudly(monkeypatch):
    lstm = rnnkit.LSTM(4, 5)
    ref = rnnkit.LSTM(4, 5, backend="reference")
    ref.load_state_dict(lstm.state_dict())
    x = torch.randn(3, 2, 4)

    def broken(*a, **k):
        raise RuntimeError("could not create a primitive descriptor for the LSTM forward propagation primitive")

    monkeypatch.setattr(lstm, "native_call", broken)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        with pytest.warns(rnnkit.BackendFallbackWarning, match="cannot run under autocast"):
            out, _ = lstm(x)
        expected, _ = ref(x)
    assert lstm.backend_used == "reference"
    assert torch.equal(out, expected)
    with pytest.raises(RuntimeError, match="primitive descriptor"):
        lstm(x)  # outside autocast a failing kernel is a real error, not hidden
