"""Hidden units over text: the recomputed states are the model's own, the properties are what they say,
and the ranking finds a unit that tracks a property (and none in noise)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rnnkit.diagnostics.report import units
from rnnkit.diagnostics.report.properties import properties
from rnnkit.models.lm import LanguageModel, LMConfig

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_unroll_gives_the_models_own_states(cell: str):
    torch.manual_seed(0)
    model = LanguageModel(LMConfig(cell=cell, embed_size=6, hidden_size=10, num_layers=2, dropout=0.0,
                                   vocab_size=12)).eval()
    ids = torch.randint(0, 12, (1, 30))
    emb = model.embed(ids)
    traces = units.unroll(model.rnn, emb)
    out, state = model.rnn(emb)
    assert len(traces) == 2
    torch.testing.assert_close(traces[-1].h, out[0], atol=1e-5, rtol=1e-5)
    h_n = state[0] if cell == "lstm" else state
    for k in range(2):
        torch.testing.assert_close(traces[k].h[-1], h_n[k, 0], atol=1e-5, rtol=1e-5)
    if cell == "lstm":
        torch.testing.assert_close(traces[1].c[-1], state[1][1, 0], atol=1e-5, rtol=1e-5)
        assert set(traces[0].gates) == {"input", "forget", "output"}
        assert all(((g >= 0) & (g <= 1)).all() for g in traces[0].gates.values())
    elif cell == "gru":
        assert set(traces[0].gates) == {"reset", "update"} and traces[0].c is None
    else:
        assert traces[0].gates == {}


def test_properties_of_a_text():
    toks = list('AB:\n  x("q")\n')
    p = properties(toks)
    assert p["position in line"].tolist() == [0, 1, 2, 3, 0, 1, 2, 3, 4, 5, 6, 7, 8]
    assert p["after a line break"].tolist() == [1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]
    assert p["indentation depth"][4:8].tolist() == [1, 2, 2, 2]
    assert p["inside parentheses"][7:12].tolist() == [1, 1, 1, 1, 0]
    assert p["inside quotes"][8:11].tolist() == [1, 1, 0]
    assert p["all-caps line"][:3].tolist() == [1, 1, 1] and p["all-caps line"][6] == 0
    words = properties(["to", "be", "\n", "or", "not"], newline="\n")
    assert words["position in line"].tolist() == [0, 1, 2, 0, 1]


def test_the_ranking_finds_a_planted_unit_and_nothing_in_noise():
    rng = np.random.default_rng(0)
    toks = list("the quick brown fox jumps\n" * 40)
    props = properties(toks)
    T = len(toks)
    h = torch.tensor(rng.normal(size=(T, 8)), dtype=torch.float32)
    h[:, 5] = torch.tensor(props["position in line"] / 25 + rng.normal(scale=0.05, size=T), dtype=torch.float32)
    ranked = units.rank_units([units.LayerTrace(torch.tanh(h))], props, top=3)
    assert (ranked[0].unit, ranked[0].prop, ranked[0].kind) == (5, "position in line", "h")
    assert ranked[0].r > 0.95
    assert all(abs(r.r) < 0.2 for r in ranked[1:])  # the other units are noise
    noise = units.rank_units([units.LayerTrace(torch.tensor(rng.normal(size=(T, 8)), dtype=torch.float32))], props)
    assert max(abs(r.r) for r in noise) < 0.2
    best = {r.prop: r for r in units.best_per_property([units.LayerTrace(torch.tanh(h))], props)}
    assert best["position in line"].unit == 5 and "inside quotes" not in best  # constant here: not ranked


def test_saturation_fractions():
    g = torch.tensor([[0.05, 0.5, 0.95], [0.05, 0.5, 0.5], [0.5, 0.95, 0.95], [0.01, 0.5, 0.99]])
    (left, right), = units.saturation([units.LayerTrace(torch.zeros(4, 3), None, {"forget": g})])[0].values()
    assert left.tolist() == [0.75, 0.0, 0.0] and right.tolist() == [0.0, 0.25, 0.75]


def test_a_cell_it_cannot_recompute_is_refused():
    from rnnkit.layers.variants import MinGRU

    with pytest.raises(ValueError, match="can't recompute"):
        units.unroll(MinGRU(4, 4, 1, batch_first=True), torch.zeros(1, 3, 4))
