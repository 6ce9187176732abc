"""Cells: standalone parity with torch.nn.*Cell, hand-written BPTT vs gradcheck, golden values."""

from __future__ import annotations

import inspect
import math

import pytest
import torch

import rnnkit
from rnnkit.backends import fused
from rnnkit.cells import BoundCell, ElmanCell, GRUCell, LSTMCell, RNNCell
from rnnkit.errors import ShapeError
from tests.conftest import rel_err

D64 = torch.float64


def make_cell(kind: str, I: int = 3, H: int = 4, **kw):
    if kind.startswith("elman"):
        return ElmanCell(I, H, nonlinearity=kind.split("-")[1], dtype=D64, **kw)
    if kind == "lstm":
        return LSTMCell(I, H, dtype=D64, **kw)
    if kind == "lstm-proj":
        return LSTMCell(I, H, proj_size=2, dtype=D64, **kw)
    return GRUCell(I, H, dtype=D64, **kw)


KINDS = ["elman-tanh", "elman-relu", "lstm", "lstm-proj", "gru"]


@pytest.mark.parametrize("kind,torch_cls", [("elman-tanh", torch.nn.RNNCell), ("lstm", torch.nn.LSTMCell),
                                            ("gru", torch.nn.GRUCell)])
def test_cell_is_drop_in_for_torch_cell(kind, torch_cls):
    ours = make_cell(kind)
    ref = torch_cls(3, 4, dtype=D64)
    ref.load_state_dict(ours.state_dict())
    x = torch.randn(5, 3, dtype=D64)
    a, b = ours(x), ref(x)
    for p, q in zip(a if isinstance(a, tuple) else (a,), b if isinstance(b, tuple) else (b,)):
        assert rel_err(p, q) <= 1e-12
    # unbatched, and carrying a state
    a2, b2 = ours(x[0], None), ref(x[0])
    assert rel_err(a2[0] if isinstance(a2, tuple) else a2, b2[0] if isinstance(b2, tuple) else b2) <= 1e-12
    a3, b3 = ours(x, a), ref(x, b)
    assert rel_err(a3[0] if isinstance(a3, tuple) else a3, b3[0] if isinstance(b3, tuple) else b3) <= 1e-12


def _fused_fn(cell, batch_sizes, lengths):
    def f(x, *tensors):
        n = len(cell.weight_names)
        w = list(tensors[:n])
        state = tensors[n:]
        if not cell.bias:
            w[1] = w[3] = None
        bound = BoundCell(cell, tuple(w))
        s0 = state[0] if len(state) == 1 else rnnkit.LSTMState(*state)
        out, fin = fused.run(bound, x, s0, lengths, batch_sizes)
        fins = (fin,) if isinstance(fin, torch.Tensor) else tuple(fin)
        return (out, *fins)
    return f


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("use_lengths", [False, True])
@pytest.mark.parametrize("kind", KINDS)
def test_fused_bptt_passes_gradcheck(kind, use_lengths, bias):
    torch.manual_seed(0)
    cell = make_cell(kind, bias=bias)
    T, B = 5, 3
    lengths = torch.tensor([5, 3, 1]) if use_lengths else None
    batch_sizes = [3, 2, 2, 1, 1] if use_lengths else None
    x = torch.randn(T, B, 3, dtype=D64, requires_grad=True)
    weights = [p if p is not None else torch.zeros(1, dtype=D64) for p in cell.weights()]
    weights = [w.detach().clone().requires_grad_(w.numel() > 1) for w in weights]
    if kind == "lstm":
        weights = weights[:4] + [torch.zeros(1, dtype=D64)]
    state = [torch.randn(B, cell.output_size, dtype=D64, requires_grad=True)]
    if kind.startswith("lstm"):
        state.append(torch.randn(B, cell.hidden_size, dtype=D64, requires_grad=True))
    fn = _fused_fn(cell, batch_sizes, lengths)

    def f(x, *rest):
        r = list(rest)
        if kind == "lstm":
            r[4] = None  # no projection
        return fn(x, *r)
    assert torch.autograd.gradcheck(f, (x, *weights, *state), eps=1e-6, atol=1e-7)


@pytest.mark.parametrize("kind", KINDS)
def test_layer_equals_stepping_the_cell_by_hand(kind):
    torch.manual_seed(1)
    cell = make_cell(kind)
    layer = rnnkit.Recurrent(cell, backend="fused")
    x = torch.randn(6, 2, 3, dtype=D64)
    out, fin = layer(x)
    state = cell.initial_state(2, dtype=D64)
    for t in range(6):
        h, state = cell.step(cell.project(x[t]), state)
        assert rel_err(out[t], h) <= 1e-12
    got = fin if isinstance(fin, torch.Tensor) else fin[0]
    want = state if isinstance(state, torch.Tensor) else state[0]
    assert rel_err(got[0], want) <= 1e-12


def test_golden_values_under_constant_init():
    """Hand-computed numbers: weights 0.1, biases 0, input 1, two steps, H = 1."""
    lstm = LSTMCell(1, 1, dtype=D64)
    gru = GRUCell(1, 1, dtype=D64)
    elman = ElmanCell(1, 1, dtype=D64)
    for c in (lstm, gru, elman):
        for n, p in c.named_parameters():
            torch.nn.init.constant_(p, 0.0 if n.startswith("bias") else 0.1)
    x = torch.ones(2, 1, 1, dtype=D64)
    s = torch.sigmoid
    t = torch.tensor
    # LSTM: a = 0.1 x + 0.1 h for every gate
    h = c_ = t(0.0, dtype=D64)
    for _ in range(2):
        a = 0.1 + 0.1 * h
        c_ = s(a) * c_ + s(a) * torch.tanh(a)
        h = s(a) * torch.tanh(c_)
    out, _ = rnnkit.Recurrent(lstm)(x)
    assert abs(float(out[-1].detach()) - float(h)) < 1e-12
    assert abs(float(h) - 0.042655) < 1e-6  # by hand: c1=0.052324 h1=0.027444 c2=0.081325 h2=0.042655
    # GRU: r = z = σ(0.1 + 0.1 h), n = tanh(0.1 + r 0.1 h), h = (1 - z) n + z h
    h = t(0.0, dtype=D64)
    for _ in range(2):
        r = z = s(0.1 + 0.1 * h)
        n = torch.tanh(0.1 + r * 0.1 * h)
        h = (1 - z) * n + z * h
    out, _ = rnnkit.Recurrent(gru)(x)
    assert abs(float(out[-1].detach()) - float(h)) < 1e-12
    # Elman: h1 = tanh(0.1), h2 = tanh(0.1 + 0.1 tanh(0.1))
    out, _ = rnnkit.Recurrent(elman)(x)
    assert abs(float(out[-1].detach()) - math.tanh(0.1 + 0.1 * math.tanh(0.1))) < 1e-12


def test_cell_arguments_are_checked():
    with pytest.raises(ValueError, match="nonlinearity"):
        ElmanCell(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="proj_size"):
        LSTMCell(3, 4, proj_size=4)
    with pytest.raises(ValueError, match="Expected input to be 1D or 2D, got 3D"):
        GRUCell(3, 4)(torch.randn(2, 2, 3))


# -- drop-in for torch.nn.RNNCell / LSTMCell / GRUCell ----------------------------------------

TORCH_PAIRS = [("rnn-tanh", torch.nn.RNNCell), ("rnn-relu", torch.nn.RNNCell), ("lstm", torch.nn.LSTMCell),
               ("gru", torch.nn.GRUCell)]


def pair(kind: str, bias: bool = True, I: int = 3, H: int = 4):
    """An rnnkit cell built with torch's positional arguments, and torch.nn's with the same weights."""
    torch.manual_seed(0)
    if kind.startswith("rnn"):
        nl = kind.split("-")[1]
        ours, ref = RNNCell(I, H, bias, nl, None, D64), torch.nn.RNNCell(I, H, bias, nl, None, D64)
    elif kind == "lstm":
        ours, ref = LSTMCell(I, H, bias, None, D64), torch.nn.LSTMCell(I, H, bias, None, D64)
    else:
        ours, ref = GRUCell(I, H, bias, None, D64), torch.nn.GRUCell(I, H, bias, None, D64)
    ref.load_state_dict(ours.state_dict())
    return ours, ref


def flat(state) -> tuple[torch.Tensor, ...]:
    return (state,) if isinstance(state, torch.Tensor) else tuple(state)


def close(a, b) -> bool:
    return all(p.shape == q.shape and rel_err(p, q) <= 1e-6 for p, q in zip(flat(a), flat(b), strict=True))


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("kind,torch_cls", TORCH_PAIRS)
def test_hx_keyword_as_torch(kind, torch_cls, bias):
    ours, ref = pair(kind, bias)
    x = torch.randn(5, 3, dtype=D64)
    h1, r1 = ours(x), ref(x)
    assert close(h1, r1)
    assert close(ours(x, hx=h1), ref(x, hx=r1))
    assert close(ours(input=x, hx=h1), ref(input=x, hx=r1))
    assert close(ours(x, hx=None), ref(x, hx=None))
    # a plain (h, c) tuple or list is accepted for the LSTM, and a tuple comes back as torch's does
    if kind == "lstm":
        assert close(ours(x, list(r1)), ref(x, r1))
        assert isinstance(h1, tuple) and len(h1) == 2


@pytest.mark.parametrize("kind,torch_cls", TORCH_PAIRS)
def test_unbatched_input_with_1d_hx_as_torch(kind, torch_cls):
    ours, ref = pair(kind)
    x = torch.randn(3, dtype=D64)
    hx = tuple(torch.randn(4, dtype=D64) for _ in range(2)) if kind == "lstm" else torch.randn(4, dtype=D64)
    a, b = ours(x, hx), ref(x, hx)
    assert close(a, b) and all(t.shape == (4,) for t in flat(a))
    assert close(ours(x), ref(x))


def test_rnncell_is_torch_compatible_and_elman_keeps_working():
    assert rnnkit.RNNCell is RNNCell and issubclass(RNNCell, ElmanCell)
    c = rnnkit.RNNCell(3, 4, False, "relu", "cpu", D64)
    assert (c.input_size, c.hidden_size, c.bias, c.nonlinearity) == (3, 4, False, "relu")
    assert c.weight_ih.dtype == D64 and c.bias_ih is None and c.bias_hh is None
    assert repr(c) == repr(torch.nn.RNNCell(3, 4, False, "relu")) == "RNNCell(3, 4, bias=False, nonlinearity=relu)"
    e = ElmanCell(3, 4, True, "relu")
    assert e.nonlinearity == "relu" and e.fused_kind == "elman"
    layer = rnnkit.Recurrent(c, backend="fused")  # still a built-in cell with a fused kernel
    layer(torch.randn(2, 1, 3, dtype=D64))
    assert layer.backend_used == "fused"


def test_positional_arguments_in_torch_order():
    lstm = rnnkit.LSTMCell(8, 16, True, "cpu")
    assert (lstm.input_size, lstm.hidden_size, lstm.bias, lstm.proj_size) == (8, 16, True, 0)
    assert lstm.weight_ih.device.type == "cpu"
    lstm = rnnkit.LSTMCell(8, 16, False, None, D64, proj_size=4)
    assert lstm.weight_hh.shape == (64, 4) and lstm.weight_hr.dtype == D64 and lstm.bias_ih is None
    gru = rnnkit.GRUCell(8, 16, False, "cpu", D64)
    assert gru.weight_hh.dtype == D64 and gru.bias_hh is None
    for cls, args in ((LSTMCell, (8, 16)), (GRUCell, (8, 16)), (ElmanCell, (8, 16))):
        with pytest.raises(TypeError):  # create_parameters is keyword-only, as proj_size is
            cls(*args, True, None, None, False) if cls is not ElmanCell else cls(*args, True, "tanh", None, None, False)
    # proj_size is keyword-only: the 4th and 5th positions are torch's device and dtype
    params = inspect.signature(LSTMCell).parameters
    assert list(params)[:5] == ["input_size", "hidden_size", "bias", "device", "dtype"]
    assert params["proj_size"].kind is inspect.Parameter.KEYWORD_ONLY
    for cls, ref in ((LSTMCell, torch.nn.LSTMCell), (GRUCell, torch.nn.GRUCell), (RNNCell, torch.nn.RNNCell)):
        ours_pos = [n for n, q in inspect.signature(cls).parameters.items() if q.kind is q.POSITIONAL_OR_KEYWORD]
        assert ours_pos == list(inspect.signature(ref).parameters)
    # torch.nn's own keywords, and meta tensors as torch.nn's module tests build them
    for ours, ref in ((RNNCell(3, 4, device="meta"), torch.nn.RNNCell(3, 4, device="meta")),
                      (LSTMCell(3, 4, device="meta"), torch.nn.LSTMCell(3, 4, device="meta")),
                      (GRUCell(3, 4, device="meta"), torch.nn.GRUCell(3, 4, device="meta"))):
        assert {n: p.shape for n, p in ours.named_parameters()} == {n: p.shape for n, p in ref.named_parameters()}
        assert all(p.is_meta for p in ours.parameters())


@pytest.mark.parametrize("kind,torch_cls", TORCH_PAIRS)
def test_cells_are_instances_of_torch_cells(kind, torch_cls):
    ours, _ = pair(kind)
    assert isinstance(ours, torch_cls) and isinstance(ours, torch.nn.RNNCellBase)
    assert isinstance(ours, rnnkit.Cell)
    # rnnkit's contract wins: its forward, reset and repr, and the fused kernel
    assert type(ours).forward is rnnkit.Cell.forward
    assert ours.fused_kind is not None and hasattr(ours, "fused_forward")
    # torch.nn's init (uniform in ±1/sqrt(H)) and a state dict that moves both ways
    big = type(ours)(5, 100)
    assert all(float(p.detach().abs().max()) <= 0.1 for p in big.parameters())
    back = torch_cls(3, 4, dtype=D64)
    back.load_state_dict(ours.state_dict())
    ours.load_state_dict(back.state_dict())


# torch.nn's messages for each mistake (test_modules' module_error_inputs for the three cells)
SHAPE_ERRORS = [
    ("input size", (3, 11), (3, 4), "input has inconsistent input_size: got 11 expected 3"),
    ("hidden size", (3, 3), (3, 5), "hidden0 has inconsistent hidden_size: got 5, expected 4"),
    ("batch", (3, 3), (5, 4), "Input batch size 3 doesn't match hidden0 batch size 5"),
    ("batch 1 does not broadcast", (3, 3), (1, 4), "Input batch size 3 doesn't match hidden0 batch size 1"),
    ("hidden size 1 does not broadcast", (3, 3), (3, 1), "hidden0 has inconsistent hidden_size: got 1, expected 4"),
    ("hx rank", (3, 3), (3, 1, 1, 4), "Expected (hidden|hx\\[0\\]) to be 1D or 2D, got 4D instead"),
    ("input rank", (2, 3, 3), (3, 4), "Expected input to be 1D or 2D, got 3D instead"),
    ("unbatched input, batched hx", (3,), (2, 4), "hidden0 has inconsistent hidden_size"),
    ("batched input, unbatched hx", (2, 3), (4,), "Input batch size 2 doesn't match hidden0 batch size 4"),
]


@pytest.mark.parametrize("what,x_shape,h_shape,message", SHAPE_ERRORS, ids=[e[0] for e in SHAPE_ERRORS])
@pytest.mark.parametrize("kind,torch_cls", TORCH_PAIRS)
def test_shape_errors_are_runtime_and_value_errors_like_torch(kind, torch_cls, what, x_shape, h_shape, message):
    ours, ref = pair(kind)
    x = torch.randn(*x_shape, dtype=D64)
    h = torch.randn(*h_shape, dtype=D64)
    good = torch.randn(*h_shape[:-1], 4, dtype=D64) if len(h_shape) <= 2 else torch.randn(3, 4, dtype=D64)
    hx = (h, good) if kind == "lstm" else h
    with pytest.raises(RuntimeError) if what not in ("hx rank", "input rank") else pytest.raises(ValueError):
        ref(x, hx)  # torch.nn raises for the same call (the type its own tests expect)
    with pytest.raises(ShapeError, match=message) as err:
        ours(x, hx)
    assert isinstance(err.value, RuntimeError) and isinstance(err.value, ValueError)


@pytest.mark.parametrize("proj", [0, 2])
def test_lstm_cell_state_checks_each_tensor(proj):
    cell = LSTMCell(3, 4, proj_size=proj)
    O = proj or 4
    x = torch.randn(3, 3)
    h, c = torch.randn(3, O), torch.randn(3, 4)
    assert cell(x, (h, c)).h.shape == (3, O)
    with pytest.raises(ShapeError, match="hidden1 has inconsistent hidden_size: got 5, expected 4"):
        cell(x, (h, torch.randn(3, 5)))
    with pytest.raises(ShapeError, match="hidden1 batch size 2"):
        cell(x, (h, torch.randn(2, 4)))
    with pytest.raises(ShapeError, match="expected a state of 2 tensor"):
        cell(x, h)


def test_zero_hidden_size_as_torch():
    x = torch.randn(3, 10)
    for cell in (RNNCell(10, 0, nonlinearity="relu"), GRUCell(10, 0), LSTMCell(10, 0)):
        hx = (torch.randn(3, 0),) * 2 if isinstance(cell, LSTMCell) else torch.randn(3, 0)
        assert all(t.shape == (3, 0) for t in flat(cell(x, hx)))
