"""rnnkit layers against torch.nn: outputs, final states and every gradient.

Tolerance: max |rnnkit - torch| / (1 + |torch|) <= 1e-5 (float32), 1e-9 (float64).
Variable lengths are compared with torch.nn on a PackedSequence.
"""

from __future__ import annotations

import itertools

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import rnnkit
from tests.conftest import rel_err

PAIRS = {"rnn": (torch.nn.RNN, rnnkit.RNN), "rnn-relu": (torch.nn.RNN, rnnkit.RNN),
         "lstm": (torch.nn.LSTM, rnnkit.LSTM), "lstm-proj": (torch.nn.LSTM, rnnkit.LSTM),
         "gru": (torch.nn.GRU, rnnkit.GRU)}
TOL = {torch.float32: 1e-5, torch.float64: 1e-9}
I, H, T, B = 5, 6, 7, 4


def make_pair(kind: str, layers: int, bidir: bool, batch_first: bool, dtype, backend: str, bias=True):
    torch_cls, ours_cls = PAIRS[kind]
    kw = dict(num_layers=layers, bidirectional=bidir, batch_first=batch_first, bias=bias)
    if kind == "rnn-relu":
        kw["nonlinearity"] = "relu"
    if kind == "lstm-proj":
        kw["proj_size"] = 3
    ref = torch_cls(I, H, **kw).to(dtype)
    ours = ours_cls(I, H, backend=backend, **kw).to(dtype)
    ours.load_state_dict(ref.state_dict())
    return ref, ours


def run_both(ref, ours, lengths, batch_first, dtype, seed=0):
    g = torch.Generator().manual_seed(seed)
    shape = (B, T, I) if batch_first else (T, B, I)
    x = torch.randn(shape, generator=g, dtype=dtype)
    D = 2 if ours.bidirectional else 1
    O = ours.proj_size or H if isinstance(ours, rnnkit.LSTM) else H
    h0 = torch.randn(ours.num_layers * D, B, O, generator=g, dtype=dtype)
    state = (h0, torch.randn(ours.num_layers * D, B, H, generator=g, dtype=dtype)) \
        if isinstance(ours, rnnkit.LSTM) else h0
    results = []
    for model in (ref, ours):
        xi = x.clone().requires_grad_()
        si = tuple(s.clone().requires_grad_() for s in state) if isinstance(state, tuple) \
            else state.clone().requires_grad_()
        if model is ref and lengths is not None:
            packed = pack_padded_sequence(xi, lengths, batch_first=batch_first, enforce_sorted=False)
            out, fin = model(packed, si)
            out, _ = pad_packed_sequence(out, batch_first=batch_first, total_length=T)
        elif model is ref:
            out, fin = model(xi, si)
        else:
            out, fin = model(xi, si, lengths=lengths)
        fins = fin if isinstance(fin, tuple) else (fin,)
        gw = torch.Generator().manual_seed(seed + 1)
        loss = (out * torch.randn(out.shape, generator=gw, dtype=dtype)).sum()
        for f in fins:
            loss = loss + (f * torch.randn(f.shape, generator=gw, dtype=dtype)).sum()
        loss.backward()
        grads = {"input": xi.grad}
        for i, s in enumerate(si if isinstance(si, tuple) else (si,)):
            grads[f"state{i}"] = s.grad
        grads.update({n: p.grad for n, p in model.named_parameters()})
        results.append((out, fins, grads))
    return results


def assert_parity(results, dtype, backend_used=None):
    (out_r, fin_r, g_r), (out_o, fin_o, g_o) = results
    tol = TOL[dtype]
    assert rel_err(out_o, out_r) <= tol, "output"
    for a, b in zip(fin_o, fin_r):
        assert rel_err(a, b) <= tol, "final state"
    assert g_r.keys() == g_o.keys()
    for name in g_r:
        assert g_o[name] is not None, f"no gradient for {name}"
        assert rel_err(g_o[name], g_r[name]) <= tol, f"gradient of {name}: {rel_err(g_o[name], g_r[name])}"


GRID = list(itertools.product(["rnn", "rnn-relu", "lstm", "lstm-proj", "gru"], [1, 2, 3], [False, True],
                              [False, True], [torch.float32, torch.float64]))


@pytest.mark.parametrize("backend", ["fused", "reference", "native"])
@pytest.mark.parametrize("kind,layers,bidir,use_lengths,dtype", GRID)
def test_parity_with_torch_nn(kind, layers, bidir, use_lengths, dtype, backend):
    batch_first = (layers + bidir) % 2 == 1   # both layouts appear across the grid
    ref, ours = make_pair(kind, layers, bidir, batch_first, dtype, backend)
    # with and without a full-length sequence in the batch (then every output row ends in padding)
    lengths = (torch.tensor([T, 3, 1, 5]) if layers != 2 else torch.tensor([5, 3, 1, 2])) if use_lengths else None
    assert_parity(run_both(ref, ours, lengths, batch_first, dtype), dtype)
    assert ours.backend_used == backend


@pytest.mark.parametrize("backend", ["fused", "reference"])
@pytest.mark.parametrize("kind", ["rnn", "lstm", "lstm-proj", "gru"])
def test_parity_without_bias_and_equal_lengths(kind, backend):
    ref, ours = make_pair(kind, 2, True, False, torch.float64, backend, bias=False)
    # lengths all equal to T take the unpadded path and must agree with no lengths at all
    lengths = torch.full((B,), T)
    assert_parity(run_both(ref, ours, lengths, False, torch.float64), torch.float64)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("batch_first", [False, True])
def test_packed_sequence_in_and_out(kind, batch_first):
    ref, ours = make_pair(kind, 2, True, batch_first, torch.float64, "fused")
    x = torch.randn(B, T, I, dtype=torch.float64) if batch_first else torch.randn(T, B, I, dtype=torch.float64)
    packed = pack_padded_sequence(x, torch.tensor([3, T, 2, 5]), batch_first=batch_first, enforce_sorted=False)
    out_r, fin_r = ref(packed)
    out_o, fin_o = ours(packed)
    assert isinstance(out_o, torch.nn.utils.rnn.PackedSequence)
    assert torch.equal(out_o.batch_sizes, out_r.batch_sizes)
    assert torch.equal(out_o.sorted_indices, out_r.sorted_indices)
    assert rel_err(out_o.data, out_r.data) <= 1e-9
    for a, b in zip(fin_o if isinstance(fin_o, tuple) else (fin_o,), fin_r if isinstance(fin_r, tuple) else (fin_r,)):
        assert rel_err(a, b) <= 1e-9


@pytest.mark.parametrize("kind", ["rnn", "lstm-proj", "gru"])
@pytest.mark.parametrize("backend", ["fused", "reference", "native"])
def test_unbatched_input(kind, backend):
    ref, ours = make_pair(kind, 2, True, False, torch.float64, backend)
    x = torch.randn(T, I, dtype=torch.float64)
    out_r, fin_r = ref(x)
    out_o, fin_o = ours(x)
    assert out_o.shape == out_r.shape
    assert rel_err(out_o, out_r) <= 1e-9
    for a, b in zip(fin_o if isinstance(fin_o, tuple) else (fin_o,), fin_r if isinstance(fin_r, tuple) else (fin_r,)):
        assert a.shape == b.shape and rel_err(a, b) <= 1e-9
    # an unbatched initial state is accepted too
    out2, _ = ours(x, fin_o)
    ref2, _ = ref(x, fin_r)
    assert rel_err(out2, ref2) <= 1e-9


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_state_dict_round_trip_both_ways(kind):
    torch_cls, ours_cls = PAIRS[kind]
    ours = ours_cls(I, H, num_layers=2, bidirectional=True)
    ref = torch_cls(I, H, num_layers=2, bidirectional=True)
    assert list(ours.state_dict()) == list(ref.state_dict())
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in ref.named_parameters()]
    ref.load_state_dict(ours.state_dict())
    x = torch.randn(T, B, I)
    assert torch.allclose(ours(x)[0], ref(x)[0], atol=1e-6)


def test_same_seed_same_init_as_torch():
    torch.manual_seed(3)
    ref = torch.nn.LSTM(I, H, num_layers=2)
    torch.manual_seed(3)
    ours = rnnkit.LSTM(I, H, num_layers=2)
    for (n1, p1), (n2, p2) in zip(ref.named_parameters(), ours.named_parameters()):
        assert n1 == n2 and torch.equal(p1, p2)


def test_dropout_between_layers_trains_and_evaluates():
    ours = rnnkit.GRU(I, H, num_layers=2, dropout=0.5, backend="fused")
    x = torch.randn(T, B, I)
    ours.train()
    a, _ = ours(x)
    b, _ = ours(x)
    assert not torch.allclose(a, b)         # dropout is active between layers in training
    ours.eval()
    ref = torch.nn.GRU(I, H, num_layers=2, dropout=0.5).eval()
    ref.load_state_dict(ours.state_dict())
    assert torch.allclose(ours(x)[0], ref(x)[0], atol=1e-6)
