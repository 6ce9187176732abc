"""The bar-full constraint: which folk tokens may come next so that every bar adds up to the metre.

After a pitch only durations that fit in what is left of the bar; a full bar must be closed with
``|``; ``|`` in a bar that is not full only in the first bar (a pickup); the tune ends only after a
bar line, so its last bar is full too. With ``bars`` the tune has exactly that many bars after the
pickup. The constraint only masks: the model (or n-gram) chooses among the allowed tokens.
"""

from __future__ import annotations

from fractions import Fraction

import torch
from torch import Tensor

from rnnkit.music import folk


class BarConstraint:
    """``allowed(tokens so far) -> bool mask (V,)`` for folk tokens in ``vocab`` (a token list)."""

    def __init__(self, tokens: list[str], bar_length: Fraction, bars: int = 0) -> None:
        self.bar_length, self.bars = bar_length, bars
        V = len(tokens)
        self.pitches = torch.tensor([folk.is_pitch(t) for t in tokens])
        self.durations = [(i, folk.token_duration(t)) for i, t in enumerate(tokens) if folk.is_duration(t)]
        self.tokens = tokens
        self.bar = torch.zeros(V, dtype=torch.bool)
        self.bar[tokens.index(folk.BAR)] = True
        self.eos = torch.zeros(V, dtype=torch.bool)
        self.eos[tokens.index(folk.EOS)] = True

    def state(self, ids: list[int]) -> tuple[Fraction, int, bool, bool]:
        """``(position in the bar, bars closed, a pickup was written, a duration is due)`` after ``ids``."""
        pos, closed, pickup, due = Fraction(0), 0, False, False
        for i in ids:
            t = self.tokens[i]
            if t == folk.BAR:
                if closed == 0 and pos < self.bar_length:
                    pickup = True
                else:
                    closed += 1
                pos = Fraction(0)
            elif folk.is_pitch(t):
                due = True
            elif folk.is_duration(t):
                pos += folk.token_duration(t)
                due = False
        return pos, closed, pickup, due

    def allowed(self, ids: list[int]) -> Tensor:
        pos, closed, pickup, due = self.state(ids)
        if due:
            mask = torch.zeros(len(self.tokens), dtype=torch.bool)
            for i, d in self.durations:
                if pos + d <= self.bar_length:
                    mask[i] = True
            return mask
        if pos == self.bar_length:
            return self.bar.clone()
        if pos == 0:
            first = closed == 0 and not pickup and not ids
            can_end = closed >= max(1, self.bars) and not first
            if self.bars and closed >= self.bars:
                return self.eos.clone()
            return self.pitches | self.eos if can_end else self.pitches.clone()
        mask = self.pitches.clone()
        if closed == 0 and not pickup:  # the first bar may be a pickup
            mask |= self.bar
        return mask
