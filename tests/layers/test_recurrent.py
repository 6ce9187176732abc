"""``Recurrent`` runs a user's own cell with the same stacking, direction and lengths."""

from __future__ import annotations

import pytest
import torch

import rnnkit
from rnnkit.cells import Cell
from rnnkit.state import LSTMState
from tests.conftest import rel_err


class PeepholeLSTMCell(Cell):
    """A user's cell with a structured state: LSTM with peepholes (Gers & Schmidhuber 2000)."""

    gates = 4

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        self.ih = torch.nn.Linear(input_size, 4 * hidden_size, dtype=torch.float64)
        self.hh = torch.nn.Linear(hidden_size, 4 * hidden_size, bias=False, dtype=torch.float64)
        self.peep = torch.nn.Parameter(torch.randn(3, hidden_size, dtype=torch.float64) * 0.1)

    def project(self, x):
        return self.ih(x)

    def initial_state(self, batch, *, dtype=None, device=None):
        z = torch.zeros(batch, self.hidden_size, dtype=dtype, device=device)
        return LSTMState(z, z.clone())

    def step(self, xp_t, state):
        h, c = state
        i, f, g, o = (xp_t + self.hh(h)).chunk(4, -1)
        i = torch.sigmoid(i + self.peep[0] * c)
        f = torch.sigmoid(f + self.peep[1] * c)
        c = f * c + i * torch.tanh(g)
        o = torch.sigmoid(o + self.peep[2] * c)
        h = o * torch.tanh(c)
        return h, LSTMState(h, c)


def by_hand(cell, x, lengths=None, reverse=False):
    """Loop over each sequence separately: the obvious, slow, correct answer."""
    T, B, _ = x.shape
    outs = torch.zeros(T, B, cell.output_size, dtype=x.dtype)
    finals = []
    for b in range(B):
        L = T if lengths is None else int(lengths[b])
        state = cell.initial_state(1, dtype=x.dtype)
        steps = range(L - 1, -1, -1) if reverse else range(L)
        for t in steps:
            h, state = cell.step(cell.project(x[t, b:b + 1]), state)
            outs[t, b] = h[0]
        finals.append(state)
    return outs, finals


@pytest.mark.parametrize("use_lengths", [False, True])
def test_user_cell_bidirectional_with_lengths(use_lengths):
    torch.manual_seed(0)
    layer = rnnkit.Recurrent(PeepholeLSTMCell(3, 4), bidirectional=True)
    x = torch.randn(5, 3, 3, dtype=torch.float64)
    lengths = torch.tensor([2, 5, 4]) if use_lengths else None
    out, final = layer(x, lengths=lengths)
    assert isinstance(final, LSTMState) and final.h.shape == (2, 3, 4)
    assert layer.backend_used == "reference"
    for d in range(2):
        want, fins = by_hand(layer.cells[d], x, lengths, reverse=d == 1)
        assert rel_err(out[..., 4 * d: 4 * (d + 1)], want) <= 1e-12
        for b in range(3):
            assert rel_err(final.h[d, b], fins[b].h[0]) <= 1e-12
            assert rel_err(final.c[d, b], fins[b].c[0]) <= 1e-12


def test_user_cell_stacked_with_a_factory_and_batch_first():
    layer = rnnkit.Recurrent(lambda i: PeepholeLSTMCell(i, 4), input_size=3, num_layers=3, batch_first=True)
    out, final = layer(torch.randn(2, 6, 3, dtype=torch.float64))
    assert out.shape == (2, 6, 4) and final.c.shape == (3, 2, 4)
    out.sum().backward()
    assert all(p.grad is not None for p in layer.parameters())


def test_stacking_a_cell_instance_needs_a_factory():
    with pytest.raises(ValueError, match="pass a factory"):
        rnnkit.Recurrent(PeepholeLSTMCell(3, 4), num_layers=2)


def test_bidirectional_copies_get_their_own_parameters():
    layer = rnnkit.Recurrent(PeepholeLSTMCell(3, 4), bidirectional=True)
    assert layer.cells[0].peep.data_ptr() != layer.cells[1].peep.data_ptr()
    assert not torch.equal(layer.cells[0].ih.weight, layer.cells[1].ih.weight)


def test_builtin_cells_in_recurrent_match_torch_nn():
    torch.manual_seed(0)
    layer = rnnkit.Recurrent(lambda i: rnnkit.GRUCell(i, 5, dtype=torch.float64), input_size=3,
                             num_layers=2, bidirectional=True)
    ref = torch.nn.GRU(3, 5, num_layers=2, bidirectional=True, dtype=torch.float64)
    for k in range(2):
        for d, sfx in enumerate(["", "_reverse"]):
            cell = layer.cells[2 * k + d]
            for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                getattr(cell, n).data.copy_(getattr(ref, f"{n}_l{k}{sfx}"))
    x = torch.randn(4, 2, 3, dtype=torch.float64)
    out, h = layer(x)
    assert layer.backend_used == "fused"
    ref_out, ref_h = ref(x)
    assert rel_err(out, ref_out) <= 1e-12 and rel_err(h, ref_h) <= 1e-12


def test_not_a_cell():
    with pytest.raises(TypeError, match="must be a Cell or a factory"):
        rnnkit.Recurrent(3)
    with pytest.raises(TypeError, match="Linear lacks 'input_size'"):
        rnnkit.Recurrent(torch.nn.Linear(3, 4))
