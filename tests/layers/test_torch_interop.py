"""rnnkit's layers in other people's code: torch.nn's transforms, side by side with torch.nn.

Every check runs the same thing on a torch.nn layer and on rnnkit's layer holding the
same weights, and compares the results (outputs and gradients to 1e-5 relative, float32).
"""

from __future__ import annotations

import copy
import io
import warnings

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pack_sequence, pad_packed_sequence

import rnnkit
from rnnkit.layers import to_torch_nn
from tests.conftest import rel_err

KINDS = {
    "rnn": (rnnkit.RNN, nn.RNN, {}),
    "lstm": (rnnkit.LSTM, nn.LSTM, {}),
    "gru": (rnnkit.GRU, nn.GRU, {}),
    "lstm-proj-bi-2": (rnnkit.LSTM, nn.LSTM, dict(proj_size=3, bidirectional=True, num_layers=2)),
    "gru-bi-2": (rnnkit.GRU, nn.GRU, dict(bidirectional=True, num_layers=2)),
}
I, H = 8, 6


def pair(kind: str, **extra):
    ours_cls, torch_cls, kw = KINDS[kind]
    kw = {**kw, **extra}
    ours = ours_cls(I, H, **kw)
    ref = torch_cls(I, H, **{k: v for k, v in kw.items() if k != "backend"})
    ref.load_state_dict(ours.state_dict())
    return ours, ref


def close(a, b, tol: float = 1e-5) -> None:
    if isinstance(a, PackedSequence):
        close(a.data, b.data, tol)
        for x, y in ((a.batch_sizes, b.batch_sizes), (a.sorted_indices, b.sorted_indices),
                     (a.unsorted_indices, b.unsorted_indices)):
            assert (x is None and y is None) or torch.equal(x, y)
        return
    if isinstance(a, (tuple, list)):
        assert isinstance(b, (tuple, list)) and len(a) == len(b)
        for x, y in zip(a, b):
            close(x, y, tol)
        return
    assert a.shape == b.shape and a.dtype == b.dtype, (a.shape, b.shape, a.dtype, b.dtype)
    assert rel_err(a, b) <= tol, rel_err(a, b)


def grads(m: nn.Module) -> list[torch.Tensor]:
    return [p.grad for _, p in sorted(m.named_parameters())]


def loss_of(res) -> torch.Tensor:
    out, state = res
    out = out.data if isinstance(out, PackedSequence) else out
    leaves = [state] if isinstance(state, torch.Tensor) else list(state)
    return out.pow(2).sum() + sum(s.sum() for s in leaves)


# -- identity ---------------------------------------------------------------------------

@pytest.mark.parametrize("kind", list(KINDS))
def test_is_a_torch_nn_layer(kind):
    ours, ref = pair(kind)
    assert isinstance(ours, type(ref)) and isinstance(ours, nn.RNNBase)
    assert ours.mode == ref.mode
    assert repr(ours) == repr(ref)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in ref.named_parameters()]
    assert list(ours.state_dict()) == list(ref.state_dict())


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_seeded_init_is_torch_nn_s(kind):
    ours_cls, torch_cls, _ = KINDS[kind]
    torch.manual_seed(3)
    a = ours_cls(I, H, num_layers=2, bidirectional=True)
    torch.manual_seed(3)
    b = torch_cls(I, H, num_layers=2, bidirectional=True)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


# -- packed sequences in every form ---------------------------------------------------------

def packed_inputs():
    torch.manual_seed(0)
    x = torch.randn(6, 3, I)
    seqs = [torch.randn(n, I) for n in (6, 4, 2)]
    unsorted = [torch.randn(n, I) for n in (3, 6, 1)]
    yield "pack_padded_sequence", pack_padded_sequence(x, [6, 4, 2])
    yield "pack_padded_sequence unsorted", pack_padded_sequence(x, [2, 6, 4], enforce_sorted=False)
    yield "pack_sequence", pack_sequence(seqs)
    yield "pack_sequence unsorted", pack_sequence(unsorted, enforce_sorted=False)
    p = pack_padded_sequence(x, [6, 4, 2])
    yield "hand-built", PackedSequence(p.data, p.batch_sizes)


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("backend", ["auto", "fused", "reference"])
def test_packed_input_every_form(kind, backend):
    ours, ref = pair(kind, backend=backend)
    for name, packed in packed_inputs():
        got, want = ours(packed), ref(packed)
        assert isinstance(got[0], PackedSequence), name
        close(got, want)
        ours.zero_grad()
        ref.zero_grad()
        loss_of(ours(packed)).backward()
        loss_of(ref(packed)).backward()
        close(grads(ours), grads(ref))


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_packed_input_with_initial_state(kind):
    ours, ref = pair(kind)
    _, packed = next(packed_inputs())
    D = 2 if ours.bidirectional else 1
    h = torch.randn(ours.num_layers * D, 3, H)
    hx = (h, torch.randn_like(h)) if kind == "lstm" else h
    close(ours(packed, hx), ref(packed, hx))


@pytest.mark.parametrize("kind", ["lstm", "gru-bi-2"])
def test_lengths_equal_packing(kind):
    ours, ref = pair(kind, batch_first=True)
    x = torch.randn(3, 6, I)
    lengths = torch.tensor([2, 6, 4])
    out, state = ours(x, lengths=lengths)
    p_out, p_state = ref(pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False))
    close(out, pad_packed_sequence(p_out, batch_first=True, total_length=6)[0])
    close(state, p_state)


# -- save, load, copy -------------------------------------------------------------------------

@pytest.mark.parametrize("kind", list(KINDS))
def test_torch_save_whole_model_loads_with_weights_only(kind, tmp_path):
    ours, _ = pair(kind)
    model = nn.Sequential(ours, )
    path = tmp_path / "model.pt"
    torch.save(model, path)
    # what pytorch/examples' word_language_model does: allowlist torch.nn's classes, default load
    with torch.serialization.safe_globals([nn.Sequential]):
        loaded = torch.load(path)
    assert type(loaded[0]) is type(ours) and loaded[0].backend == ours.backend
    x = torch.randn(5, 2, I)
    close(loaded[0](x), ours(x), 0.0)
    loaded[0].flatten_parameters()


@pytest.mark.parametrize("kind", list(KINDS))
def test_deepcopy_and_state_dict_roundtrip(kind):
    ours, ref = pair(kind)
    twin = copy.deepcopy(ours)
    x = torch.randn(5, 2, I)
    close(twin(x), ref(x))
    back = copy.deepcopy(ref)
    back.load_state_dict(twin.state_dict())
    close(back(x), ours(x))


# -- weight norm and parametrizations ---------------------------------------------------------

def _weight_norm(m, name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.nn.utils.weight_norm is deprecated
        nn.utils.weight_norm(m, name)


TRANSFORMS = {
    "weight_norm": _weight_norm,
    "parametrizations.weight_norm": lambda m, name: nn.utils.parametrizations.weight_norm(m, name),
    "parametrizations.orthogonal": lambda m, name: nn.utils.parametrizations.orthogonal(m, name),
}


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("transform", list(TRANSFORMS))
@pytest.mark.parametrize("backend", ["auto", "fused", "reference", "native"])
def test_weight_parametrizations(kind, transform, backend):
    name = "weight_hh_l0"  # (G*H, H): orthogonal makes a gate stack semi-orthogonal
    torch.manual_seed(1)
    ours, ref = pair(kind, backend=backend)
    TRANSFORMS[transform](ours, name)
    TRANSFORMS[transform](ref, name)
    ref.load_state_dict(ours.state_dict())
    x = torch.randn(5, 2, I, requires_grad=True)
    close(ours(x), ref(x))
    loss_of(ours(x)).backward()
    loss_of(ref(x)).backward()
    close(grads(ours), grads(ref))


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_functional_call_uses_the_given_weights(kind):
    ours, ref = pair(kind)
    other = {n: torch.randn_like(p) for n, p in ours.named_parameters()}
    x = torch.randn(5, 2, I)
    close(torch.func.functional_call(ours, other, (x,)), torch.func.functional_call(ref, other, (x,)))


# -- higher-order gradients and torch.func ------------------------------------------------------

@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("backend", ["auto", "fused", "reference"])
def test_gradgradcheck(kind, backend):
    ours_cls, _, _ = KINDS[kind]
    torch.manual_seed(0)
    m = ours_cls(3, 4, backend=backend, dtype=torch.float64)
    x = torch.randn(4, 2, 3, dtype=torch.float64, requires_grad=True)
    h = torch.randn(1, 2, 4, dtype=torch.float64, requires_grad=True)
    hx = (h, torch.randn_like(h)) if kind == "lstm" else h
    assert torch.autograd.gradgradcheck(lambda a, s: m(a, (s, hx[1]) if kind == "lstm" else s)[0], (x, h))


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("backend", ["auto", "fused"])
def test_double_backward_matches_torch_nn(kind, backend):
    ours, ref = pair(kind, backend=backend)
    x = torch.randn(5, 2, I)
    res = []
    for m in (ours, ref):
        xi = x.clone().requires_grad_()
        (gx,) = torch.autograd.grad(loss_of(m(xi)), xi, create_graph=True)
        gx.pow(2).sum().backward()
        res.append(grads(m))
    close(res[0], res[1], 1e-4)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_torch_func_grad(kind):
    ours, ref = pair(kind)
    x = torch.randn(5, 2, I)

    def g(m):
        params = dict(m.named_parameters())
        return torch.func.grad(lambda p: loss_of(torch.func.functional_call(m, p, (x,))))(params)

    got, want = g(ours), g(ref)
    close([got[k] for k in sorted(got)], [want[k] for k in sorted(want)])


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_vmap_as_torch_nn(kind):
    ours, ref = pair(kind)
    xs = torch.randn(3, 5, 2, I)

    def run(m):
        try:
            return torch.func.vmap(lambda x: m(x)[0])(xs)
        except Exception as e:  # torch.nn's own support decides; rnnkit must behave the same
            return type(e)

    got, want = run(ours), run(ref)
    if isinstance(want, type):
        assert got is want
    else:
        close(got, want)


# -- tracing, export, compile ---------------------------------------------------------------

@pytest.mark.parametrize("kind", list(KINDS))
def test_jit_trace_in_grad_mode(kind):
    ours, ref = pair(kind)
    x = torch.randn(5, 2, I)
    traced = torch.jit.trace(ours, (x,))
    other = torch.randn(7, 3, I)
    close(traced(other), ref(other))


@pytest.mark.parametrize("kind", list(KINDS))
def test_torch_export(kind):
    ours, ref = pair(kind)
    x = torch.randn(5, 2, I)
    program = torch.export.export(ours, (x,))
    close(program.module()(x), ref(x))


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_torch_compile_forward_and_backward(kind):
    torch._dynamo.reset()
    ours, ref = pair(kind)
    x = torch.randn(5, 2, I)
    got = torch.compile(ours, backend="inductor")(x)
    close(got, ref(x))
    loss_of(got).backward()
    loss_of(ref(x)).backward()
    close(grads(ours), grads(ref))


# -- ONNX --------------------------------------------------------------------------------------

def _ort_run(model_bytes: bytes, x: torch.Tensor):
    ort = pytest.importorskip("onnxruntime")
    sess = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    return [torch.from_numpy(a) for a in sess.run(None, {sess.get_inputs()[0].name: x.numpy()})]


@pytest.mark.parametrize("kind", list(KINDS))
def test_onnx_legacy_export_in_onnxruntime(kind):
    pytest.importorskip("onnx")
    ours, ref = pair(kind)
    ours.train(False)
    x = torch.randn(5, 2, I)
    bufs = []
    for m in (ref, ours):
        bufs.append(io.BytesIO())
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                torch.onnx.export(m, (x,), bufs[-1], dynamo=False, input_names=["x"],
                                  dynamic_axes={"x": {0: "T", 1: "B"}})
            except torch.onnx.errors.OnnxExporterError as e:
                # torch.nn's exporter has no LSTM with projections: rnnkit's must refuse it the same way
                assert m is ours or "projections" in str(e)
                bufs[-1] = type(e)
    if isinstance(bufs[0], type):
        assert bufs[1] is bufs[0]
        return
    buf = bufs[1]
    other = torch.randn(7, 3, I)
    outs = _ort_run(buf.getvalue(), other)
    with torch.no_grad():
        want, state = ref(other)
    close(outs[0], want)
    close(outs[1], state[0] if isinstance(state, tuple) else state)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_onnx_dynamo_export_in_onnxruntime(kind):
    pytest.importorskip("onnxscript")
    ours, ref = pair(kind)
    ours.train(False)
    x = torch.randn(5, 2, I)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(ours, (x,), dynamo=True, verbose=False)
    outs = _ort_run(program.model_proto.SerializeToString(), x)
    with torch.no_grad():
        close(outs[0], ref(x)[0])


# -- quantization, autocast, meta, empty batches ------------------------------------------------

@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_quantize_dynamic(kind):
    ours, ref = pair(kind)
    qspec = {type(ours), nn.Linear}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        q_ours = torch.ao.quantization.quantize_dynamic(nn.Sequential(ours), qspec)
        q_ref = torch.ao.quantization.quantize_dynamic(nn.Sequential(ref), {type(ref), nn.Linear})
    assert type(q_ours[0]) is type(q_ref[0]) and type(q_ref[0]) is not type(ref)
    x = torch.randn(5, 2, I)
    close(q_ours(x), q_ref(x), 0.0)


def test_to_torch_nn_copies_weights_and_configuration():
    ours, ref = pair("lstm-proj-bi-2", batch_first=True)
    plain = to_torch_nn(ours)
    assert type(plain) is nn.LSTM and repr(plain) == repr(ref)
    x = torch.randn(2, 5, I)
    close(plain(x), ours(x))


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_autocast_bf16_as_torch_nn(kind):
    ours, ref = pair(kind)
    x = torch.randn(5, 2, I)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        try:
            want = ref(x)
        except RuntimeError:
            pytest.skip("torch.nn's kernel does not run under bf16 autocast on this CPU")
        got = ours(x)
    close(got, want, 2e-2)


@pytest.mark.parametrize("kind", list(KINDS))
def test_meta_device(kind):
    ours_cls, torch_cls, kw = KINDS[kind]
    ours = ours_cls(I, H, device="meta", **kw)
    ref = torch_cls(I, H, device="meta", **kw)
    x = torch.empty(5, 2, I, device="meta")
    got, want = ours(x), ref(x)
    assert got[0].shape == want[0].shape and got[0].device.type == "meta"


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("batch_first", [False, True])
def test_batch_of_zero_sequences(kind, batch_first):
    ours, ref = pair(kind, batch_first=batch_first)
    x = torch.zeros((0, 5, I) if batch_first else (5, 0, I), requires_grad=True)
    got, want = ours(x), ref(x)
    close(got, want)
    got[0].sum().backward()


# -- errors as torch.nn raises them --------------------------------------------------------------

@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_shape_errors_are_runtime_errors(kind):
    ours, ref = pair(kind)
    x = torch.randn(5, 2, I)
    bad_h = torch.randn(1, 3, H)
    bad_hx = (bad_h, bad_h) if kind == "lstm" else bad_h
    for m in (ref, ours):
        with pytest.raises(RuntimeError):
            m(x, bad_hx)
        with pytest.raises(RuntimeError):
            m(torch.randn(5, 2, I + 1))
    with pytest.raises(ValueError):  # and rnnkit's own callers keep catching ValueError
        ours(x, bad_hx)


# -- streaming -------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru", "lstm-proj-bi-2"])
@pytest.mark.parametrize("batch_first", [False, True])
def test_step_equals_the_full_sequence(kind, batch_first):
    ours_cls, _, kw = KINDS[kind]
    ours = ours_cls(I, H, batch_first=batch_first, **{**kw, "bidirectional": False})
    x = torch.randn(2, 6, I) if batch_first else torch.randn(6, 2, I)
    full, final = ours(x)
    state, outs = None, []
    for x_t in x.unbind(1 if batch_first else 0):
        out_t, state = ours.step(x_t, state)
        outs.append(out_t)
    close(torch.stack(outs, 1 if batch_first else 0), full)
    close(state, final)
    # unbatched: one (I,) step at a time
    state, outs = None, []
    seq = x[0] if batch_first else x[:, 0]
    for x_t in seq:
        out_t, state = ours.step(x_t, state)
        outs.append(out_t)
    close(torch.stack(outs), ours(seq)[0])


def test_step_refuses_a_bidirectional_layer():
    with pytest.raises(ValueError, match="unidirectional"):
        rnnkit.GRU(I, H, bidirectional=True).step(torch.randn(2, I))
