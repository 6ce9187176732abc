"""Gradient flow through time, checked against an independent unroll with torch.nn cells."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import rnnkit
from rnnkit.backends import probe
from rnnkit.diagnostics import GradFlow, gradient_flow, jacobian_norms, plot_gradflow

DT = torch.float64
LAYERS = {"lstm": (rnnkit.LSTM, nn.LSTMCell), "gru": (rnnkit.GRU, nn.GRUCell), "rnn": (rnnkit.RNN, nn.RNNCell)}


def _torch_cell(layer: nn.Module, torch_cls: type, k: int, d: int, in_size: int) -> nn.Module:
    """A torch.nn cell holding the weights of ``layer``'s layer ``k``, direction ``d``."""
    cell = torch_cls(in_size, layer.hidden_size, dtype=DT)
    sd = layer.state_dict()
    sfx = f"_l{k}" + ("_reverse" if d else "")
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(cell, name).copy_(sd[name + sfx])
    return cell


def _manual_unroll(layer: nn.Module, torch_cls: type, x: torch.Tensor) -> tuple[list[torch.Tensor], dict]:
    """Run ``x (T, B, I)`` through the same weights step by step; -> last-layer outputs, {(k, d): [h_t]}."""
    T = x.shape[0]
    D = 2 if layer.bidirectional else 1
    inp = list(x.unbind(0))
    hs: dict[tuple[int, int], list[torch.Tensor]] = {}
    for k in range(layer.num_layers):
        per_dir = []
        for d in range(D):
            cell = _torch_cell(layer, torch_cls, k, d, inp[0].shape[-1])
            h = x.new_zeros(x.shape[1], layer.hidden_size)
            c = torch.zeros_like(h)
            out: list[torch.Tensor | None] = [None] * T
            for t in (range(T) if d == 0 else reversed(range(T))):
                if torch_cls is nn.LSTMCell:
                    h, c = cell(inp[t], (h, c))
                else:
                    h = cell(inp[t], h)
                out[t] = h
            hs[(k, d)] = out
            per_dir.append(out)
        inp = [torch.cat([o[t] for o in per_dir], -1) for t in range(T)]
    return inp, hs


def _expected_norms(loss: torch.Tensor, hs: dict) -> dict:
    keys = list(hs)
    flat = [h for key in keys for h in hs[key]]
    # unused: a last layer's reverse steps after the first one, when the loss reads the last output only
    grads = [torch.zeros_like(h) if g is None else g
             for h, g in zip(flat, torch.autograd.grad(loss, flat, allow_unused=True))]
    T = len(hs[keys[0]])
    return {key: torch.stack([g.norm(dim=1).mean() for g in grads[i * T: (i + 1) * T]])
            for i, key in enumerate(keys)}


@pytest.mark.parametrize("kind,bidirectional", [("lstm", False), ("gru", False), ("rnn", False),
                                                ("lstm", True), ("gru", True)])
def test_matches_manual_unroll_with_torch_cells(kind, bidirectional):
    torch.manual_seed(0)
    layer_cls, torch_cls = LAYERS[kind]
    T, B, I, H = 7, 3, 5, 6
    layer = layer_cls(I, H, num_layers=2, bidirectional=bidirectional, dtype=DT)
    head = nn.Linear(H * (2 if bidirectional else 1), 2, dtype=DT)
    model = nn.ModuleDict({"rnn": layer, "head": head})
    x, y = torch.randn(T, B, I, dtype=DT), torch.randn(B, 2, dtype=DT)

    def loss_fn():
        out, _ = layer(x)
        return nn.functional.mse_loss(head(out[-1]), y)

    gf = gradient_flow(model, loss_fn)
    outs, hs = _manual_unroll(layer, torch_cls, x)
    loss = nn.functional.mse_loss(head(outs[-1]), y)
    expected = _expected_norms(loss, hs)

    D = 2 if bidirectional else 1
    assert gf.labels == [f"layer {k}" + (" reverse" if d else "") for k in range(2) for d in range(D)]
    assert gf.loss == pytest.approx(loss.item(), rel=1e-12)
    for (k, d), norms in zip([(k, d) for k in range(2) for d in range(D)], gf.norms):
        assert norms.shape == (T,)
        torch.testing.assert_close(norms, expected[(k, d)], rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(gf.top(), expected[(1, 0)], rtol=1e-10, atol=1e-12)
    # the check can fail: the curve is not flat, and the reverse direction is not the forward one
    assert expected[(1, 0)].max() > 2 * expected[(1, 0)].min()


def test_lengths_each_sequence_on_its_own():
    """Variable lengths: every sequence's curve is the one it has when run alone; means over running ones."""
    torch.manual_seed(1)
    T, B, I, H = 6, 3, 4, 5
    layer = rnnkit.LSTM(I, H, num_layers=2, bidirectional=True, dtype=DT)
    head = nn.Linear(2 * H, 1, dtype=DT)
    x = torch.randn(T, B, I, dtype=DT)
    lengths = torch.tensor([4, 6, 2])

    def loss_fn():
        out, _ = layer(x, lengths=lengths)
        last = out[lengths - 1, torch.arange(B)]          # (B, 2H) at each sequence's last step
        return head(last).pow(2).sum()

    gf = gradient_flow(layer, loss_fn)
    per_seq = []
    for b in range(B):
        L = int(lengths[b])
        outs, hs = _manual_unroll(layer, nn.LSTMCell, x[:L, b: b + 1])
        exp = _expected_norms(head(outs[-1]).pow(2).sum(), hs)
        per_seq.append({key: torch.cat([v, v.new_zeros(T - L)]) for key, v in exp.items()})
    running = (torch.arange(T).unsqueeze(1) < lengths.unsqueeze(0)).sum(1)
    for (k, d), norms in zip([(0, 0), (0, 1), (1, 0), (1, 1)], gf.norms):
        expected = sum(s[(k, d)] for s in per_seq) / running
        torch.testing.assert_close(norms, expected, rtol=1e-10, atol=1e-12)


def test_backend_restored_and_grads_untouched():
    layer = rnnkit.GRU(3, 4, backend="fused")
    x = torch.randn(5, 2, 3)
    gf = gradient_flow(layer, lambda: layer(x)[0].sum())
    assert isinstance(gf, GradFlow) and len(gf.norms) == 1
    assert layer.backend == "fused" and layer.backend_used == "reference"
    assert all(p.grad is None for p in layer.parameters())
    assert probe.active() is None

    def boom():
        layer(x)
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        gradient_flow(layer, boom)
    assert layer.backend == "fused"
    assert probe.active() is None


def test_unused_steps_are_zero():
    layer = rnnkit.RNN(3, 4)
    x = torch.randn(5, 2, 3)
    gf = gradient_flow(layer, lambda: layer(x)[0][2].sum())      # the loss sees steps 0..2 only
    assert (gf.norms[0][3:] == 0).all() and (gf.norms[0][:3] > 0).all()


def _brute_jacobian_norms(cell, x, state0):
    T, B = x.shape[:2]
    xp = cell.project(x).detach()
    is_lstm = isinstance(state0, tuple)
    flat = lambda s: torch.cat(list(s), -1) if is_lstm else s  # noqa: E731
    H = cell.hidden_size
    state, res = state0, []
    for t in range(T):
        def f(s, t=t):
            st = rnnkit.LSTMState(s[:, :H], s[:, H:]) if is_lstm else s
            return flat(cell.step(xp[t], st)[1])
        J = torch.autograd.functional.jacobian(f, flat(state).detach())      # (B, S, B, S)
        blocks = torch.stack([J[b, :, b, :] for b in range(B)])
        res.append(torch.linalg.matrix_norm(blocks, ord=2).mean())
        with torch.no_grad():
            state = cell.step(xp[t], state)[1]
    return torch.stack(res)


@pytest.mark.parametrize("cell_cls", [rnnkit.LSTMCell, rnnkit.GRUCell, rnnkit.ElmanCell])
def test_jacobian_norms_match_brute_force(cell_cls):
    torch.manual_seed(2)
    B, T, I, H = 2, 3, 3, 4
    cell = cell_cls(I, H, dtype=DT)
    x = torch.randn(T, B, I, dtype=DT)
    h0 = torch.randn(B, H, dtype=DT)
    state0 = rnnkit.LSTMState(h0, torch.randn(B, H, dtype=DT)) if cell_cls is rnnkit.LSTMCell else h0
    got = jacobian_norms(cell, x, state0)
    assert got.shape == (T,)
    torch.testing.assert_close(got, _brute_jacobian_norms(cell, x, state0), rtol=1e-10, atol=1e-12)
    assert jacobian_norms(cell, x).shape == (T,)                          # zero initial state


def test_small_weights_vanish():
    """Measured, not assumed: an Elman RNN with weights scaled by 0.1 loses the gradient over 30 steps."""
    torch.manual_seed(3)
    T, B, I, H = 40, 4, 8, 32
    layer = rnnkit.RNN(I, H, dtype=DT)
    with torch.no_grad():
        for p in layer.parameters():
            p.mul_(0.1)
    head = nn.Linear(H, 1, dtype=DT)
    x = torch.randn(T, B, I, dtype=DT)
    curve = gradient_flow(layer, lambda: head(layer(x)[0][-1]).pow(2).mean()).top()
    at = curve.flip(0)                                                    # index = distance from the loss
    assert at[0] > 0
    assert at[30] < 1e-12 * at[0]
    # and the per-step Jacobians are contractive, which is why
    assert (jacobian_norms(layer.cell_at(0, 0), x) < 0.5).all()


def test_plot_gradflow_writes_png(tmp_path):
    pytest.importorskip("matplotlib")
    curves = {"LSTM (init)": torch.logspace(-8, 0, 20), "LSTM (trained)": torch.logspace(-3, 0, 20),
              "GRU (trained)": torch.cat([torch.zeros(5), torch.logspace(-2, 0, 15)])}   # zeros: clipped
    path = tmp_path / "flow.png"
    assert plot_gradflow(curves, path, title="gradient flow")
    assert path.stat().st_size > 1000 and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not (tmp_path / "flow.tmp.png").exists()


def test_several_layers_and_calls_are_labelled():
    enc, dec = rnnkit.LSTM(3, 4, bidirectional=True), rnnkit.GRU(8, 5)
    model = nn.ModuleDict({"enc": enc, "dec": dec})
    x = torch.randn(6, 2, 3)

    def loss_fn():
        h, _ = enc(x)
        y1, s = dec(h[:3])
        y2, _ = dec(h[3:], s)                    # the decoder runs twice, its state carried
        return y2[-1].sum() + y1.sum()

    gf = gradient_flow(model, loss_fn)
    assert gf.labels == ["enc: layer 0", "enc: layer 0 reverse", "dec: layer 0 (call 0)", "dec: layer 0 (call 1)"]
    assert [n.shape[0] for n in gf.norms] == [6, 6, 3, 3]
    assert gf.top() is gf.norms[-1] and gf.directions == [0, 1, 0, 0]
