"""The bar-full constraint: whatever the model prefers, every bar adds up and the tune has --bars bars."""

from __future__ import annotations

from fractions import Fraction as F

import pytest
import torch

from rnnkit.models.sampling import SampleConfig, sample_batch
from rnnkit.music import folk
from rnnkit.music.constraints import BarConstraint, BarMasks
from rnnkit.music.corpus import check_bars
from rnnkit.music.tune import metre_length

TOKENS = ["<s>", "</s>", "<unk>", "|", "r", "p60", "p62", "p64", "p67", "d1/4", "d1/3", "d1/2", "d1", "d3/2", "d2",
          "d3", "d4"]


def _sample(metre: str, bars: int, seed: int, bias: dict[str, float]) -> list[str]:
    masks = BarMasks(TOKENS)
    con = BarConstraint(masks, metre_length(metre), bars)
    g = torch.Generator().manual_seed(seed)
    logits = torch.zeros(len(TOKENS))
    for t, v in bias.items():
        logits[TOKENS.index(t)] = v
    ids: list[int] = []
    for _ in range(2000):
        mask = con.allowed(ids)
        t = int(sample_batch(logits.masked_fill(~mask, float("-inf")).unsqueeze(0), SampleConfig(temperature=1.0),
                             g)[0])
        if TOKENS[t] == "</s>":
            return [TOKENS[i] for i in ids]
        ids.append(t)
    raise AssertionError("the constraint never let the tune end")


@pytest.mark.parametrize("metre", ["6/8", "4/4", "3/4", "2/2"])
@pytest.mark.parametrize("seed", range(5))
def test_every_bar_is_full_and_the_bar_count_is_kept(metre: str, seed: int):
    # a model that loves long notes (bars overflow) and bar lines (bars stop short)
    tokens = _sample(metre, 8, seed, {"d4": 3.0, "d3": 2.0, "|": 4.0, "</s>": 5.0, "d1/3": 1.0})
    tune = folk.decode(tokens, metre, "major", "C")
    assert check_bars(tune), [sum(d for _, d in b) for b in tune.bars]
    full = sum(1 for b in tune.bars if sum(d for _, d in b) == metre_length(metre))
    pickup = sum(d for _, d in tune.bars[0]) < metre_length(metre)
    assert full + pickup == 8 + pickup or (pickup and full == 7), (full, pickup)


def test_without_a_bar_count_the_tune_ends_only_after_a_bar_line():
    for seed in range(5):
        tokens = _sample("2/4", 0, seed, {"</s>": 2.0})
        assert tokens[-1] == "|" and check_bars(folk.decode(tokens, "2/4", "major", "C"))


def test_the_constraint_follows_one_piece():
    con = BarConstraint(BarMasks(TOKENS), F(2))
    con.allowed([5, 12])
    with pytest.raises(ValueError, match="one piece"):
        con.allowed([5])


def test_the_voice_order_constraint_keeps_soprano_alto_tenor_bass_in_order():
    from rnnkit.music import chorale
    from rnnkit.music.constraints import VoiceOrderConstraint

    toks = ["<s>", "</s>", "<unk>", "|", "F", "r"] + [f"{k}{p}" for k in "nh" for p in range(40, 80, 3)]
    g = torch.Generator().manual_seed(0)
    for _ in range(3):
        con = VoiceOrderConstraint(toks, bars=4)
        ids: list[int] = []
        for _ in range(3000):
            logits = torch.randn(len(toks), generator=g)
            logits[toks.index("|")] += 1.5
            t = int(sample_batch(logits.masked_fill(~con.allowed(ids), float("-inf")).unsqueeze(0),
                                 SampleConfig(temperature=1.0), g)[0])
            if toks[t] == "</s>":
                break
            ids.append(t)
        assert ids.count(toks.index("|")) == 4 and toks[ids[-1]] == "|"  # it ends where the fifth bar would start
        ch = chorale.decode([toks[i] for i in ids], "4/4", "major", "C")
        assert len(chorale.encode(ch)) - 2 == len(ids) - 1  # whole frames only: nothing else dropped in decoding
        for f in ch.frames:
            sounding = [m for m, _ in f.voices if m is not None]
            assert sounding == sorted(sounding, reverse=True)
        for a, b in zip(ch.frames, ch.frames[1:]):  # a held note holds the pitch of the frame before
            assert all(start or m is None or m == p for (m, start), (p, _) in zip(b.voices, a.voices))
