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

        self._fillable: dict[Fraction, bool] = {Fraction(0): True}
        self.any_duration = torch.zeros(V, dtype=torch.bool)
        self.any_duration[[i for i, _ in self.durations]] = True

    def fillable(self, room: Fraction) -> bool:
        """Whether some sum of the duration tokens is exactly ``room``."""
        got = self._fillable.get(room)
        if got is None:
            self._fillable[room] = False  # while deciding (durations are > 0, so no cycle)
            got = any(d <= room and self.fillable(room - d) for _, d in self.durations)
            self._fillable[room] = got
        return got

    def durations_within(self, room: Fraction) -> Tensor:
        """The durations that leave a rest of the bar the other durations can still fill exactly (a triplet
        eighth is allowed only where the triplet can be completed)."""
        got = self._fit.get(room)
        if got is None:
            got = torch.zeros(len(self.tokens), dtype=torch.bool)
            for i, d in self.durations:
                if d <= room and self.fillable(room - d):
                    got[i] = True
            self._fit[room] = got
        return got


class BarConstraint:
    """``allowed(ids so far) -> bool mask (V,)`` for one folk piece in bars of ``bar_length`` quarter notes."""

    def __init__(self, masks: BarMasks, bar_length: Fraction, bars: int = 0) -> None:
        self.m, self.bar_length, self.bars = masks, bar_length, bars
        self.seen = 0
        self.pos, self.closed, self.due, self.ended = Fraction(0), 0, False, False
        self.pickup: Fraction | None = None  # the length of a pickup first bar

    def _read(self, ids: list[int]) -> None:
        if len(ids) < self.seen:
            raise ValueError("BarConstraint follows one piece: the tokens may only grow")
        for i in ids[self.seen:]:
            t = self.m.tokens[i]
            if t == folk.BAR:
                if self.closed == 0 and self.pickup is None and self.pos < self.bar_length:
                    self.pickup = self.pos
                else:
                    self.closed += 1
                    self.ended = self.pos < self.bar_length  # the short last bar that completes the pickup
                self.pos = Fraction(0)
            elif folk.is_pitch(t):
                self.due = True
            elif folk.is_duration(t):
                self.pos += folk.token_duration(t)
                self.due = False
        self.seen = len(ids)

    def _limit(self) -> Fraction:
        """The length the current bar must have: a full bar, or with ``bars`` and a pickup, the last bar's
        complement of the pickup."""
        if self.bars and self.pickup is not None and self.closed == self.bars - 1:
            return self.bar_length - self.pickup
        return self.bar_length

    def allowed(self, ids: list[int]) -> Tensor:
        self._read(ids)
        m = self.m
        if self.ended or (self.bars and self.closed >= self.bars and self.pos == 0 and not self.due):
            return m.eos
        limit = self._limit()
        if self.due:
            fit = m.durations_within(limit - self.pos)
            # nothing fits (tokens written without the constraint before): any duration, and the bar fails
            return fit if bool(fit.any()) else m.any_duration
        if self.pos >= limit:
            return m.bar
        if self.pos == 0:
            can_end = self.closed >= 1 and not self.bars
            return m.pitches | m.eos if can_end else m.pitches
        if self.closed == 0 and self.pickup is None:  # the first bar may be a pickup
            return m.pitches | m.bar
        if not self.bars and self.pickup is not None and self.closed >= 1 and self.pos == self.bar_length - self.pickup:
            return m.pitches | m.bar  # a last bar that completes the pickup
        return m.pitches


class VoiceOrderConstraint:
    """``allowed(ids so far) -> bool mask (V,)`` for one chorale (:mod:`rnnkit.music.chorale` tokens): every
    frame is four voice tokens, each voice at or below the one above it, a held note only where the voice
    sounded that pitch in the frame before; ``|`` and ``F`` only before a frame, the end only after one. With
    ``bars`` the chorale ends when that many bars are complete."""

    def __init__(self, tokens: list[str], bars: int = 0) -> None:
        from rnnkit.music import chorale

        self.tokens, self.bars = tokens, bars
        self.pitch = [int(t[1:]) if chorale.is_voice(t) and t != chorale.REST else None for t in tokens]
        self.held = torch.tensor([t.startswith("h") and chorale.is_voice(t) for t in tokens], dtype=torch.bool)
        self.new = torch.tensor([t.startswith("n") and chorale.is_voice(t) for t in tokens], dtype=torch.bool)
        self.rest = torch.tensor([t == chorale.REST for t in tokens], dtype=torch.bool)
        self.bar = torch.tensor([t == chorale.BAR for t in tokens], dtype=torch.bool)
        self.fermata = torch.tensor([t == chorale.FERMATA for t in tokens], dtype=torch.bool)
        self.eos = torch.tensor([t == chorale.EOS for t in tokens], dtype=torch.bool)
        self.pitches = torch.tensor([p if p is not None else -1 for p in self.pitch])
        self.bar_id, self.fermata_id = tokens.index(chorale.BAR), tokens.index(chorale.FERMATA)
        self.marked: set[int] = set()  # | and F written before the frame to come
        self.seen, self.slot, self.frames, self.bar_count = 0, 0, 0, 0
        self.prev: list[int | None] = [None] * 4
        self.cur: list[int | None] = []

    def _read(self, ids: list[int]) -> None:
        for i in ids[self.seen:]:
            if i == self.bar_id:
                self.bar_count += 1
                self.marked.add(i)
            elif i == self.fermata_id:
                self.marked.add(i)
            elif self.pitch[i] is not None or bool(self.rest[i]):
                self.cur.append(self.pitch[i])
                self.marked = set()
                if len(self.cur) == 4:
                    self.prev, self.cur = self.cur, []
                    self.frames += 1
        self.seen = len(ids)

    def allowed(self, ids: list[int]) -> Tensor:
        self._read(ids)
        k = len(self.cur)
        above = next((p for p in reversed(self.cur) if p is not None), None)  # the lowest voice so far
        if k == 0:
            if self.bars and self.bar_count >= self.bars:
                return self.eos.clone()
            mask = self.new | self.rest  # then | (once, before F), F (once), or the end after a whole frame
            if not self.marked:
                mask = mask | self.bar | self.fermata
                if self.frames and not self.bars:
                    mask = mask | self.eos
            elif self.fermata_id not in self.marked:
                mask = mask | self.fermata
        else:
            mask = self.new | self.rest
        if self.prev[k] is not None:
            mask = mask | (self.held & (self.pitches == self.prev[k]))
        if above is not None:
            mask = mask & ((self.pitches <= above) | ~(self.new | self.held))
        return mask
