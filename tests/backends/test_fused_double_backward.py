"""The fused BPTT backend to any order: gradgradcheck, create_graph, torch.func; the fast path stays fast."""

from __future__ import annotations

import inspect

import pytest
import torch

import rnnkit
from rnnkit.backends import fused, reference
from rnnkit.cells import BoundCell

D64 = torch.float64
KINDS = ["elman-tanh", "elman-relu", "lstm", "lstm-proj", "gru"]
T, B, I, H = 4, 3, 3, 3
LENGTHS, BATCH_SIZES = torch.tensor([4, 2, 1]), [3, 2, 1, 1]


def make_cell(kind: str, bias: bool = True):
    if kind.startswith("elman"):
        return rnnkit.ElmanCell(I, H, bias, kind.split("-")[1], dtype=D64)
    if kind.startswith("lstm"):
        return rnnkit.LSTMCell(I, H, bias, dtype=D64, proj_size=2 if kind == "lstm-proj" else 0)
    return rnnkit.GRUCell(I, H, bias, dtype=D64)


def leaves(cell, seed: int = 0):
    """``x (T, B, I)``, the cell's weights (no ``None``) and the initial state, all requiring grad."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(T, B, I, dtype=D64, generator=g)
    ws = [w.detach().clone() for w in cell.weights() if w is not None]
    state = [torch.randn(B, cell.output_size, dtype=D64, generator=g)]
    if isinstance(cell, rnnkit.LSTMCell):
        state.append(torch.randn(B, cell.hidden_size, dtype=D64, generator=g))
    return [t.requires_grad_() for t in (x, *ws, *state)]


def runner(cell, backend, lengths=None, batch_sizes=None):
    """``f(x, *weights, *state) -> (out, *final_state)`` on ``backend``, for gradcheck."""
    present = [w is not None for w in cell.weights()]

    def f(x, *rest):
        it = iter(rest)
        w = tuple(next(it) if p else None for p in present)
        state = list(it)
        s0 = state[0] if len(state) == 1 else rnnkit.LSTMState(*state)
        out, fin = backend.run(BoundCell(cell, w), x, s0, lengths, batch_sizes)
        return (out, *((fin,) if isinstance(fin, torch.Tensor) else fin))
    return f


def test_setup_context_style():
    """torch.func needs forward without ctx and a separate setup_context."""
    assert "ctx" not in inspect.signature(fused.FusedBPTT.forward).parameters
    assert fused.FusedBPTT.setup_context is not torch.autograd.Function.setup_context


@pytest.mark.parametrize("use_lengths", [False, True])
@pytest.mark.parametrize("kind", KINDS)
def test_fused_passes_gradgradcheck(kind, use_lengths):
    cell = make_cell(kind)
    f = runner(cell, fused, *((LENGTHS, BATCH_SIZES) if use_lengths else (None, None)))
    args = leaves(cell)
    assert torch.autograd.gradcheck(f, args)
    assert torch.autograd.gradgradcheck(f, args)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_gradgradcheck_without_biases(kind):
    cell = make_cell(kind, bias=False)
    assert torch.autograd.gradgradcheck(runner(cell, fused, LENGTHS, BATCH_SIZES), leaves(cell))


def _penalty_grads(cell, backend, lengths, batch_sizes):
    """A gradient penalty: first-order grads with create_graph, then the grads of their squared norm."""
    args = leaves(cell, seed=1)
    out, *fin = runner(cell, backend, lengths, batch_sizes)(*args)
    loss = (out * out.detach().cos()).sum() + sum(f.sin().sum() for f in fin)
    first = torch.autograd.grad(loss, args, create_graph=True)
    assert all(g.requires_grad for g in first)
    sum((g * g).sum() for g in first).backward()
    return [g.detach() for g in first], [a.grad for a in args]


@pytest.mark.parametrize("use_lengths", [False, True])
@pytest.mark.parametrize("kind", KINDS)
def test_create_graph_gradients_equal_the_reference_backend(kind, use_lengths):
    cell = make_cell(kind)
    lb = (LENGTHS, BATCH_SIZES) if use_lengths else (None, None)
    first, second = _penalty_grads(cell, fused, *lb)
    first_ref, second_ref = _penalty_grads(cell, reference, *lb)
    for a, b in zip(first + second, first_ref + second_ref, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_fast_path_runs_without_create_graph_and_replay_with_it(monkeypatch):
    calls = []
    orig = fused._differentiable_backward
    monkeypatch.setattr(fused, "_differentiable_backward", lambda *a: calls.append(1) or orig(*a))
    cell = make_cell("gru")
    args = leaves(cell)
    out, fin = runner(cell, fused)(*args)
    torch.autograd.grad(out.sum() + fin.sum(), args)
    assert calls == []
    out, fin = runner(cell, fused)(*args)
    torch.autograd.grad(out.sum() + fin.sum(), args, create_graph=True)
    assert calls == [1]


def test_gradient_of_only_the_final_state_or_only_the_output():
    """Unused outputs get no gradient (not materialised zeros); the backward treats that as zero."""
    cell = make_cell("lstm-proj")
    for pick in (lambda out, h, c: c.sum(), lambda out, h, c: h.sum(), lambda out, h, c: out.sum()):
        got = torch.autograd.grad(pick(*runner(cell, fused)(*(a := leaves(cell)))), a)
        want = torch.autograd.grad(pick(*runner(cell, reference)(*(r := leaves(cell)))), r)
        for g, w in zip(got, want, strict=True):
            torch.testing.assert_close(g, w)


def test_batch_sizes_without_lengths_gives_the_final_state_at_each_last_step():
    cell = make_cell("gru")
    args = leaves(cell)
    out, fin = runner(cell, fused, None, BATCH_SIZES)(*args)
    out2, fin2 = runner(cell, fused, LENGTHS, BATCH_SIZES)(*args)
    assert torch.equal(out, out2) and torch.equal(fin, fin2)


@pytest.mark.parametrize("kind", ["lstm-proj", "gru", "elman-tanh"])
def test_torch_func_grad_vjp_and_grad_of_grad(kind):
    cell = make_cell(kind)
    x, *rest = (a.detach() for a in leaves(cell))

    def loss(x, backend):
        out, *fin = runner(cell, backend)(x, *rest)
        return out.pow(2).sum() + sum(f.sum() for f in fin)

    for backend_result in (torch.func.grad(lambda x: loss(x, fused))(x),
                           torch.func.vjp(lambda x: loss(x, fused), x)[1](torch.tensor(1.0, dtype=D64))[0]):
        torch.testing.assert_close(backend_result, torch.func.grad(lambda x: loss(x, reference))(x))

    def gg(backend):
        return torch.func.grad(lambda x: torch.func.grad(lambda y: loss(y, backend))(x).sin().sum())(x)

    torch.testing.assert_close(gg(fused), gg(reference))


def test_vmap_is_not_supported_and_says_so():
    """vmap (and jacrev, a vmap over vjp) is not supported: an error, never a silently wrong number."""
    cell = make_cell("gru")
    x, *rest = (a.detach() for a in leaves(cell))

    def loss(x):
        out, _ = runner(cell, fused)(x, *rest)
        return out.sum()

    with pytest.raises(RuntimeError, match="vmap"):
        torch.func.vmap(loss)(x.unsqueeze(0).expand(2, *x.shape))
    with pytest.raises(RuntimeError):
        torch.func.jacrev(loss)(x)
