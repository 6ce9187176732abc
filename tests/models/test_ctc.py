"""CTC decoding: best path by hand, prefix beam search against enumeration of every alignment path."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
import torch.nn.functional as F

from rnnkit.models.ctc import BLANK, batch_decode, greedy, prefix_beam_search

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny tensors: see tests/conftest.py


def _peaked(path: list[int], V: int) -> torch.Tensor:
    """``(T, V)`` log-probabilities whose argmax at frame t is ``path[t]``, by a clear margin."""
    logits = torch.zeros(len(path), V)
    logits[torch.arange(len(path)), torch.tensor(path)] = 5.0
    return logits.log_softmax(-1)


def _random(T: int, V: int, seed: int, scale: float = 1.5) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(T, V, generator=g, dtype=torch.float64) * scale).log_softmax(-1)


def _labelling_logp(log_probs: torch.Tensor, labels: list[int]) -> float:
    """log P(labels | log_probs (T, V)): minus the CTC loss, which sums over every path of the labelling."""
    loss = F.ctc_loss(log_probs.unsqueeze(1), torch.tensor([labels], dtype=torch.long),
                      torch.tensor([log_probs.shape[0]]), torch.tensor([len(labels)]),
                      blank=BLANK, reduction="sum", zero_infinity=False)
    return -float(loss)


def _collapse(path: tuple[int, ...]) -> tuple[int, ...]:
    out, prev = [], BLANK
    for s in path:
        if s != prev and s != BLANK:
            out.append(s)
        prev = s
    return tuple(out)


def _brute_best(log_probs: torch.Tensor) -> tuple[tuple[int, ...], float]:
    """The most probable labelling and its log-probability, summing every one of the V^T alignment paths."""
    T, V = log_probs.shape
    lp = log_probs.tolist()
    totals: dict[tuple[int, ...], float] = {}
    for path in itertools.product(range(V), repeat=T):
        p = math.exp(sum(lp[t][s] for t, s in enumerate(path)))
        key = _collapse(path)
        totals[key] = totals.get(key, 0.0) + p
    best = max(totals, key=totals.__getitem__)
    return best, math.log(totals[best])


def test_greedy_collapses_repeats_and_drops_blanks():
    a, b = 1, 2
    path = [BLANK, a, a, BLANK, a, b, b, b, BLANK, BLANK, b, a]
    assert greedy(_peaked(path, 4)) == [(a, 1), (a, 4), (b, 5), (b, 10), (a, 11)]
    assert greedy(_peaked([BLANK, BLANK], 3)) == []
    assert greedy(_peaked([a, a, a], 3)) == [(a, 0)]  # no blank between them: one a
    assert greedy(_peaked(path, 4), length=5) == [(a, 1), (a, 4)]
    assert greedy(_peaked(path, 4), length=0) == []


def test_beam_search_on_a_clear_path_equals_greedy():
    path = [BLANK, 1, 1, BLANK, 1, 2, 2, BLANK, 2, 3]
    lp = _peaked(path, 5)
    assert prefix_beam_search(lp, beam_size=8) == greedy(lp) == [(1, 1), (1, 4), (2, 5), (2, 8), (3, 9)]


def test_wide_beam_is_exact_most_probable_labelling():
    for seed in range(20):
        lp = _random(5, 3, seed)
        best, best_logp = _brute_best(lp)
        out = prefix_beam_search(lp, beam_size=100, prune=float("-inf"))
        assert tuple(s for s, _ in out) == best, seed
        assert _labelling_logp(lp, list(best)) == pytest.approx(best_logp, abs=1e-9)  # the loss agrees too


def test_beam_labelling_is_at_least_as_probable_as_greedy():
    for seed in range(15):
        T, V = 30, [4, 6, 12][seed % 3]
        lp = _random(T, V, 100 + seed, scale=[0.5, 1.5, 3.0][seed % 3])
        g = [s for s, _ in greedy(lp)]
        b = [s for s, _ in prefix_beam_search(lp, beam_size=8)]
        assert _labelling_logp(lp, b) >= _labelling_logp(lp, g) - 1e-9, seed


def test_emission_frames_increase_within_range_and_length_is_respected():
    for seed in range(10):
        lp = _random(40, 6, 200 + seed)
        for beam in (1, 4):
            out = prefix_beam_search(lp, beam_size=beam)
            frames = [t for _, t in out]
            assert frames == sorted(frames) and all(0 <= t < 40 for t in frames)
            assert all(s != BLANK for s, _ in out)
            short = prefix_beam_search(lp, beam_size=beam, length=17)
            assert all(t < 17 for _, t in short)
            assert short == prefix_beam_search(lp[:17], beam_size=beam)
        g = greedy(lp)
        assert [t for _, t in g] == sorted(t for _, t in g) and all(0 <= t < 40 for _, t in g)
    assert prefix_beam_search(_random(5, 3, 0), length=0) == []
    with pytest.raises(ValueError, match="length must be in"):
        prefix_beam_search(_random(5, 3, 0), length=6)
    with pytest.raises(ValueError, match=r"\(T, V\)"):
        greedy(torch.zeros(2, 5, 3))


def test_beam_frames_follow_the_dominant_path():
    # A faint early "1" and a clear "1" at frames 3-4: the symbol is placed where its probability mass is.
    logits = torch.zeros(6, 3)
    logits[:, BLANK] = 4.0
    logits[0, 1] = 1.0
    logits[3:5, 1] = 8.0
    out = prefix_beam_search(logits.log_softmax(-1), beam_size=8)
    assert out == [(1, 3)]


def test_batch_decode_matches_one_by_one():
    lp = torch.stack([_random(12, 5, s) for s in range(4)])
    lengths = torch.tensor([12, 7, 0, 3])
    lp[1, 7:] = float("nan")  # frames past the length are never read
    greedy_out = batch_decode(lp, lengths)
    beam_out = batch_decode(lp, lengths, beam_size=4)
    for b in range(4):
        n = int(lengths[b])
        assert greedy_out[b] == greedy(lp[b, :n])
        assert beam_out[b] == prefix_beam_search(lp[b, :n], beam_size=4)
    assert greedy_out[2] == beam_out[2] == []
    with pytest.raises(ValueError, match="lengths must be in"):
        batch_decode(lp, torch.tensor([13, 1, 1, 1]))


def test_batch_decode_beam_is_never_less_probable_than_greedy():
    from rnnkit.models.ctc import batch_decode, labelling_log_prob

    worse = 0
    for seed in range(300):
        gen = torch.Generator().manual_seed(seed)
        lp = torch.log_softmax(0.5 * torch.randn(1, 30, 6, generator=gen), -1)
        beam = [s for s, _ in batch_decode(lp, torch.tensor([30]), beam_size=4)[0]]
        path = [s for s, _ in batch_decode(lp, torch.tensor([30]), beam_size=1)[0]]
        worse += labelling_log_prob(lp[0], beam) < labelling_log_prob(lp[0], path) - 1e-9
    assert worse == 0
