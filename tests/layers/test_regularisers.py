"""The layers' regularisers: recurrent dropout, zoneout, weight drop, input dropout."""

from __future__ import annotations

import io

import pytest
import torch

import rnnkit
from rnnkit.cells import Cell
from tests.conftest import rel_err, weighted_sum

D64 = torch.float64
LAYERS = {"lstm": rnnkit.LSTM, "gru": rnnkit.GRU, "rnn": rnnkit.RNN}
ALL = dict(recurrent_dropout=0.3, zoneout=0.2, weight_drop=0.25, input_dropout=0.1)


def _run(layer, x, lengths, seed):
    torch.manual_seed(seed)
    out, fin = layer(x, lengths=lengths)
    leaves = [out] + ([fin] if isinstance(fin, torch.Tensor) else list(fin))
    grads = torch.autograd.grad(weighted_sum(leaves), [x, *layer.parameters()])
    return leaves, grads


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("kind", list(LAYERS))
def test_fused_equals_reference_with_every_regulariser(kind, bidirectional):
    torch.manual_seed(0)
    layer = LAYERS[kind](3, 5, num_layers=2, bidirectional=bidirectional, dtype=D64, **ALL)
    x = torch.randn(7, 4, 3, dtype=D64, requires_grad=True)
    lengths = torch.tensor([7, 2, 5, 7])
    runs = {}
    for backend in ("fused", "reference"):
        layer.backend = backend
        runs[backend] = _run(layer, x, lengths, seed=11)
        assert layer.backend_used == backend
    for a, b in zip(runs["fused"][0] + list(runs["fused"][1]), runs["reference"][0] + list(runs["reference"][1])):
        assert rel_err(a, b) <= 1e-9
    # the masks did something: a different seed, different numbers
    other = _run(layer, x, lengths, seed=12)[0][0]
    assert rel_err(other, runs["reference"][0][0]) > 1e-3


@pytest.mark.parametrize("kind", list(LAYERS))
def test_off_in_eval_mode_and_zero_is_torch_nn(kind):
    torch.manual_seed(0)
    reg = LAYERS[kind](3, 5, num_layers=2, dtype=D64, recurrent_dropout=0.5, weight_drop=0.5, input_dropout=0.5)
    plain = getattr(torch.nn, {"lstm": "LSTM", "gru": "GRU", "rnn": "RNN"}[kind])(3, 5, num_layers=2, dtype=D64)
    plain.load_state_dict(reg.state_dict())
    x = torch.randn(6, 2, 3, dtype=D64)
    reg.eval()
    assert rel_err(reg(x)[0], plain(x)[0]) <= 1e-12
    if kind == "lstm":
        assert reg.backend_used == "native"  # nothing inside the loop in eval: torch's kernel runs
    zero = LAYERS[kind](3, 5, dtype=D64, recurrent_dropout=0.0, zoneout=0.0)
    plain1 = getattr(torch.nn, {"lstm": "LSTM", "gru": "GRU", "rnn": "RNN"}[kind])(3, 5, dtype=D64)
    plain1.load_state_dict(zero.state_dict())
    assert rel_err(zero(x)[0], plain1(x)[0]) <= 1e-12


def test_zoneout_in_eval_mixes_with_p_deterministically():
    torch.manual_seed(0)
    layer = rnnkit.GRU(3, 4, dtype=D64, zoneout=0.4).eval()
    x = torch.randn(5, 2, 3, dtype=D64)
    a, b = layer(x)[0], layer(x)[0]
    assert torch.equal(a, b)
    cell = rnnkit.GRUCell(3, 4, dtype=D64)
    cell.load_state_dict({k.replace("_l0", ""): v for k, v in layer.state_dict().items()})
    h = torch.zeros(2, 4, dtype=D64)
    for t in range(5):
        h = 0.4 * h + 0.6 * cell(x[t], h)
    assert rel_err(a[-1], h) <= 1e-12


def test_weight_drop_runs_on_torchs_kernel_and_masks_are_seeded():
    torch.manual_seed(0)
    layer = rnnkit.LSTM(4, 8, weight_drop=0.5)
    x = torch.randn(5, 3, 4)
    torch.manual_seed(1)
    a = layer(x)[0]
    assert layer.backend_used == "native"
    torch.manual_seed(1)
    b = layer(x)[0]
    torch.manual_seed(2)
    c = layer(x)[0]
    assert torch.equal(a, b) and not torch.allclose(a, c)
    assert set(layer.state_dict()) == set(torch.nn.LSTM(4, 8).state_dict())  # no renamed weights
    layer.eval()
    assert rel_err(layer(x)[0], torch.nn.LSTM.forward(layer, x)[0]) <= 1e-6


def test_auto_leaves_torchs_kernel_only_while_masks_are_in_the_loop():
    layer = rnnkit.LSTM(4, 8, recurrent_dropout=0.2)
    x = torch.randn(5, 3, 4)
    layer(x)
    assert layer.backend_used == "fused"
    layer.eval()
    layer(x)
    assert layer.backend_used == "native"


def test_bad_values_and_native_are_refused_clearly():
    with pytest.raises(ValueError, match=r"LSTM: zoneout must be a number in \[0, 1\), got 1"):
        rnnkit.LSTM(3, 4, zoneout=1)
    with pytest.raises(ValueError, match=r"GRU: recurrent_dropout must be a number in \[0, 1\), got -0.1"):
        rnnkit.GRU(3, 4, recurrent_dropout=-0.1)
    with pytest.raises(ValueError, match="recurrent_dropout run inside rnnkit's time loop.*backend='auto'"):
        rnnkit.LSTM(3, 4, recurrent_dropout=0.1, backend="native")
    rnnkit.LSTM(3, 4, weight_drop=0.1, backend="native")  # DropConnect needs no loop of ours


def test_traced_while_regularised_is_refused_in_training_and_fine_in_eval():
    layer = rnnkit.LSTM(3, 4, weight_drop=0.3)
    x = torch.randn(5, 2, 3)
    with pytest.raises(ValueError, match="runs torch.nn's forward; it has no weight_drop=0.3"):
        torch.jit.trace(layer, x, check_trace=False)
    layer.eval()
    traced = torch.jit.trace(layer, x)
    assert rel_err(traced(x)[0], layer(x)[0]) <= 1e-6


def test_saved_and_loaded_with_its_regularisers():
    layer = rnnkit.GRU(3, 4, recurrent_dropout=0.2, zoneout=0.1)
    buf = io.BytesIO()
    torch.save(layer, buf)
    buf.seek(0)
    back = torch.load(buf)
    assert (back.recurrent_dropout, back.zoneout, back.weight_drop) == (0.2, 0.1, 0.0)
    assert "zoneout=0.1" in repr(back)


class _MyCell(Cell):
    def __init__(self):
        super().__init__()
        self.input_size, self.hidden_size = 3, 4
        self.lin = torch.nn.Linear(7, 4)

    def project(self, x):
        return x

    def step(self, xp_t, h):
        h = torch.tanh(self.lin(torch.cat([xp_t, h], -1)))
        return h, h


def test_a_users_cell_with_zoneout_gets_a_clear_error():
    layer = rnnkit.Recurrent(_MyCell(), zoneout=0.1)
    with pytest.raises(ValueError, match="zoneout need a built-in cell"):
        layer(torch.randn(4, 2, 3))
    layer = rnnkit.Recurrent(_MyCell(), weight_drop=0.1)
    with pytest.raises(ValueError, match="weight_drop needs a cell with a weight_hh"):
        layer(torch.randn(4, 2, 3))


def test_recurrent_with_builtin_cells_takes_the_regularisers():
    torch.manual_seed(0)
    layer = rnnkit.Recurrent(rnnkit.LSTMCell(3, 4, dtype=D64), num_layers=1, **ALL)
    x = torch.randn(5, 2, 3, dtype=D64, requires_grad=True)
    layer.backend = "fused"
    a = _run(layer, x, None, seed=5)
    layer.backend = "reference"
    b = _run(layer, x, None, seed=5)
    for p, q in zip(a[0] + list(a[1]), b[0] + list(b[1])):
        assert rel_err(p, q) <= 1e-9
