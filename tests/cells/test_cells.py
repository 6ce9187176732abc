"""Cells: standalone parity with torch.nn.*Cell, hand-written BPTT vs gradcheck, golden values."""

from __future__ import annotations

import math

import pytest
import torch

import rnnkit
from rnnkit.backends import fused
from rnnkit.cells import BoundCell, ElmanCell, GRUCell, LSTMCell
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
    with pytest.raises(ValueError, match="shape"):
        GRUCell(3, 4)(torch.randn(2, 2, 3))
