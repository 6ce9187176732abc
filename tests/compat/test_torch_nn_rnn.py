"""PyTorch's own RNN tests, run against torch.nn and against rnnkit's drop-in layers and cells.

Where these come from: the tests of recurrent layers (RNN, LSTM, GRU), cells (RNNCell,
LSTMCell, GRUCell) and packed sequences in PyTorch's ``test/test_nn.py`` (classes ``TestNN``
and ``TestNNDeviceType``; PyTorch is BSD-3-Clause licensed, copyright its contributors). Each
test below is named after the PyTorch test whose behaviour it checks (the original name is
in the comment above it) and uses that test's sizes, inputs, expected values, exception types,
messages and tolerances. The code is written for this suite rather than copied: PyTorch's
harness (``common_utils.TestCase``, device and dtype decorators, cuDNN/CUDA branches) is
replaced by plain pytest functions and the helpers in ``_helpers.py``, and ``self.assertEqual``
by :func:`assert_equal` (torch.testing's dtype-based tolerances, as PyTorch's ``assertEqual``).

Every test takes the ``nn`` fixture (``conftest.py``): once ``torch.nn`` itself (``[torch]``,
which must pass), once torch.nn with RNN/LSTM/GRU and the three cells replaced by rnnkit's
(``[rnnkit]``). Tests that only exist for CUDA/cuDNN keep their CPU part: where the original
compares a CPU run with a cuDNN/CUDA run, the second run here is torch.nn's class on the CPU
(the reference), so ``[torch]`` compares torch.nn with itself and ``[rnnkit]`` compares rnnkit
with torch.nn under the same tolerances. Tests with no CPU part at all (multi-GPU device
checks, cuDNN weight formats, CUDA-only PackedSequence checks) are not included.
"""

from __future__ import annotations

import io
import re
import warnings
from copy import deepcopy
from functools import partial
from itertools import product
from typing import Any

import pytest
import torch
import torch.nn.utils.rnn as rnn_utils

from tests.compat._helpers import (
    DTYPE_PREC,
    assert_equal,
    assert_not_equal,
    default_dtype,
    gradcheck,
    gradgradcheck,
)

MODES = ("RNN", "GRU", "LSTM")


# --- TestNN ---------------------------------------------------------------------------------

# Original: TestNN.test_RNN_nonlinearity
def test_RNN_nonlinearity(nn: Any) -> None:
    assert nn.RNN(1, 10).nonlinearity == "tanh"
    assert nn.RNN(1, 10, nonlinearity="relu").nonlinearity == "relu"
    with pytest.raises(ValueError, match="Unknown nonlinearity"):
        nn.RNN(1, 10, nonlinearity="garbage")


# Original: TestNN.test_RNN_nonlinearity_passed_as_arg
def test_RNN_nonlinearity_passed_as_arg(nn: Any) -> None:
    assert nn.RNN(2, 3, 1, "relu").nonlinearity == "relu"


# Original: TestNN.test_rnn_weight_norm
def test_rnn_weight_norm(nn: Any) -> None:
    def check(layer: Any, name: str, num_params: int) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # weight_norm is deprecated in favour of parametrize
            layer = torch.nn.utils.weight_norm(layer, name=name)
        # the reparametrised weight is a plain tensor in the flat weights now
        assert sum(isinstance(p, torch.nn.Parameter) for p in layer._flat_weights) == num_params - 1
        layer = torch.nn.utils.remove_weight_norm(layer, name=name)
        assert sum(isinstance(p, torch.nn.Parameter) for p in layer._flat_weights) == num_params
        # the original Parameter is back, the _g/_v components are gone
        assert name in layer._parameters
        assert layer._parameters[name] is not None
        assert name + "_v" not in layer._parameters
        assert name + "_g" not in layer._parameters
        named = dict(layer.named_parameters())
        assert name in named
        assert named[name] is not None
        assert name + "_v" not in named
        assert name + "_g" not in named

    check(nn.LSTM(32, 32), "weight_ih_l0", 4)
    check(nn.LSTM(32, 32, proj_size=16), "weight_hr_l0", 5)


# Original: TestNN.test_RNN_cell
def test_RNN_cell(nn: Any) -> None:
    # a smoke test: six steps forward, then backward
    for cell_cls in (nn.RNNCell, nn.GRUCell):
        for bias in (True, False):
            x = torch.randn(3, 10)
            h = torch.randn(3, 20)
            cell = cell_cls(10, 20, bias=bias)
            for _ in range(6):
                h = cell(x, h)
            h.sum().backward()


# Original: TestNN.test_RNN_cell_forward_zero_hidden_size
def test_RNN_cell_forward_zero_hidden_size(nn: Any) -> None:
    x = torch.randn(3, 10)
    h = torch.randn(3, 0)
    cells = (nn.RNNCell(10, 0, nonlinearity="relu"), nn.RNNCell(10, 0, nonlinearity="tanh"), nn.GRUCell(10, 0))
    for cell in cells:
        assert cell(x, h).shape == torch.Size([3, 0])


# Original: TestNN.test_RNN_cell_no_broadcasting
def test_RNN_cell_no_broadcasting(nn: Any) -> None:
    input_size, hidden_size = 10, 20

    def raises(cell_cls: Any, x: torch.Tensor, hx: Any) -> None:
        cell = cell_cls(input_size, hidden_size)
        with pytest.raises(RuntimeError):
            cell(x, hx)

    def all_cells(x: torch.Tensor, bad: torch.Tensor, good: torch.Tensor) -> None:
        raises(nn.RNNCell, x, bad)
        raises(nn.GRUCell, x, bad)
        raises(nn.LSTMCell, x, (bad, good))
        raises(nn.LSTMCell, x, (good, bad))

    x = torch.randn(3, input_size)
    good = torch.randn(3, hidden_size)
    all_cells(x, torch.randn(1, hidden_size), good)  # batch size 1 must not broadcast to 3
    all_cells(x, torch.randn(3, 1), good)  # hidden size 1 must not broadcast to 20
    all_cells(torch.randn(3, 1), good, good)  # input size 1 must not broadcast to 10


# Original: TestNN.test_LSTM_cell
def test_LSTM_cell(nn: Any) -> None:
    for bias in (True, False):
        x = torch.randn(3, 10)
        h = torch.randn(3, 20)
        c = torch.randn(3, 20)
        cell = nn.LSTMCell(10, 20, bias=bias)
        for _ in range(6):
            h, c = cell(x, (h, c))
        (h + c).sum().backward()


# Original: TestNN.test_LSTM_cell_forward_input_size
def test_LSTM_cell_forward_input_size(nn: Any) -> None:
    cell = nn.LSTMCell(10, 20)
    with pytest.raises(Exception):  # noqa: B017 - the original asserts any Exception
        cell(torch.randn(3, 11), (torch.randn(3, 20), torch.randn(3, 20)))


# Original: TestNN.test_LSTM_cell_forward_hidden_size
def test_LSTM_cell_forward_hidden_size(nn: Any) -> None:
    x = torch.randn(3, 10)
    h_bad = torch.randn(3, 21)
    c = torch.randn(3, 20)
    cell = nn.LSTMCell(10, 20)
    with pytest.raises(Exception):  # noqa: B017 - the original asserts any Exception
        cell(x, (h_bad, c))
    with pytest.raises(Exception):  # noqa: B017
        cell(x, (c, h_bad))


# Original: TestNN.test_cudnn_forward_exception (runs on the CPU too)
def test_cudnn_forward_exception(nn: Any) -> None:
    cases = [
        (nn.LSTM(10, 20, batch_first=True), (torch.zeros(1, 2, 19), torch.zeros(1, 2, 19))),
        (nn.LSTM(10, 20, batch_first=True, proj_size=10), (torch.zeros(1, 2, 19), torch.zeros(1, 2, 19))),
        (nn.GRU(10, 20, batch_first=True), torch.zeros(1, 2, 19)),
        (nn.RNN(10, 20, batch_first=True), torch.zeros(1, 2, 19)),
    ]
    x_wrong = torch.randn(2, 3, 3)
    x_right = torch.randn(2, 3, 10)
    for layer, hidden in cases:
        with pytest.raises(RuntimeError, match="Expected hidden.*size.*got"):
            layer(x_right, hidden)
        with pytest.raises(RuntimeError, match=re.escape("input.size(-1) must be equal to input_size")):
            layer(x_wrong)


def _with_dim(shape: tuple[int, ...], dim: int, size: int) -> tuple[int, ...]:
    out = list(shape)
    out[dim] = size
    return tuple(out)


# Original: TestNN.test_rnn_args_check
def test_rnn_args_check(nn: Any) -> None:
    input_size, hidden_size, num_layers, batch, seq_len = 3, 5, 2, 4, 6
    bad = 7  # a prime: no size divides it
    good_x = (seq_len, batch, input_size)
    good_h = (num_layers, batch, hidden_size)

    def inputs(x_shape: tuple[int, ...], h_shape: tuple[int, ...], mode: str) -> list[tuple[Any, Any]]:
        x, h = torch.randn(x_shape), torch.randn(h_shape)
        if mode != "LSTM":
            return [(x, h)]
        if h_shape == good_h:
            return [(x, (h, h))]
        ok = torch.randn(good_h)
        return [(x, (h, ok)), (x, (ok, h))]

    def check(x_shape: tuple[int, ...], h_shape: tuple[int, ...], mode: str) -> None:
        for x, h in inputs(x_shape, h_shape, mode):
            layer = getattr(nn, mode)(input_size, hidden_size, num_layers)
            with pytest.raises(RuntimeError):
                layer(x, h)

    for mode in MODES:
        check(_with_dim(good_x, 1, bad), good_h, mode)  # input batch size
        check(good_x, _with_dim(good_h, 1, bad), mode)  # hidden batch size
        check(_with_dim(good_x, 2, bad), good_h, mode)  # input size
        check(good_x, _with_dim(good_h, 2, bad), mode)  # hidden size
        check(good_x, _with_dim(good_h, 0, bad), mode)  # hidden[0]: layers x directions


# Original: TestNN.test_projections_lstm_args_check
def test_projections_lstm_args_check(nn: Any) -> None:
    input_size, hidden_size, proj_size, num_layers, batch, seq_len = 3, 5, 2, 2, 4, 6
    bad = 7
    good_x = (seq_len, batch, input_size)
    good_h = (num_layers, batch, proj_size)
    good_c = (num_layers, batch, hidden_size)

    def check(x_shape: tuple[int, ...], h_shape: tuple[int, ...], c_shape: tuple[int, ...]) -> None:
        layer = nn.LSTM(input_size, hidden_size, num_layers, proj_size=proj_size)
        x, h, c = torch.randn(x_shape), torch.randn(h_shape), torch.randn(c_shape)
        with pytest.raises(RuntimeError):
            layer(x, (h, c))

    check(_with_dim(good_x, 1, bad), good_h, good_c)  # input batch size
    check(good_x, _with_dim(good_h, 1, bad), _with_dim(good_c, 1, bad))  # hidden batch size
    check(_with_dim(good_x, 2, bad), good_h, good_c)  # input size
    check(good_x, _with_dim(good_h, 2, bad), _with_dim(good_c, 2, bad))  # hidden size
    check(good_x, _with_dim(good_h, 0, bad), _with_dim(good_c, 0, bad))  # hidden[0]
    check(good_x, _with_dim(good_h, 0, hidden_size), good_c)  # h's first dim = hidden size
    check(good_x, _with_dim(good_h, 0, bad), good_c)  # h's first dim wrong, c right
    check(good_x, good_h, _with_dim(good_c, 0, bad))  # c's first dim wrong


# Original: TestNN.test_rnn_initial_hidden_state
def test_rnn_initial_hidden_state(nn: Any) -> None:
    for mode in MODES:
        layer = getattr(nn, mode)(30, 20, 2)
        x = torch.randn(10, 32, 30)
        h = torch.zeros(2, 32, 20)
        if mode == "LSTM":
            h = (h, h)
        out1, h1 = layer(x, h)
        out2, h2 = layer(x)
        assert_equal(out1, out2)
        assert_equal(h1, h2)


# Original: TestNN.test_projections_lstm_initial_hidden_state
def test_projections_lstm_initial_hidden_state(nn: Any) -> None:
    for bidirectional in (False, True):
        layer = nn.LSTM(30, 20, 2, bidirectional=bidirectional, proj_size=10)
        d = 2 if bidirectional else 1
        x = torch.randn(10, 32, 30)
        h = (torch.zeros(2 * d, 32, 10), torch.zeros(2 * d, 32, 20))
        out1, h1 = layer(x, h)
        out2, h2 = layer(x)
        assert_equal(out1, out2)
        assert_equal(h1, h2)


# Original: TestNN.test_projections_errors_on_gru_and_rnn
def test_projections_errors_on_gru_and_rnn(nn: Any) -> None:
    for mode in ("RNN", "GRU"):
        with pytest.raises(ValueError, match="proj_size argument is only supported for LSTM, not RNN or GRU"):
            getattr(nn, mode)(30, 20, 2, proj_size=10)


def _copy_all_weights(dst: Any, src_weights: list[list[torch.Tensor]]) -> None:
    for dst_layer, src_layer in zip(dst.all_weights, src_weights):
        for d, s in zip(dst_layer, src_layer):
            d.data.copy_(s.data)


def _forward_backward(layer: Any, is_lstm: bool, x_val: Any, grad_out: torch.Tensor,
                      weights: list[list[torch.Tensor]], h_val: torch.Tensor, grad_h: torch.Tensor,
                      c_val: torch.Tensor | None = None, grad_c: torch.Tensor | None = None) -> dict[str, Any]:
    """One forward and backward with the given weights; returns outputs and gradients (_test_RNN_cpu_vs_cudnn)."""
    _copy_all_weights(layer, weights)
    if isinstance(x_val, rnn_utils.PackedSequence):
        # a new PackedSequence from data and batch_sizes only: sorted_indices is None
        x = rnn_utils.PackedSequence(x_val.data.detach().clone().requires_grad_(True), x_val.batch_sizes)
        x_leaf = x.data
    else:
        x = x_val.clone().requires_grad_(True)
        x_leaf = x
    if is_lstm:
        c0 = h_val.add(1) if c_val is None else c_val.add(1)
        hx: Any = (h_val.clone().requires_grad_(True), c0.requires_grad_(True))
    else:
        hx = h_val.clone().requires_grad_(True)
    out, hy = layer(x, hx)
    if isinstance(out, rnn_utils.PackedSequence):
        out = out.data
    if is_lstm:
        gc = grad_h + 1 if grad_c is None else grad_c + 1
        torch.autograd.backward([out, hy[0], hy[1]], [grad_out, grad_h, gc])
    else:
        torch.autograd.backward([out, hy], [grad_out, grad_h])
    return {"output": out.data,
            "hy": hy[0].data if is_lstm else hy.data,
            "weights": layer.all_weights,
            "grad_input": x_leaf.grad.data,
            "grad_hx": hx[0].grad.data if is_lstm else hx.grad.data,
            "cy": hy[1].data if is_lstm else None,
            "grad_cx": hx[1].grad.data if is_lstm else None}


def _compare_runs(tested: dict[str, Any], reference: dict[str, Any]) -> None:
    assert list(tested.keys()) == list(reference.keys())
    for key in tested:
        if key != "weights":
            assert_equal(tested[key], reference[key], atol=5e-5, rtol=0, msg=key)
    for t_layer, r_layer in zip(tested["weights"], reference["weights"]):
        for t, r in zip(t_layer, r_layer):
            assert_equal(t.grad.data, r.grad.data, atol=5e-5, rtol=0)


def _noncontig(t: torch.Tensor) -> torch.Tensor:
    n = t.dim()
    return torch.stack([t.clone().zero_(), t], n).select(n, 1)


def _rnn_cpu_vs_reference(nn: Any, dropout: float, dtype: torch.dtype = torch.double) -> None:
    """_test_RNN_cpu_vs_cudnn, with torch.nn's class on the CPU in place of the cuDNN run."""
    input_size, hidden_size, proj_size, num_layers, seq_len, batch = 10, 6, 3, 2, 7, 6
    lengths_list = [7, 5, 5, 2, 1, 1]

    def run_pair(mode: str, kwargs: dict[str, Any], x_val: Any, grad_out: torch.Tensor, h_val: torch.Tensor,
                 grad_h: torch.Tensor, c_val: torch.Tensor | None = None, grad_c: torch.Tensor | None = None) -> None:
        tested = getattr(nn, mode)(input_size, hidden_size, num_layers, **kwargs).to(dtype)
        is_lstm = mode == "LSTM"
        got = _forward_backward(tested, is_lstm, x_val, grad_out, tested.all_weights, h_val, grad_h, c_val, grad_c)
        reference = getattr(torch.nn, mode)(input_size, hidden_size, num_layers, **kwargs).to(dtype)
        want = _forward_backward(reference, is_lstm, x_val, grad_out, tested.all_weights, h_val, grad_h, c_val,
                                 grad_c)
        _compare_runs(got, want)

    for mode in ("RNN", "LSTM", "GRU"):
        for bias, bidirectional, batch_first, contig, variable_len, lens_as_tensor in product((True, False), repeat=6):
            d = 2 if bidirectional else 1
            if batch_first:
                x_val = torch.randn(batch, seq_len, input_size, dtype=dtype)
                grad_out = torch.randn(batch, seq_len, hidden_size * d, dtype=dtype)
            else:
                x_val = torch.randn(seq_len, batch, input_size, dtype=dtype)
                grad_out = torch.randn(seq_len, batch, hidden_size * d, dtype=dtype)
            h_val = torch.randn(num_layers * d, batch, hidden_size, dtype=dtype)
            grad_h = torch.randn(num_layers * d, batch, hidden_size, dtype=dtype)
            if not contig:
                # as in the original, the input itself stays contiguous (it assigns its copy to an unused name)
                grad_out, grad_h, h_val = _noncontig(grad_out), _noncontig(grad_h), _noncontig(h_val)
            if variable_len:
                lengths: Any = torch.tensor(lengths_list, dtype=torch.long) if lens_as_tensor else lengths_list
                x_val = rnn_utils.pack_padded_sequence(x_val, lengths, batch_first=batch_first)
                grad_out = rnn_utils.pack_padded_sequence(grad_out, lengths, batch_first=batch_first).data
            kwargs = {"bias": bias, "dropout": dropout, "bidirectional": bidirectional, "batch_first": batch_first}
            run_pair(mode, kwargs, x_val, grad_out, h_val, grad_h)

    # both nonlinearities; the original reuses bias=False and num_directions=1 left over from the loop above
    for nonlinearity in ("tanh", "relu"):
        h_val = torch.randn(num_layers, batch, hidden_size, dtype=dtype)
        x_val = torch.randn(seq_len, batch, input_size, dtype=dtype)
        grad_out = torch.randn(seq_len, batch, hidden_size, dtype=dtype)
        grad_h = torch.randn(num_layers, batch, hidden_size, dtype=dtype)
        run_pair("RNN", {"bias": False, "nonlinearity": nonlinearity}, x_val, grad_out, h_val, grad_h)

    # LSTM with projections
    for bias, bidirectional, batch_first, contig, variable_len, lens_as_tensor in product((True, False), repeat=6):
        d = 2 if bidirectional else 1
        if batch_first:
            x_val = torch.randn(batch, seq_len, input_size, dtype=dtype)
            grad_out = torch.randn(batch, seq_len, proj_size * d, dtype=dtype)
        else:
            x_val = torch.randn(seq_len, batch, input_size, dtype=dtype)
            grad_out = torch.randn(seq_len, batch, proj_size * d, dtype=dtype)
        h_val = torch.randn(num_layers * d, batch, proj_size, dtype=dtype)
        c_val = torch.randn(num_layers * d, batch, hidden_size, dtype=dtype)
        grad_h = torch.randn(num_layers * d, batch, proj_size, dtype=dtype)
        grad_c = torch.randn(num_layers * d, batch, hidden_size, dtype=dtype)
        if not contig:
            grad_out, grad_h, grad_c = _noncontig(grad_out), _noncontig(grad_h), _noncontig(grad_c)
            h_val, c_val = _noncontig(h_val), _noncontig(c_val)
        if variable_len:
            lengths = torch.tensor(lengths_list, dtype=torch.long) if lens_as_tensor else lengths_list
            x_val = rnn_utils.pack_padded_sequence(x_val, lengths, batch_first=batch_first)
            grad_out = rnn_utils.pack_padded_sequence(grad_out, lengths, batch_first=batch_first).data
        kwargs = {"bias": bias, "dropout": dropout, "bidirectional": bidirectional, "batch_first": batch_first,
                  "proj_size": proj_size}
        run_pair("LSTM", kwargs, x_val, grad_out, h_val, grad_h, c_val, grad_c)


# Original: TestNN.test_RNN_cpu_vs_cudnn_no_dropout (CPU part: reference is torch.nn on the CPU)
def test_RNN_cpu_vs_cudnn_no_dropout(nn: Any) -> None:
    _rnn_cpu_vs_reference(nn, 0, torch.double)


# Original: TestNN.test_RNN_cpu_vs_cudnn_with_dropout (CPU part; dropout 1 is deterministic)
def test_RNN_cpu_vs_cudnn_with_dropout(nn: Any) -> None:
    _rnn_cpu_vs_reference(nn, 1)


# Original: TestNN.test_RNN_cudnn_weight_norm (CPU part: the CUDA move is dropped)
def test_RNN_cudnn_weight_norm(nn: Any) -> None:
    input_size, hidden_size, num_layers, seq_len, batch = 10, 6, 2, 7, 6

    def check(layer: Any, name: str) -> None:
        x = torch.randn(seq_len, batch, input_size)
        expected = layer(x)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            layer = torch.nn.utils.weight_norm(layer, name=name)
        assert_equal(layer(x), expected)
        layer = torch.nn.utils.remove_weight_norm(layer, name=name)
        assert_equal(layer(x), expected)

    check(nn.LSTM(input_size, hidden_size, num_layers), "weight_hh_l0")
    check(nn.LSTM(input_size, hidden_size, num_layers, proj_size=3), "weight_hr_l0")


# Original: TestNN.test_partial_flat_weights (CUDA-only; here the device move is .cpu())
def test_partial_flat_weights(nn: Any) -> None:
    layer = nn.LSTM(10, 6, 2)
    x = torch.randn(3, 2, 10)
    expected = layer(x)
    weight = layer.weight_hh_l0
    del layer.weight_hh_l0
    assert not hasattr(layer, "weight_hh_l0")
    layer.cpu()  # moving with a weight missing must not raise
    layer.weight_hh_l0 = weight
    assert_equal(layer(x)[0], expected[0])


# Original: TestNN.test_RNN_dropout (CPU part)
def test_RNN_dropout(nn: Any) -> None:
    # checks that dropout sits between the layers
    with default_dtype(torch.double):
        for p in (0, 0.276, 0.731, 1):
            for train in (True, False):
                layer = nn.RNN(10, 1000, 2, bias=False, dropout=p, nonlinearity="relu")
                layer.train(train)
                for name in ("weight_ih_l0", "weight_hh_l0", "weight_ih_l1", "weight_hh_l1"):
                    getattr(layer, name).data.fill_(1)
                out, hy = layer(torch.ones(1, 1, 10), torch.zeros(2, 1, 1000))
                assert_equal(out.data.min(), out.data.max())
                val = out.data[0][0][0]
                if p == 0 or not train:
                    assert_equal(val, 10000)
                elif p == 1:
                    assert_equal(val, 0)
                else:
                    assert val > 8000
                    assert val < 12000
                    denorm_mod = (val * (1 - p)) % 10
                    assert min(denorm_mod, 10 - denorm_mod) < 1e-2
                assert_equal(hy[0].data.min(), hy[0].data.max())
                assert_equal(hy[1].data.min(), hy[1].data.max())
                assert_equal(hy.data[0][0][0], 10)
                assert_equal(hy.data[1][0][0], val)


# Original: TestNN.test_error_RNN_seq_len_zero (CPU part)
def test_error_RNN_seq_len_zero(nn: Any) -> None:
    with default_dtype(torch.double):
        for mode in MODES:
            for bidirectional in (True, False):
                layer = getattr(nn, mode)(5, 6, bidirectional=bidirectional)
                with pytest.raises(RuntimeError, match="Expected sequence length to be larger than 0 in RNN"):
                    layer(torch.ones(0, 10, 5))


# Original: TestNN.test_RNN_input_size_zero (CPU part)
def test_RNN_input_size_zero(nn: Any) -> None:
    for mode in MODES:
        layer = getattr(nn, mode)(input_size=3, hidden_size=4)
        outs = layer(torch.zeros((5, 0, 3)))
        assert outs[0].shape == torch.Size([5, 0, 4])
        outs[0].sum().backward()  # must not raise


# Original: TestNN.test_RNN_dropout_state (CPU part)
def test_RNN_dropout_state(nn: Any) -> None:
    for p in (0, 0.1234):
        for train in (True, False):
            layer = nn.RNN(100, 100, 2, bias=False, dropout=p, nonlinearity="relu")
            layer.train(train)
            x = torch.rand(1, 1, 100)
            hx = torch.rand(2, 1, 100)
            out1, hy1 = layer(x, hx)
            out2, hy2 = layer(x, hx)
            buf = io.BytesIO()
            torch.save(layer, buf)
            buf.seek(0)
            layer2 = torch.load(buf, weights_only=False)
            layer2.flatten_parameters()
            out3, hy3 = layer2(x, hx)
            if p == 0 or not train:
                assert_equal(out1, out2)
                assert_equal(out1, out3)
                assert_equal(hy1, hy2)
                assert_equal(hy1, hy3)
            else:
                assert_not_equal(out1, out2)
                assert_not_equal(out1, out3)
                assert_not_equal(hy1, hy2)
                assert_not_equal(hy1, hy3)


# Original: TestNN.test_RNN_change_dropout (CPU part)
def test_RNN_change_dropout(nn: Any) -> None:
    with default_dtype(torch.double):
        for train in (True, False):
            layer = nn.RNN(100, 100, 2, dropout=0, nonlinearity="relu")
            x = torch.rand(3, 2, 100)
            layer.train(train)
            prev = None
            for p in (0, 0.5, 0, 0.7, 0.2, 1, 0.2, 0):
                layer.dropout = p
                out1, hy1 = layer(x)
                out2, hy2 = layer(x)
                if p == 0 or p == 1 or not train:
                    assert_equal(out1, out2)
                    assert_equal(hy1, hy2)
                else:
                    assert_not_equal(out1, out2)
                    assert_not_equal(hy1, hy2)
                if prev is not None:
                    if not train:
                        assert_equal(out1.data, prev)
                        assert_equal(out2.data, prev)
                    else:
                        assert_not_equal(out1.data, prev)
                        assert_not_equal(out2.data, prev)
                prev = out1.data


# --- TestNNDeviceType (CPU) -----------------------------------------------------------------

# Original: TestNNDeviceType.test_rnn_fused (onlyCUDA; the device run is torch.nn on the CPU here)
@pytest.mark.parametrize("dtype", [torch.float, torch.double], ids=["float32", "float64"])
def test_rnn_fused(nn: Any, dtype: torch.dtype) -> None:
    input_size, hidden_size, num_layers, seq_len, batch = 10, 6, 2, 7, 6
    x_val = torch.randn(seq_len, batch, input_size, dtype=dtype)
    grad_out = torch.randn(seq_len, batch, hidden_size, dtype=dtype)
    h_val = torch.randn(num_layers, batch, hidden_size, dtype=dtype)
    grad_h = torch.randn(num_layers, batch, hidden_size, dtype=dtype)
    for mode in ("GRU", "LSTM"):
        for bias in (True, False):
            reference = getattr(torch.nn, mode)(input_size, hidden_size, num_layers, bias=bias).to(dtype)
            tested = getattr(nn, mode)(input_size, hidden_size, num_layers, bias=bias).to(dtype)
            _copy_all_weights(tested, reference.all_weights)
            if mode == "LSTM":
                hx: Any = (h_val.clone().requires_grad_(True), h_val.clone().add(1).requires_grad_(True))
                hx_t: Any = (h_val.clone().requires_grad_(True), h_val.clone().add(1).requires_grad_(True))
            else:
                hx = h_val.clone().requires_grad_(True)
                hx_t = h_val.clone().requires_grad_(True)
            x = x_val.clone().requires_grad_(True)
            x_t = x_val.clone().requires_grad_(True)
            out1, hy1 = reference(x, hx)
            out2, hy2 = tested(x_t, hx_t)
            if mode == "LSTM":
                torch.autograd.backward([out1, hy1[0], hy1[1]], [grad_out, grad_h, grad_h + 1])
                torch.autograd.backward([out2, hy2[0], hy2[1]], [grad_out, grad_h, grad_h + 1])
            else:
                torch.autograd.backward([out1, hy1], [grad_out, grad_h])
                torch.autograd.backward([out2, hy2], [grad_out, grad_h])
            assert_equal(out1, out2)
            assert_equal(hy1, hy2)
            for r_layer, t_layer in zip(reference.all_weights, tested.all_weights):
                for r, t in zip(r_layer, t_layer):
                    assert_equal(r.grad, t.grad, atol=5e-5, rtol=0)
            assert_equal(x.grad, x_t.grad)
            if mode == "LSTM":
                assert_equal(hx[0].grad, hx_t[0].grad)
                assert_equal(hx[1].grad, hx_t[1].grad)
            else:
                assert_equal(hx.grad, hx_t.grad)


# Original: TestNNDeviceType.test_save_lstm_compatibility
def test_save_lstm_compatibility(nn: Any) -> None:
    # an LSTM pickled before PyTorch 1.8 has no proj_size
    model = nn.LSTM(2, 3)
    x = torch.randn(32, 5, 2)
    expected = model(x)
    assert model.proj_size == 0
    state = model.__dict__
    del state["proj_size"]
    loaded = nn.LSTM(2, 3)
    loaded.__setstate__(state)
    assert_equal(loaded(x), expected)


# Original: TestNNDeviceType.test_rnn_retain_variables (CPU dtype: double)
def test_rnn_retain_variables(nn: Any) -> None:
    dtype = torch.double
    for layer in (nn.LSTM(10, 20, num_layers=2).to(dtype), nn.GRU(10, 20, num_layers=2).to(dtype),
                  nn.RNN(10, 20, num_layers=2).to(dtype)):
        x = torch.randn(5, 6, 10, dtype=dtype, requires_grad=True)
        out = layer(x)
        out[0].sum().backward(retain_graph=True)
        grads = [x.grad.data.clone()] + [p.grad.data.clone() for p in layer.parameters()]
        for _ in range(4):
            layer.zero_grad()
            x.grad.data.zero_()
            out[0].sum().backward(retain_graph=True)
            assert_equal(grads, [x.grad.data] + [p.grad.data for p in layer.parameters()])


# Original: TestNNDeviceType.test_lstmcell_backward_only_one_output_grad (onlyCUDA; run on the CPU)
def test_lstmcell_backward_only_one_output_grad(nn: Any) -> None:
    # an undefined gradient for h or c must not break the backward (pytorch#11872)
    cell = nn.LSTMCell(2, 3).to(dtype=torch.double)
    s = torch.randn(1, 2, dtype=torch.double, requires_grad=True)
    for i in range(2):
        cell(s)[i].sum().backward()
        assert not (s.grad is None or s.grad.abs().sum().item() == 0)


def _flatten_out(module: Any, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
    out = module(x)
    return tuple(t if isinstance(t, torch.Tensor) else tt for t in out for tt in t)


def _check_rnn_mod(module: Any, x: torch.Tensor) -> None:
    fn = partial(_flatten_out, module)
    assert gradcheck(fn, x, check_batched_grad=False)
    assert gradgradcheck(fn, x, check_batched_grad=False)


# Original: TestNNDeviceType.test_LSTM_grad_and_gradgrad
def test_LSTM_grad_and_gradgrad(nn: Any) -> None:
    hsize = 4
    x = torch.rand(1, 3, hsize, dtype=torch.double, requires_grad=True)
    for bias in (True, False):
        _check_rnn_mod(nn.LSTM(hsize, hsize, bias=bias).to(torch.double), x)


# Original: TestNNDeviceType.test_GRU_grad_and_gradgrad
def test_GRU_grad_and_gradgrad(nn: Any) -> None:
    hsize = 4
    x = torch.rand(1, 3, hsize, dtype=torch.double, requires_grad=True)
    for bias in (True, False):
        _check_rnn_mod(nn.GRU(hsize, hsize, bias=bias).to(torch.double), x)


# Original: TestNNDeviceType.test_LSTM_differentiable_backward_using_oneDNN (its dtype argument is unused)
def test_LSTM_differentiable_backward_using_oneDNN(nn: Any) -> None:
    batch, seq_len, inp = 10, 12, 3
    net = nn.LSTM(inp, 3, 20, batch_first=True)
    deepcopy(net)  # the original makes a copy it does not use
    x = torch.rand(batch, seq_len, inp)
    x1 = x.clone().requires_grad_(True)
    x2 = x.clone().requires_grad_(True)
    was_enabled = torch._C._get_mkldnn_enabled()
    try:
        torch._C._set_mkldnn_enabled(False)
        out1, _ = net(x1)
        d1 = torch.autograd.grad(out1, x1, grad_outputs=torch.ones_like(out1), retain_graph=True,
                                 create_graph=True)[0]
        d1.sum().backward(retain_graph=True)
        torch._C._set_mkldnn_enabled(True)
        out2, _ = net(x2)
        d2 = torch.autograd.grad(out2, x2, grad_outputs=torch.ones_like(out2), retain_graph=True,
                                 create_graph=True)[0]
        d2.sum().backward(retain_graph=True)
    finally:
        torch._C._set_mkldnn_enabled(was_enabled)
    assert torch.allclose(d1, d2)
    assert torch.allclose(x1.grad, x2.grad)


# Original: TestNNDeviceType.test_variable_sequence (CPU dtype: float)
def test_variable_sequence(nn: Any) -> None:
    dtype = torch.float
    prec = DTYPE_PREC[dtype]

    def pad(t: torch.Tensor, length: int) -> torch.Tensor:
        if t.size(0) == length:
            return t
        return torch.cat([t, t.new_zeros(length - t.size(0), *t.size()[1:])])

    def column(state: Any, i: int) -> Any:
        return None if state is None else tuple(state[j][:, i:i + 1, :].contiguous() for j in range(2))

    def check(lengths: list[int], enforce_sorted: bool, default_hiddens: bool, proj_size: int) -> None:
        input_size, hidden_size, num_layers, d = 3, 4, 2, 2
        max_len = max(lengths)
        x_leaf = torch.randn(max_len, len(lengths), input_size, dtype=dtype, requires_grad=True)
        lstm = nn.LSTM(input_size, hidden_size, bidirectional=True, num_layers=num_layers,
                       proj_size=proj_size).to(dtype=dtype)
        lstm2 = deepcopy(lstm).to(dtype=dtype)
        x = x_leaf
        h0 = None
        if not default_hiddens:
            out_size = hidden_size if proj_size == 0 else proj_size
            h0 = (torch.randn(d * num_layers, len(lengths), out_size, dtype=dtype),
                  torch.randn(d * num_layers, len(lengths), hidden_size, dtype=dtype))
        # each sequence on its own
        seq_outs, seq_hiddens = [], []
        for i, n in enumerate(lengths):
            out, hid = lstm2(x[:n, i:i + 1], column(h0, i))
            seq_outs.append(pad(out, max_len))
            seq_hiddens.append(hid)
        seq_out = torch.cat(seq_outs, 1)
        seq_hidden = tuple(torch.cat(hs, 1) for hs in zip(*seq_hiddens))
        # all at once, packed
        packed = rnn_utils.pack_padded_sequence(x, lengths, enforce_sorted=enforce_sorted)
        packed_out, packed_hidden = lstm(packed, h0)
        unpacked, unpacked_len = rnn_utils.pad_packed_sequence(packed_out)
        # forward
        assert_equal(packed_hidden, seq_hidden, atol=prec, rtol=0)
        assert_equal(unpacked, seq_out, atol=prec, rtol=0)
        assert_equal(unpacked_len, lengths, atol=prec, rtol=0)
        # backward
        seq_out.sum().backward()
        grad_x = x_leaf.grad.data.clone()
        x_leaf.grad.data.zero_()
        unpacked.sum().backward()
        assert_equal(x_leaf.grad, grad_x, atol=prec, rtol=0)
        for p1, p2 in zip(lstm.parameters(), lstm2.parameters()):
            assert_equal(p1.grad, p2.grad, atol=2e-4, rtol=0)  # the original's float32 precision

    cases = [
        (True, [5]),
        (False, [5]),
        (True, [10, 10, 6, 2, 2, 1, 1]),
        (False, [10, 10, 6, 2, 2, 1, 1]),
        (False, [2, 1, 3, 2, 10, 5, 3]),
    ]
    for enforce_sorted, lengths in cases:
        for default_hiddens in (True, False):
            for proj_size in (0, 2):
                check(lengths, enforce_sorted, default_hiddens, proj_size)
