"""PeepholeLSTMCell: the fused loop against the equations written out here, gradcheck, the layer."""

from __future__ import annotations

import pytest
import torch

import rnnkit
from rnnkit.backends import fused, reference
from rnnkit.cells import BoundCell, PeepholeLSTMCell
from rnnkit.cells.noise import sample
from tests.conftest import rel_err, weighted_sum

D64 = torch.float64


def written_out(cell, x, h, c, lengths=None, noise=None):
    """Gers & Schmidhuber's peephole LSTM, step by step (autograd)."""
    M = noise.recurrent if noise is not None and noise.recurrent is not None else 1.0
    Z = noise.zoneout if noise is not None else None
    p_i, p_f, p_o = cell.weight_ch.chunk(3)
    outs = []
    for t in range(x.shape[0]):
        a = x[t] @ cell.weight_ih.t() + (h * M) @ cell.weight_hh.t()
        if cell.bias:
            a = a + cell.bias_ih + cell.bias_hh
        a_i, a_f, a_g, a_o = a.chunk(4, -1)
        c_new = torch.sigmoid(a_f + p_f * c) * c + torch.sigmoid(a_i + p_i * c) * torch.tanh(a_g)
        h_new = torch.sigmoid(a_o + p_o * c_new) * torch.tanh(c_new)
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
    cell = PeepholeLSTMCell(3, 4, bias=bias, dtype=D64)
    with torch.no_grad():  # peepholes away from their zero init, so that they matter
        cell.weight_ch.copy_(torch.randn(12, dtype=D64))
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


def test_zero_peepholes_are_torch_nn_lstm():
    """At init (peepholes zero) the cell is torch.nn.LSTMCell with the same weights."""
    torch.manual_seed(0)
    cell = PeepholeLSTMCell(3, 5, dtype=D64)
    ref = torch.nn.LSTMCell(3, 5, dtype=D64)
    with torch.no_grad():
        for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(ref, n).copy_(getattr(cell, n))
    x = torch.randn(2, 3, dtype=D64)
    for a, b in zip(cell(x), ref(x)):
        assert rel_err(a, b) <= 1e-12


def test_layer_fused_equals_reference_and_steps_stream():
    torch.manual_seed(0)
    layer = rnnkit.PeepholeLSTM(3, 5, num_layers=2, bidirectional=True, batch_first=True, dtype=D64,
                                recurrent_dropout=0.2, zoneout=0.1, weight_drop=0.2)
    with torch.no_grad():
        for c in layer.cells:
            c.weight_ch.normal_()
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
    uni = rnnkit.PeepholeLSTM(3, 5, dtype=D64).eval()
    seq = torch.randn(6, 2, 3, dtype=D64)
    whole, fin = uni(seq)
    state = None
    for t in range(6):
        step_out, state = uni.step(seq[t], state)
        assert rel_err(step_out, whole[t]) <= 1e-12
    assert rel_err(state[1], fin[1]) <= 1e-12


def test_native_is_refused_with_the_way_out():
    with pytest.raises(ValueError, match="no kernel for an LSTM with peepholes.*backend='auto'"):
        rnnkit.PeepholeLSTM(3, 4, backend="native")
