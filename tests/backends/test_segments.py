"""Variable lengths on the CPU through torch's unpacked kernel per segment (rnnkit.backends.segments).

Parity with torch.nn on the equivalent PackedSequence: outputs, h_n, c_n and every gradient.
``split`` sets which segments run on torch's kernel: all of them, the long ones (the default:
short ones as fused BPTT), or none.
"""

from __future__ import annotations

import pytest
import torch
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

import rnnkit
from rnnkit.backends import segments
from tests.conftest import rel_err

pytestmark = pytest.mark.usefixtures("one_thread")

TOL = {torch.float32: 1e-5, torch.float64: 1e-10}
I, H, T = 3, 4, 12
KINDS = {"lstm": (torch.nn.LSTM, rnnkit.LSTM, {}), "lstm-proj": (torch.nn.LSTM, rnnkit.LSTM, {"proj_size": 2}),
         "gru": (torch.nn.GRU, rnnkit.GRU, {}), "rnn": (torch.nn.RNN, rnnkit.RNN, {}),
         "rnn-relu": (torch.nn.RNN, rnnkit.RNN, {"nonlinearity": "relu"})}
SPLITS = {"kernel": 1, "mixed": 4, "fused": 10**9}


def pair(kind, layers, bidir, batch_first, dtype):
    ref_cls, our_cls, kw = KINDS[kind]
    kw = dict(kw, num_layers=layers, bidirectional=bidir, batch_first=batch_first)
    ref = ref_cls(I, H, **kw).to(dtype)
    ours = our_cls(I, H, backend="native", **kw).to(dtype)
    ours.load_state_dict(ref.state_dict())
    return ref, ours


def run(model, packed, hx, weights):
    out, fin = model(packed, hx)
    fins = fin if isinstance(fin, tuple) else (fin,)
    g = torch.Generator().manual_seed(1)
    loss = (out.data * torch.randn(out.data.shape, generator=g, dtype=out.data.dtype)).sum()
    for f in fins:
        loss = loss + (f * torch.randn(f.shape, generator=g, dtype=f.dtype)).sum()
    grads = torch.autograd.grad(loss, weights, retain_graph=True)  # the packing is shared
    return out, fins, grads


def check(kind, lengths, layers=1, bidir=False, batch_first=False, dtype=torch.float64, with_hx=True,
          split="mixed", monkeypatch=None):
    monkeypatch.setattr(segments, "MIN_KERNEL_STEPS", SPLITS[split])
    torch.manual_seed(0)
    ref, ours = pair(kind, layers, bidir, batch_first, dtype)
    B = len(lengths)
    Tm = max(lengths)
    x = torch.randn((B, Tm, I) if batch_first else (Tm, B, I), dtype=dtype, requires_grad=True)
    D = 2 if bidir else 1
    O = KINDS[kind][2].get("proj_size", H)
    hx = None
    if with_hx:
        h0 = torch.randn(layers * D, B, O, dtype=dtype, requires_grad=True)
        hx = (h0, torch.randn(layers * D, B, H, dtype=dtype, requires_grad=True)) if "lstm" in kind else h0
    leaves = [x] + ([] if hx is None else list(hx) if isinstance(hx, tuple) else [hx])
    packed = pack_padded_sequence(x, torch.tensor(lengths), batch_first=batch_first, enforce_sorted=False)
    before = segments.calls
    r_out, r_fins, r_grads = run(ref, packed, hx, leaves + list(ref.parameters()))
    o_out, o_fins, o_grads = run(ours, packed, hx, leaves + list(ours.parameters()))
    assert ours.backend_used == "native"
    # all lengths equal: no lengths at all, the plain unpacked call
    path = "unpacked" if len(set(lengths)) == 1 else "segments"
    assert ours.native_path == path and segments.calls == before + (path == "segments")
    assert isinstance(o_out, PackedSequence)
    assert torch.equal(o_out.batch_sizes, r_out.batch_sizes)
    for a, b in ((o_out.sorted_indices, r_out.sorted_indices), (o_out.unsorted_indices, r_out.unsorted_indices)):
        assert (a is None and b is None) or torch.equal(a, b)
    tol = TOL[dtype]
    assert rel_err(o_out.data, r_out.data) <= tol, "output"
    for a, b in zip(o_fins, r_fins, strict=True):
        assert a.shape == b.shape and rel_err(a, b) <= tol, "final state"
    for i, (a, b) in enumerate(zip(o_grads, r_grads, strict=True)):
        assert rel_err(a, b) <= tol, f"gradient {i}"
    # lengths= on the padded batch: the same numbers, zeros at the padded steps
    padded, _ = pad_packed_sequence(packed, batch_first=batch_first)
    out2, _ = ours(padded, hx, lengths=torch.tensor(lengths))
    want, _ = pad_packed_sequence(r_out, batch_first=batch_first)
    assert ours.native_path == path and rel_err(out2, want) <= tol
    mask = torch.arange(Tm).unsqueeze(1) >= torch.tensor(lengths).unsqueeze(0)  # (T, B)
    assert (out2.transpose(0, 1) if batch_first else out2)[mask].abs().sum() == 0


LENGTHS = [[12, 9, 12, 3, 1, 7, 9], [5, 5, 5], [12], [1, 1, 1, 1], [2, 11, 1, 6]]


@pytest.mark.parametrize("split", sorted(SPLITS))
@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("lengths", LENGTHS, ids=lambda v: "-".join(map(str, v)))
def test_parity_one_layer_both_directions(kind, lengths, split, monkeypatch):
    for bidir in (False, True):
        check(kind, lengths, bidir=bidir, split=split, monkeypatch=monkeypatch)


@pytest.mark.parametrize("split", sorted(SPLITS))
@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("layers,bidir,batch_first", [(2, True, True), (3, False, False), (3, True, False),
                                                      (2, False, True)])
def test_parity_stacked(kind, layers, bidir, batch_first, split, monkeypatch):
    check(kind, LENGTHS[0], layers, bidir, batch_first, split=split, monkeypatch=monkeypatch)


@pytest.mark.parametrize("kind", ["lstm", "lstm-proj", "gru", "rnn"])
@pytest.mark.parametrize("split", ["kernel", "mixed"])
def test_parity_float32_without_initial_state(kind, split, monkeypatch):
    check(kind, [12, 4, 9, 12, 1, 6], 2, True, True, torch.float32, with_hx=False, split=split,
          monkeypatch=monkeypatch)
    check(kind, [12, 4, 9, 12, 1, 6], 2, False, False, torch.float32, with_hx=False, split=split,
          monkeypatch=monkeypatch)


def test_sorted_pack_and_pack_sequence_keep_their_indices(monkeypatch):
    ref, ours = pair("lstm", 1, True, False, torch.float64)
    seqs = [torch.randn(n, I, dtype=torch.float64) for n in (6, 4, 1)]
    for packed in (torch.nn.utils.rnn.pack_sequence(seqs), torch.nn.utils.rnn.pack_sequence(seqs[::-1],
                                                                                          enforce_sorted=False)):
        o, (h, c) = ours(packed)
        r, (rh, rc) = ref(packed)
        assert ours.native_path == "segments"
        assert (o.sorted_indices is None) == (r.sorted_indices is None)
        assert rel_err(o.data, r.data) <= 1e-10 and rel_err(h, rh) <= 1e-10 and rel_err(c, rc) <= 1e-10


def test_segments_of():
    assert segments.segments_of([3, 3, 2, 1, 1, 0, 0]) == [(0, 2, 3), (2, 3, 2), (3, 5, 1)]
    assert segments.segments_of([2, 2]) == [(0, 2, 2)]


def test_long_segments_run_torch_kernel_short_ones_fused_bptt(monkeypatch):
    lstm = rnnkit.LSTM(I, H, backend="native")
    kernel_calls = []
    orig = torch._VF.lstm
    monkeypatch.setattr(segments, "_VF", type("VF", (), {"lstm": staticmethod(
        lambda *a: kernel_calls.append(a[0].shape[0]) or orig(*a))}))
    x = torch.randn(20, 3, I, requires_grad=True)
    out, _ = lstm(x, lengths=[20, 19, 10])  # segments of 10, 9 and 1 steps
    out.sum().backward()
    assert lstm.native_path == "segments" and kernel_calls == [10, 9]
    assert x.grad is not None and x.grad[10:, 2].abs().max() == 0


def test_without_onednn_falls_back_to_the_packed_kernel_loudly():
    ref, ours = pair("lstm", 1, True, False, torch.float32)
    x = torch.randn(5, 3, I)
    lengths = [5, 2, 4]
    with torch.backends.mkldnn.flags(enabled=False):
        with pytest.warns(rnnkit.BackendFallbackWarning, match="packed CPU kernel"):
            out, (h, c) = ours(x, lengths=lengths)
    assert ours.backend_used == "native" and ours.native_path == "packed"
    r, (rh, rc) = ref(pack_padded_sequence(x, torch.tensor(lengths), enforce_sorted=False))
    r, _ = pad_packed_sequence(r)
    assert torch.equal(out, r) and torch.equal(h, rh) and torch.equal(c, rc)  # the very same kernel


def test_switched_off_runs_the_packed_kernel(monkeypatch):
    monkeypatch.setattr(segments, "MIN_STEPS_PER_SEGMENT", float("inf"))
    gru = rnnkit.GRU(I, H, backend="native")
    gru(torch.randn(5, 3, I), lengths=[5, 2, 4])
    assert gru.native_path == "packed"
    gru(torch.randn(5, 3, I))
    assert gru.native_path == "unpacked"
