"""MusicModel: the condition sets the initial state; seeded sampling; masks and banned tokens."""

from __future__ import annotations

import pytest
import torch

from rnnkit.models.music import MusicConfig, MusicModel
from rnnkit.models.sampling import SampleConfig, sample_batch

pytestmark = pytest.mark.usefixtures("one_thread")


def _model(cell: str = "lstm") -> MusicModel:
    torch.manual_seed(0)
    return MusicModel(MusicConfig(cell=cell, embed_size=8, hidden_size=12, num_layers=2, cond_size=6, dropout=0.0,
                                  vocab_size=10, n_metres=3, n_modes=2, n_tonics=1)).eval()


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_the_condition_alone_changes_the_first_prediction(cell: str):
    m = _model(cell)
    x = torch.zeros(2, 1, dtype=torch.long)  # the same <s> for both
    logits, state = m(x, torch.tensor([[0, 0, 0], [2, 1, 0]]))
    assert logits.shape == (2, 1, 10)
    assert (logits[0] - logits[1]).abs().max() > 1e-4  # one input, different pieces: the state carries it
    h = state[0] if cell == "lstm" else state
    assert h.shape == (2, 2, 12)


def test_forward_with_lengths_matches_each_piece_alone():
    m = _model()
    cond = torch.tensor([[1, 0, 0], [0, 1, 0]])
    x = torch.randint(0, 10, (2, 7))
    batch, _ = m(x, cond, lengths=torch.tensor([7, 4]))
    alone, _ = m(x[1:, :4], cond[1:])
    assert torch.allclose(batch[1, :4], alone[0], atol=1e-6)


def test_sampling_is_seeded_and_obeys_masks_and_bans():
    m = _model()
    cond = torch.tensor([[0, 0, 0]] * 4)
    cfg = SampleConfig(temperature=1.0)
    mask = torch.zeros(10, dtype=torch.bool)
    mask[[1, 4, 5]] = True

    def draw(seed: int) -> list[list[int]]:
        return m.sample(cond, bos=0, eos=1, max_len=30, sample=cfg, generator=torch.Generator().manual_seed(seed),
                        allowed=lambda b, ids: mask, banned=(5,))

    a, b = draw(1), draw(1)
    assert a == b and len(a) == 4
    assert all(set(p) <= {4} for p in a)  # 5 is banned, 1 ends the piece and is not returned
    assert draw(2) != a or all(len(p) == 0 for p in a)


def test_sample_batch_top_p_keeps_the_most_likely_token():
    logits = torch.tensor([[5.0, 0.0, 0.0], [0.0, 0.0, 5.0]])
    g = torch.Generator().manual_seed(0)
    for _ in range(10):
        assert sample_batch(logits, SampleConfig(top_p=0.5), g).tolist() == [0, 2]
    with pytest.raises(ValueError, match="no token left"):
        sample_batch(torch.full((1, 3), float("-inf")), SampleConfig(), g)


def test_bad_configs_are_named():
    with pytest.raises(ValueError, match="n_metres must be >= 1"):
        MusicModel(MusicConfig(vocab_size=10, n_metres=0, n_modes=1, n_tonics=1))
    with pytest.raises(ValueError, match="cond must be"):
        _model().initial_state(torch.zeros(2, 2, dtype=torch.long))
