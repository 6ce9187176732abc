"""minGRU: the parallel scan against the step equations, streaming, the layer's options."""

from __future__ import annotations

import pytest
import torch

import rnnkit
from rnnkit.backends import reference, scan
from rnnkit.cells import BoundCell, MinGRUCell
from rnnkit.cells.mingru import g, log_g
from tests.conftest import rel_err, weighted_sum

D64 = torch.float64



@pytest.mark.parametrize("use_lengths", [False, True])
@pytest.mark.parametrize("h0_kind", ["zeros", "random"])
def test_scan_equals_the_step_loop_with_gradients(use_lengths, h0_kind):
    torch.manual_seed(0)
    cell = MinGRUCell(3, 4, dtype=D64)
    T, B = 8, 3
    x = torch.randn(T, B, 3, dtype=D64, requires_grad=True)
    h0 = (torch.randn(B, 4, dtype=D64) if h0_kind == "random" else torch.zeros(B, 4, dtype=D64)).requires_grad_()
    lengths = torch.tensor([8, 5, 1]) if use_lengths else None
    bound = BoundCell(cell, cell.weights())
    params = [x, h0, *cell.parameters()]
    res = {}
    for name, run in (("scan", scan.run), ("steps", reference.run)):
        out, h = run(bound, x, h0, lengths)
        res[name] = [out, h, *torch.autograd.grad(weighted_sum([out, h]), params)]
    for a, b in zip(res["scan"], res["steps"]):
        assert rel_err(a, b) <= 1e-9


def test_activation_is_continuous_positive_and_its_log_is_exact():
    a = torch.linspace(-30, 30, 2001, dtype=D64)
    assert torch.all(g(a) > 0)
    assert rel_err(torch.log(g(a)), log_g(a)) <= 1e-9   # log of a tiny σ(a) loses digits; log_g does not
    assert abs(g(torch.tensor(0.0)) - g(torch.tensor(-1e-9))) < 1e-6   # both sides meet at 1/2
    a.requires_grad_()
    assert torch.isfinite(torch.autograd.grad(log_g(a).sum(), a)[0]).all()


def test_long_sequence_in_float32_stays_close_to_the_steps():
    torch.manual_seed(0)
    cell = MinGRUCell(4, 8)
    x = torch.randn(2000, 2, 4)
    bound = BoundCell(cell, cell.weights())
    with torch.no_grad():
        a, ha = scan.run(bound, x, torch.zeros(2, 8), None)
        b, hb = reference.run(bound, x, torch.zeros(2, 8), None)
    assert torch.isfinite(a).all()
    assert (a - b).abs().max() <= 5e-5 and (ha - hb).abs().max() <= 5e-5


def test_layer_scan_equals_reference_and_streams_step_by_step():
    torch.manual_seed(0)
    layer = rnnkit.MinGRU(3, 5, num_layers=2, bidirectional=True, batch_first=True, dtype=D64)
    x = torch.randn(4, 9, 3, dtype=D64, requires_grad=True)
    lengths = torch.tensor([9, 3, 5, 1])
    res = {}
    for backend in ("auto", "reference"):
        layer.backend = backend
        out, h = layer(x, lengths=lengths)
        assert layer.backend_used == ("scan" if backend == "auto" else "reference")
        assert out.shape == (4, 9, 10) and h.shape == (4, 4, 5)
        assert torch.all(out[1, 3:] == 0)
        res[backend] = [out, h, *torch.autograd.grad(weighted_sum([out, h]), [x, *layer.parameters()])]
    for a, b in zip(res["auto"], res["reference"]):
        assert rel_err(a, b) <= 1e-9
    uni = rnnkit.MinGRU(3, 5, num_layers=2, dtype=D64)
    seq = torch.randn(7, 2, 3, dtype=D64)
    whole, fin = uni(seq)
    state = None
    for t in range(7):
        o, state = uni.step(seq[t], state)
        assert rel_err(o, whole[t]) <= 1e-12
    assert rel_err(state, fin) <= 1e-12


def test_options_a_mingru_has_no_place_for_are_refused():
    with pytest.raises(ValueError, match="MinGRU: zoneout need a recurrent weight W_hh and a time loop"):
        rnnkit.MinGRU(3, 4, zoneout=0.1)
    with pytest.raises(ValueError, match="MinGRU: backend must be 'auto'"):
        rnnkit.MinGRU(3, 4, backend="fused")
    layer = rnnkit.MinGRU(3, 4, num_layers=2, input_dropout=0.2, dropout=0.1)
    out, _ = layer(torch.randn(5, 2, 3))   # the dropouts that apply run
    assert out.shape == (5, 2, 4)
