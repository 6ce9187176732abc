"""LayerNormLSTMCell: the fused loop against the equations written out here, gradcheck, the layer."""

from __future__ import annotations

import contextlib

import pytest
import torch
import torch.nn.functional as F

import rnnkit
from rnnkit.backends import fused, reference
from rnnkit.cells import BoundCell, LayerNormLSTMCell
from rnnkit.cells.noise import sample
from tests.conftest import rel_err, weighted_sum

D64 = torch.float64


def written_out(cell, x, h, c, lengths=None, noise=None):
    """Ba et al.'s layer-normalised LSTM, step by step (autograd)."""
    H = cell.hidden_size
    M = noise.recurrent if noise is not None and noise.recurrent is not None else 1.0
    Z = noise.zoneout if noise is not None else None
    b = cell.bias if cell.bias is not None else 0.0
    outs = []
    for t in range(x.shape[0]):
        a = (F.layer_norm(x[t] @ cell.weight_ih.t(), (4 * H,), cell.ln_ih_weight, None, 1e-5)
             + F.layer_norm((h * M) @ cell.weight_hh.t(), (4 * H,), cell.ln_hh_weight, None, 1e-5) + b)
        i, f, g, o = a.chunk(4, -1)
        c_new = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h_new = torch.sigmoid(o) * torch.tanh(F.layer_norm(c_new, (H,), cell.ln_c_weight, cell.ln_c_bias, 1e-5))
        if Z is not None:
            h_new = Z[0][t] * h + (1 - Z[0][t]) * h_new
            c_new = Z[1][t] * c + (1 - Z[1][t]) * c_new
        if lengths is not None:
            m = (t < lengths).unsqueeze(1).to(D64)
            h_new, c_new = m * h_new + (1 - m) * h, m * c_new + (1 - m) * c
            outs.append(h_new * m)
        else:
            outs.append(h_new)
        h, c = h_new, c_new
    return [torch.stack(outs), h, c]


def _cell(bias=True):
    torch.manual_seed(0)
    cell = LayerNormLSTMCell(3, 4, bias=bias, dtype=D64)
    with torch.no_grad():  # gains and shifts away from their 1/0 init, so their gradients are exercised
        for p in cell.parameters():
            p.add_(torch.randn_like(p) * 0.3)
    return cell



@pytest.mark.parametrize("noisy", [False, True])
@pytest.mark.parametrize("use_lengths", [False, True])
@pytest.mark.parametrize("bias", [True, False])
def test_fused_and_reference_match_the_written_out_equations(bias, use_lengths, noisy):
    cell = _cell(bias)
    T, B = 6, 3
    x = torch.randn(T, B, 3, dtype=D64, requires_grad=True)
    h0 = torch.randn(B, 4, dtype=D64, requires_grad=True)
    c0 = torch.randn(B, 4, dtype=D64, requires_grad=True)
    noise = sample(0.3, 0.25, True, T, (h0, c0), x) if noisy else None
    lengths = torch.tensor([6, 4, 1]) if use_lengths else None
    batch_sizes = [3, 2, 2, 2, 1, 1] if use_lengths else None
    params = [x, h0, c0, *cell.parameters()]
    want = written_out(cell, x, h0, c0, lengths, noise)
    gw = torch.autograd.grad(weighted_sum(want), params)
    bound = BoundCell(cell, cell.weights())
    for run in (fused.run, reference.run):
        out, (h, c) = run(bound, x, rnnkit.LSTMState(h0, c0), lengths, batch_sizes, noise=noise)
        for a, b in zip([out, h, c], want):
            assert rel_err(a, b) <= 1e-9, run.__module__
        for a, b in zip(torch.autograd.grad(weighted_sum([out, h, c]), params), gw):
            assert rel_err(a, b) <= 1e-9, run.__module__


def test_fused_passes_gradcheck():
    cell = _cell()
    names = [n for n, _ in cell.named_parameters()]
    x = torch.randn(4, 2, 3, dtype=D64, requires_grad=True)
    h0 = torch.randn(2, 4, dtype=D64, requires_grad=True)
    c0 = torch.randn(2, 4, dtype=D64, requires_grad=True)
    noise = sample(0.3, 0.25, True, 4, (h0, c0), x)

    def f(x, h0, c0, *ws):
        w = dict(zip(names, ws))
        b = BoundCell(cell, tuple(w.get(n) for n in cell.weight_names))
        out, (h, c) = fused.run(b, x, rnnkit.LSTMState(h0, c0), None, None, noise=noise)
        return out, h, c

    assert torch.autograd.gradcheck(f, (x, h0, c0, *cell.parameters()), eps=1e-6, atol=1e-7)


@pytest.mark.parametrize("python_loop", [False, True])
def test_fused_forward_leaves_its_projection_alone_and_a_double_backward_still_works(python_loop):
    # the loop reads the input projection without a copy (keeps_projection): the tensor autograd made
    # must come out unchanged, or the replay a double backward runs would read the activated gates
    from rnnkit.backends import compiled
    cell = _cell()
    x = torch.randn(5, 2, 3, dtype=D64, requires_grad=True)
    bound = BoundCell(cell, cell.weights())
    xp = bound.project(x).detach()
    before = xp.clone()
    ctx = compiled.disabled() if python_loop else contextlib.nullcontext()
    with ctx:
        with torch.no_grad():
            weights = cell.fused_weights(cell.weights())[2:]
            cell.fused_forward(xp, cell.initial_state(2, dtype=D64), *weights, None, None)
        assert torch.equal(xp, before)
        out, _ = fused.run(bound, x, cell.initial_state(2, dtype=D64), None, None)
        (gx,) = torch.autograd.grad(out.sin().sum(), x, create_graph=True)
        (ggx,) = torch.autograd.grad(gx.pow(2).sum(), x)
    ref_out, _ = reference.run(bound, x, cell.initial_state(2, dtype=D64), None)
    (rgx,) = torch.autograd.grad(ref_out.sin().sum(), x, create_graph=True)
    (rggx,) = torch.autograd.grad(rgx.pow(2).sum(), x)
    assert rel_err(gx, rgx) <= 1e-9 and rel_err(ggx, rggx) <= 1e-9


def test_standalone_cell_is_one_step_of_the_equations():
    cell = _cell()
    x = torch.randn(2, 3, dtype=D64)
    h, c = cell(x)
    want = written_out(cell, x.unsqueeze(0), torch.zeros(2, 4, dtype=D64), torch.zeros(2, 4, dtype=D64))
    assert rel_err(h, want[1]) <= 1e-12 and rel_err(c, want[2]) <= 1e-12


def test_layer_fused_equals_reference_and_steps_stream():
    torch.manual_seed(0)
    layer = rnnkit.LayerNormLSTM(3, 5, num_layers=2, bidirectional=True, batch_first=True, dtype=D64,
                                 recurrent_dropout=0.2, zoneout=0.1, weight_drop=0.2)
    x = torch.randn(4, 7, 3, dtype=D64, requires_grad=True)
    lengths = torch.tensor([7, 3, 5, 1])
    res = {}
    for backend in ("fused", "reference"):
        layer.backend = backend
        torch.manual_seed(3)
        out, (h, c) = layer(x, lengths=lengths)
        assert layer.backend_used == backend and out.shape == (4, 7, 10)
        res[backend] = [out, h, c, *torch.autograd.grad(weighted_sum([out, h, c]), [x, *layer.parameters()])]
    for a, b in zip(res["fused"], res["reference"]):
        assert rel_err(a, b) <= 1e-9
    uni = rnnkit.LayerNormLSTM(3, 5, dtype=D64).eval()
    seq = torch.randn(6, 2, 3, dtype=D64)
    whole, fin = uni(seq)
    state = None
    for t in range(6):
        step_out, state = uni.step(seq[t], state)
        assert rel_err(step_out, whole[t]) <= 1e-12
    assert rel_err(state[1], fin[1]) <= 1e-12


def test_native_is_refused_with_the_way_out():
    with pytest.raises(ValueError, match="no kernel for a layer-normalised LSTM.*backend='auto'"):
        rnnkit.LayerNormLSTM(3, 4, backend="native")
