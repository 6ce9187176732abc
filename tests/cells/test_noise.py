"""Recurrent dropout and zoneout inside the fused loops: against the equations written out here."""

from __future__ import annotations

import pytest
import torch

import rnnkit
from rnnkit.backends import fused, reference
from rnnkit.cells import BoundCell, ElmanCell, GRUCell, LSTMCell
from rnnkit.cells.noise import StepNoise, check_probability, sample
from tests.conftest import rel_err, weighted_sum

D64 = torch.float64
KINDS = ["elman-tanh", "elman-relu", "lstm", "lstm-proj", "gru"]


def make_cell(kind: str, I: int = 3, H: int = 4):
    if kind.startswith("elman"):
        return ElmanCell(I, H, nonlinearity=kind.split("-")[1], dtype=D64)
    if kind == "lstm":
        return LSTMCell(I, H, dtype=D64)
    if kind == "lstm-proj":
        return LSTMCell(I, H, proj_size=2, dtype=D64)
    return GRUCell(I, H, dtype=D64)


def written_out(cell, x, state, noise: StepNoise, lengths=None):
    """The regularised recurrences, step by step, as the papers write them (autograd)."""
    w = dict(zip(cell.weight_names, cell.weights()))
    M = noise.recurrent if noise.recurrent is not None else 1.0
    Z = noise.zoneout
    outs = []
    h, c = (state if isinstance(state, tuple) else (state, None))
    for t in range(x.shape[0]):
        a_x = x[t] @ w["weight_ih"].t() + w["bias_ih"]
        a_h = (h * M) @ w["weight_hh"].t() + w["bias_hh"]
        if isinstance(cell, LSTMCell):
            i, f, g, o = (a_x + a_h).chunk(4, -1)
            c_new = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h_new = torch.sigmoid(o) * torch.tanh(c_new)       # tanh of the cell's own new value
            if w.get("weight_hr") is not None:
                h_new = h_new @ w["weight_hr"].t()
        elif isinstance(cell, GRUCell):
            xr, xz, xn = a_x.chunk(3, -1)
            hr, hz, hn = a_h.chunk(3, -1)
            r, z = torch.sigmoid(xr + hr), torch.sigmoid(xz + hz)
            n = torch.tanh(xn + r * hn)
            h_new = (1 - z) * n + z * h                          # unmasked H_{t-1} here
        else:
            pre = a_x + a_h
            h_new = torch.tanh(pre) if cell.nonlinearity == "tanh" else torch.relu(pre)
        if Z is not None:
            h_new = Z[0][t] * h + (1 - Z[0][t]) * h_new
            if c is not None:
                c_new = Z[1][t] * c + (1 - Z[1][t]) * c_new
        if lengths is not None:
            m = (t < lengths).unsqueeze(1).to(D64)
            h_new = m * h_new + (1 - m) * h
            if c is not None:
                c_new = m * c_new + (1 - m) * c
            outs.append(h_new * m)
        else:
            outs.append(h_new)
        h = h_new
        if c is not None:
            c = c_new
    return torch.stack(outs), (h if c is None else (h, c))


def _setup(kind, T=6, B=3, seed=0, zoneout=0.3, rec=0.4, training=True):
    torch.manual_seed(seed)
    cell = make_cell(kind)
    x = torch.randn(T, B, 3, dtype=D64, requires_grad=True)
    h0 = torch.randn(B, cell.output_size, dtype=D64, requires_grad=True)
    s0 = rnnkit.LSTMState(h0, torch.randn(B, cell.hidden_size, dtype=D64, requires_grad=True)) \
        if isinstance(cell, LSTMCell) else h0
    noise = sample(rec, zoneout, training, T, s0, x)
    return cell, x, s0, noise


def _leaves(out, fin):
    return [out] + ([fin] if isinstance(fin, torch.Tensor) else list(fin))


@pytest.mark.parametrize("use_lengths", [False, True])
@pytest.mark.parametrize("which", ["both", "recurrent", "zoneout", "zoneout-eval"])
@pytest.mark.parametrize("kind", KINDS)
def test_fused_and_reference_match_the_written_out_equations(kind, which, use_lengths):
    cell, x, s0, noise = _setup(kind, zoneout=0.0 if which == "recurrent" else 0.3,
                                rec=0.0 if which.startswith("zoneout") else 0.4, training=which != "zoneout-eval")
    lengths = torch.tensor([6, 4, 1]) if use_lengths else None
    batch_sizes = [3, 2, 2, 2, 1, 1] if use_lengths else None
    bound = BoundCell(cell, cell.weights())
    want = _leaves(*written_out(cell, x, s0, noise, lengths))
    params = [x, *[p for p in cell.parameters()], *([s0] if isinstance(s0, torch.Tensor) else list(s0))]
    gw = torch.autograd.grad(weighted_sum(want), params)
    for run in (fused.run, reference.run):
        got = _leaves(*run(bound, x, s0, lengths, batch_sizes, noise=noise))
        for a, b in zip(got, want):
            assert rel_err(a, b) <= 1e-9, run.__module__
        gg = torch.autograd.grad(weighted_sum(got), params)
        for a, b in zip(gg, gw):
            assert rel_err(a, b) <= 1e-9, run.__module__


@pytest.mark.parametrize("kind", ["lstm", "lstm-proj", "gru", "elman-tanh"])
def test_fused_with_noise_passes_gradcheck(kind):
    cell, x, s0, noise = _setup(kind, T=4, B=2)
    leaves = [s0] if isinstance(s0, torch.Tensor) else list(s0)
    names = [n for n, _ in cell.named_parameters()]
    weights = [p for _, p in cell.named_parameters()]

    def f(x, *tensors):
        ws, st = tensors[:len(weights)], tensors[len(weights):]
        w = dict(zip(names, ws))
        b = BoundCell(cell, tuple(w.get(n) for n in cell.weight_names))
        s = st[0] if len(st) == 1 else rnnkit.LSTMState(*st)
        return tuple(_leaves(*fused.run(b, x, s, None, None, noise=noise)))

    assert torch.autograd.gradcheck(f, (x, *weights, *leaves), eps=1e-6, atol=1e-7)


def test_masks_come_from_the_seed_and_eval_zoneout_is_the_expectation():
    _, _, _, a = _setup("lstm", seed=3)
    _, _, _, b = _setup("lstm", seed=3)
    assert torch.equal(a.recurrent, b.recurrent) and all(torch.equal(p, q) for p, q in zip(a.zoneout, b.zoneout))
    assert set(a.zoneout[0].unique().tolist()) <= {0.0, 1.0}
    kept = a.recurrent[a.recurrent > 0]
    assert torch.allclose(kept, torch.full_like(kept, 1 / 0.6))
    _, _, _, ev = _setup("lstm", training=False)
    assert ev.recurrent is None and torch.all(ev.zoneout[0] == 0.3)
    assert sample(0.5, 0.0, False, 4, torch.zeros(2, 3), torch.zeros(1)) is None


@pytest.mark.parametrize("bad", [1.0, -0.1, 1.5, "0.1", True, float("nan")])
def test_probability_outside_0_1_is_refused(bad):
    with pytest.raises(ValueError, match=r"zoneout must be a number in \[0, 1\)"):
        check_probability("zoneout", bad)
