"""A linear-chain conditional random field over tag sequences: log-likelihood and Viterbi decoding.

For emissions ``e_t(y)`` (the tagger's scores, ``(B, T, K)``) the score of tags ``y_1 .. y_n`` is::

    s(y) = start[y_1] + sum_t e_t(y_t) + sum_{t>1} trans[y_{t-1}, y_t] + end[y_n]
    log p(y | x) = s(y) - log Z,    log Z = logsumexp over all K^n sequences of s

``log Z`` comes from the forward algorithm and the best sequence from Viterbi, both in ``O(n K^2)``
with the batch as one tensor (a loop over time only). Padding (``mask`` False) never changes a
score: past a sentence's end its forward variables are carried unchanged, and its Viterbi
back-pointers point to the same tag.

Constraints (BIO/BIOES, :func:`rnnkit.data.tagschemes.allowed`): illegal starts, transitions and
ends score ``-inf``, so they have probability 0 and are never decoded. They live in buffers
(saved with the weights); the learned scores of forbidden entries get no gradient.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class CRF(nn.Module):
    """CRF over ``num_tags`` tags (``K``). Learned ``start (K)``, ``end (K)``, ``trans (K, K)`` (from, to)."""

    def __init__(self, num_tags: int, start_ok: Tensor | None = None, trans_ok: Tensor | None = None,
                 end_ok: Tensor | None = None) -> None:
        super().__init__()
        if num_tags < 1:
            raise ValueError(f"CRF: num_tags must be >= 1, got {num_tags}")
        K = num_tags
        self.num_tags = K
        self.start = nn.Parameter(torch.zeros(K))
        self.end = nn.Parameter(torch.zeros(K))
        self.trans = nn.Parameter(torch.empty(K, K).uniform_(-0.1, 0.1))
        ones = torch.ones(K, dtype=torch.bool)
        self.register_buffer("start_ok", ones.clone() if start_ok is None else start_ok.bool().clone())
        self.register_buffer("end_ok", ones.clone() if end_ok is None else end_ok.bool().clone())
        self.register_buffer("trans_ok", torch.ones(K, K, dtype=torch.bool) if trans_ok is None
                             else trans_ok.bool().clone())
        if self.start_ok.shape != (K,) or self.end_ok.shape != (K,) or self.trans_ok.shape != (K, K):
            raise ValueError(f"CRF: constraints must be shaped ({K},), ({K}, {K}), ({K},)")

    def scores(self) -> tuple[Tensor, Tensor, Tensor]:
        """``(start, trans, end)`` with the forbidden entries at ``-inf``."""
        ninf = float("-inf")
        return (self.start.masked_fill(~self.start_ok, ninf), self.trans.masked_fill(~self.trans_ok, ninf),
                self.end.masked_fill(~self.end_ok, ninf))

    @staticmethod
    def _check(emissions: Tensor, mask: Tensor) -> None:
        if emissions.dim() != 3 or mask.shape != emissions.shape[:2]:
            raise ValueError(f"CRF: expected emissions (B, T, K) and mask (B, T), got {tuple(emissions.shape)} "
                             f"and {tuple(mask.shape)}")
        if emissions.shape[1] and not bool(mask[:, 0].all()):
            raise ValueError("CRF: every sequence needs at least one step (mask[:, 0] all True)")

    def log_partition(self, emissions: Tensor, mask: Tensor) -> Tensor:
        """``log Z`` per sequence ``(B,)`` by the forward algorithm; ``emissions (B, T, K)``, ``mask (B, T)``."""
        self._check(emissions, mask)
        start, trans, end = self.scores()
        alpha = start + emissions[:, 0]  # (B, K)
        for t in range(1, emissions.shape[1]):
            # alpha'_j = logsumexp_i(alpha_i + trans_ij) + e_t(j)
            nxt = torch.logsumexp(alpha.unsqueeze(2) + trans, dim=1) + emissions[:, t]
            alpha = torch.where(mask[:, t : t + 1], nxt, alpha)
        return torch.logsumexp(alpha + end, dim=1)

    def score(self, emissions: Tensor, tags: Tensor, mask: Tensor) -> Tensor:
        """``s(y)`` per sequence ``(B,)`` of the tags ``(B, T)`` (values at padded steps are ignored)."""
        self._check(emissions, mask)
        start, trans, end = self.scores()
        tags = tags.masked_fill(~mask, 0)
        m = mask.to(emissions.dtype)
        emit = emissions.gather(2, tags.unsqueeze(2)).squeeze(2)  # (B, T)
        total = start[tags[:, 0]] + (emit * m).sum(1)
        if tags.shape[1] > 1:
            step = trans[tags[:, :-1], tags[:, 1:]]  # (B, T-1)
            # a forbidden transition at a padded step is -inf * 0: select, don't multiply
            total = total + torch.where(mask[:, 1:], step, torch.zeros_like(step)).sum(1)
        last = tags.gather(1, (mask.sum(1) - 1).clamp_min(0).unsqueeze(1)).squeeze(1)
        return total + end[last]

    def log_likelihood(self, emissions: Tensor, tags: Tensor, mask: Tensor) -> Tensor:
        """``log p(tags | x)`` per sequence ``(B,)``; ``-inf`` for a sequence the constraints forbid."""
        return self.score(emissions, tags, mask) - self.log_partition(emissions, mask)

    @torch.no_grad()
    def decode(self, emissions: Tensor, mask: Tensor) -> Tensor:
        """The highest-scoring tags ``(B, T)`` (int64; 0 at padded steps) by Viterbi."""
        self._check(emissions, mask)
        start, trans, end = self.scores()
        B, T, K = emissions.shape
        best = start + emissions[:, 0]  # (B, K)
        keep = torch.arange(K, device=emissions.device).expand(B, K)
        pointers = []
        for t in range(1, T):
            cand = best.unsqueeze(2) + trans  # (B, K from, K to)
            top, arg = cand.max(dim=1)
            on = mask[:, t : t + 1]
            best = torch.where(on, top + emissions[:, t], best)
            pointers.append(torch.where(on, arg, keep))
        tag = (best + end).argmax(dim=1)  # (B,)
        out = [tag]
        for ptr in reversed(pointers):
            tag = ptr.gather(1, tag.unsqueeze(1)).squeeze(1)
            out.append(tag)
        path = torch.stack(out[::-1], dim=1) if T else emissions.new_zeros(B, 0, dtype=torch.long)
        return path.masked_fill(~mask, 0)
