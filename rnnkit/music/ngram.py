"""A smoothed n-gram (Markov) baseline: interpolated Kneser-Ney (Chen & Goodman 1999).

The context of a piece's first token is its condition written as tokens (``M:6/8``, ``mode:major``,
``tonic:C``) and ``<s>``, so the n-gram sees the same input the network does. For order ``n`` and
history ``h`` (the ``n-1`` tokens before ``w``)::

    P(w | h) = max(c(h w) - D, 0) / c(h) + D N(h .) / c(h) P'(w | h')

where ``h'`` drops the oldest token, ``N(h .)`` counts the distinct tokens seen after ``h``, the
lower orders count the distinct contexts a sequence follows (continuation counts) instead of
occurrences, and order 1 is interpolated with the uniform distribution over the ``V`` tokens that
can be predicted. ``D = n1 / (n1 + 2 n2)`` per order (n1, n2: the n-grams seen once, twice).
Every distribution sums to 1 over the ``V`` tokens (a test checks).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence

import numpy as np


def context_tokens(condition: tuple[str, str, str]) -> list[str]:
    metre, mode, tonic = condition
    return [f"M:{metre}", f"mode:{mode}", f"tonic:{tonic}"]


class NGram:
    """An interpolated Kneser-Ney model of order ``order`` over the token ids ``0..V-1``.

    ``fit`` takes sequences of ids whose first ``skip`` ids are context only (never predicted)."""

    def __init__(self, order: int, vocab_size: int) -> None:
        if order < 1:
            raise ValueError(f"order must be >= 1, got {order}")
        if vocab_size < 1:
            raise ValueError(f"vocab_size must be >= 1, got {vocab_size}")
        self.order, self.V = order, vocab_size
        self._cache: dict[tuple[int, ...], np.ndarray] = {}

    def fit(self, seqs: Sequence[Sequence[int]], skip: int = 1) -> NGram:
        n = self.order
        # counts[k]: history of length k -> Counter of next token (k = n-1: real counts; lower: continuation)
        self.counts: list[dict[tuple[int, ...], Counter]] = [defaultdict(Counter) for _ in range(n)]
        top: dict[tuple[int, ...], Counter] = self.counts[n - 1]
        for s in seqs:
            s = list(s)
            for i in range(skip, len(s)):
                h = tuple(s[max(0, i - n + 1) : i])
                if len(h) == n - 1:
                    top[h][s[i]] += 1
                else:  # near the start (shorter than n-1 tokens of history): counted at its own order
                    self.counts[len(h)][h][s[i]] += 1
        for k in range(n - 1, 0, -1):  # continuation counts: distinct left contexts of (h[1:], w)
            lower = self.counts[k - 1]
            for h, c in list(self.counts[k].items()):
                for w in c:
                    lower[h[1:]][w] += 1
        self.discount = []
        for k in range(n):
            vals = Counter(v for c in self.counts[k].values() for v in c.values())
            n1, n2 = vals.get(1, 0), vals.get(2, 0)
            self.discount.append(n1 / (n1 + 2 * n2) if n1 + n2 > 0 and n1 > 0 else 0.5)
        self.totals = [{h: sum(c.values()) for h, c in level.items()} for level in self.counts]
        self._cache = {}
        return self

    def dist(self, history: Sequence[int]) -> np.ndarray:
        """``P(. | history)`` over the ``V`` ids (the last ``order - 1`` ids of ``history`` count)."""
        h = tuple(history[-(self.order - 1):]) if self.order > 1 else ()
        got = self._cache.get(h)
        if got is None:
            got = self._dist(h)
            if len(self._cache) > 200_000:
                self._cache.clear()
            self._cache[h] = got
        return got

    def _dist(self, h: tuple[int, ...]) -> np.ndarray:
        p = np.full(self.V, 1.0 / self.V)
        for k in range(0, len(h) + 1):
            hk = h[len(h) - k:] if k else ()
            c = self.counts[k].get(hk)
            if not c:
                continue
            total, D = self.totals[k][hk], self.discount[k]
            q = p * (D * len(c) / total)
            for w, v in c.items():
                q[w] += max(v - D, 0.0) / total
            p = q
        return p

    def nll(self, seqs: Sequence[Sequence[int]], skip: int = 1) -> tuple[float, int]:
        """``(total negative log-likelihood in nats, tokens scored)``: every id after the first ``skip``."""
        total, count = 0.0, 0
        for s in seqs:
            s = list(s)
            for i in range(skip, len(s)):
                total -= math.log(self.dist(s[:i])[s[i]])
                count += 1
        return total, count

    def sample(self, history: Sequence[int], rng: np.random.Generator, temperature: float = 1.0,
               mask: np.ndarray | None = None) -> int:
        p = self.dist(history)
        if temperature != 1.0:
            p = p ** (1.0 / temperature)
        if mask is not None:
            p = p * mask
        return int(rng.choice(self.V, p=p / p.sum()))
