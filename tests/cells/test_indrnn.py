"""IndRNNCell: the fused loop against the equations written out here, gradcheck, the layer."""

from __future__ import annotations

import pytest
import torch

import rnnkit
from rnnkit.backends import fused, reference
from rnnkit.cells import BoundCell, IndRNNCell
from rnnkit.cells.noise import sample
from tests.conftest import rel_err, weighted_sum

D64 = torch.float64


def written_out(cell, x, h, lengths=None, noise=None):
    """Li et al.'s IndRNN, step by step (autograd)."""
    M = noise.recurrent if noise is not None and noise.recurrent is not None else 1.0
    Z = noise.zoneout[0] if noise is not None and noise.zoneout is not None else None
    u = cell.weight_hh if cell.recurrent_max is None else cell.weight_hh.clamp(-cell.recurrent_max,
                                                                               cell.recurrent_max)
    act = torch.relu if cell.nonlinearity == "relu" else torch.tanh
    outs = []
    for t in range(x.shape[0]):
        a = x[t] @ cell.weight_ih.t() + u * (h * M)
        if cell.bias:
            a = a + cell.bias_ih
        h_new = act(a)
        if Z is not None:
            h_new = Z[t] * h + (1 - Z[t]) * h_new
        if lengths is not None:
            m = (t < lengths).unsqueeze(1).to(D64)
            h_new = m * h_new + (1 - m) * h
            outs.append(h_new * m)
        else:
            outs.append(h_new)
        h = h_new
    return [torch.stack(outs), h]


def _cell(bias=True, nonlinearity="relu", recurrent_max=None):
    torch.manual_seed(0)
    cell = IndRNNCell(3, 4, bias=bias, nonlinearity=nonlinearity, dtype=D64, recurrent_max=recurrent_max)
    with torch.no_grad():  # u on both sides of 0 and, for the clamp, of ±recurrent_max
        cell.weight_hh.copy_(torch.tensor([1.3, -0.4, 0.7, -1.2], dtype=D64))
        if bias:
            cell.bias_ih.normal_()
    return cell



@pytest.mark.parametrize("noisy", [False, True])
@pytest.mark.parametrize("use_lengths", [False, True])
@pytest.mark.parametrize("variant", [dict(), dict(bias=False, nonlinearity="tanh"), dict(recurrent_max=1.0)])
def test_fused_and_reference_match_the_written_out_equations(variant, use_lengths, noisy):
    cell = _cell(**variant)
    T, B = 6, 3
    x = torch.randn(T, B, 3, dtype=D64, requires_grad=True)
    h0 = torch.randn(B, 4, dtype=D64, requires_grad=True)
    noise = sample(0.3, 0.25, True, T, h0, x) if noisy else None
    lengths = torch.tensor([6, 4, 1]) if use_lengths else None
    batch_sizes = [3, 2, 2, 2, 1, 1] if use_lengths else None
    params = [x, h0, *cell.parameters()]
    want = written_out(cell, x, h0, lengths, noise)
    gw = torch.autograd.grad(weighted_sum(want), params)
    bound = BoundCell(cell, cell.weights())
    for run in (fused.run, reference.run):
        out, h = run(bound, x, h0, lengths, batch_sizes, noise=noise)
        for a, b in zip([out, h], want):
            assert rel_err(a, b) <= 1e-9, run.__module__
        for a, b in zip(torch.autograd.grad(weighted_sum([out, h]), params), gw):
            assert rel_err(a, b) <= 1e-9, run.__module__


def test_fused_passes_gradcheck():
    cell = _cell(nonlinearity="tanh")
    names = [n for n, _ in cell.named_parameters()]
    x = torch.randn(4, 2, 3, dtype=D64, requires_grad=True)
    h0 = torch.randn(2, 4, dtype=D64, requires_grad=True)
    noise = sample(0.3, 0.25, True, 4, h0, x)

    def f(x, h0, *ws):
        w = dict(zip(names, ws))
        b = BoundCell(cell, tuple(w.get(n) for n in cell.weight_names))
        return fused.run(b, x, h0, None, None, noise=noise)

    assert torch.autograd.gradcheck(f, (x, h0, *cell.parameters()), eps=1e-6, atol=1e-7)


def test_a_unit_only_sees_its_own_past():
    """The defining property: perturbing unit k's previous state changes only unit k."""
    cell = _cell()
    x = torch.randn(2, 3, dtype=D64)
    h0 = torch.rand(2, 4, dtype=D64)
    h1 = h0.clone()
    h1[:, 2] += 0.5
    d = cell(x, h1) - cell(x, h0)
    assert torch.all(d[:, [0, 1, 3]] == 0)


def test_layer_fused_equals_reference_deep_stack_and_steps_stream():
    torch.manual_seed(0)
    layer = rnnkit.IndRNN(3, 5, num_layers=4, bidirectional=True, batch_first=True, dtype=D64,
                          recurrent_dropout=0.2, zoneout=0.1, weight_drop=0.2, recurrent_max=2 ** (1 / 7))
    x = torch.randn(4, 7, 3, dtype=D64, requires_grad=True)
    lengths = torch.tensor([7, 3, 5, 1])
    res = {}
    for backend in ("fused", "reference"):
        layer.backend = backend
        torch.manual_seed(3)
        out, h = layer(x, lengths=lengths)
        assert layer.backend_used == backend and out.shape == (4, 7, 10) and h.shape == (8, 4, 5)
        res[backend] = [out, h, *torch.autograd.grad(weighted_sum([out, h]), [x, *layer.parameters()])]
    for a, b in zip(res["fused"], res["reference"]):
        assert rel_err(a, b) <= 1e-9
    uni = rnnkit.IndRNN(3, 5, dtype=D64).eval()
    seq = torch.randn(6, 2, 3, dtype=D64)
    whole, fin = uni(seq)
    state = None
    for t in range(6):
        step_out, state = uni.step(seq[t], state)
        assert rel_err(step_out, whole[t]) <= 1e-12
    assert rel_err(state, fin) <= 1e-12


def test_bad_options_are_refused():
    with pytest.raises(ValueError, match="no kernel for an IndRNN.*backend='auto'"):
        rnnkit.IndRNN(3, 4, backend="native")
    with pytest.raises(ValueError, match="nonlinearity 'sigmoid'"):
        rnnkit.IndRNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="recurrent_max must be a positive number"):
        rnnkit.IndRNN(3, 4, recurrent_max=0)
