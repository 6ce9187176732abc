"""The bar-full constraint: which folk tokens may come next so that every bar adds up to the metre.

After a pitch only durations that fit in what is left of the bar; a full bar must be closed with
``|``; ``|`` in a bar that is not full only in the first bar (a pickup); the tune ends only after a
bar line, so its last bar is full too. With ``bars`` the tune has exactly that many full bars (a
pickup not counted). The constraint only masks: the model (or the n-gram) chooses among the allowed
tokens. One :class:`BarConstraint` follows one piece; it reads the tokens it has not seen yet, so a
piece of T tokens costs O(T).
"""

from __future__ import annotations

from fractions import Fraction

import torch
from torch import Tensor

from rnnkit.music import folk


class BarMasks:
    """The masks every :class:`BarConstraint` over one token list shares."""

    def __init__(self, tokens: list[str]) -> None:
        V = len(tokens)
        self.tokens = tokens
        self.pitches = torch.tensor([folk.is_pitch(t) for t in tokens], dtype=torch.bool)
        self.durations = [(i, folk.token_duration(t)) for i, t in enumerate(tokens) if folk.is_duration(t)]
        self.bar = torch.zeros(V, dtype=torch.bool)
        self.bar[tokens.index(folk.BAR)] = True
        self.eos = torch.zeros(V, dtype=torch.bool)
        self.eos[tokens.index(folk.EOS)] = True
        self._fit: dict[Fraction, Tensor] = {}

    def durations_within(self, room: Fraction) -> Tensor:
        got = self._fit.get(room)
        if got is None:
            got = torch.zeros(len(self.tokens), dtype=torch.bool)
            for i, d in self.durations:
                if d <= room:
                    got[i] = True
            self._fit[room] = got
        return got


class BarConstraint:
    """``allowed(ids so far) -> bool mask (V,)`` for one folk piece in bars of ``bar_length`` quarter notes."""

    def __init__(self, masks: BarMasks, bar_length: Fraction, bars: int = 0) -> None:
        self.m, self.bar_length, self.bars = masks, bar_length, bars
        self.seen = 0
        self.pos, self.closed, self.pickup, self.due = Fraction(0), 0, False, False

    def _read(self, ids: list[int]) -> None:
        if len(ids) < self.seen:
            raise ValueError("BarConstraint follows one piece: the tokens may only grow")
        for i in ids[self.seen:]:
            t = self.m.tokens[i]
            if t == folk.BAR:
                if self.closed == 0 and not self.pickup and self.pos < self.bar_length:
                    self.pickup = True
                else:
                    self.closed += 1
                self.pos = Fraction(0)
            elif folk.is_pitch(t):
                self.due = True
            elif folk.is_duration(t):
                self.pos += folk.token_duration(t)
                self.due = False
        self.seen = len(ids)

    def allowed(self, ids: list[int]) -> Tensor:
        self._read(ids)
        m = self.m
        if self.due:
            fit = m.durations_within(self.bar_length - self.pos)
            # nothing fits (a triplet left a gap no duration token fills): any duration, and the bar fails
            return fit if bool(fit.any()) else m.durations_within(Fraction(10**6))
        if self.pos == self.bar_length:
            return m.bar
        if self.pos == 0:
            if self.bars and self.closed >= self.bars:
                return m.eos
            can_end = self.closed >= max(1, self.bars)
            return m.pitches | m.eos if can_end else m.pitches
        if self.closed == 0 and not self.pickup:  # the first bar may be a pickup
            return m.pitches | m.bar
        return m.pitches
