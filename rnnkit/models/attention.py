"""Attention over a memory of keys (encoder outputs, image regions), with padding masked.

For queries ``q_t`` ``(B, T, Hq)`` and keys ``k_s`` ``(B, S, Hk)``, each kind scores every pair::

    dot       (Luong 2015)     e_ts = q_t . k_s                         (needs Hq == Hk)
    general   (Luong 2015)     e_ts = q_t . (W k_s)                     W: (Hq, Hk)
    additive  (Bahdanau 2015)  e_ts = v . tanh(W_q q_t + W_k k_s)       W_q: (A, Hq), W_k: (A, Hk), v: (A,)

    a_ts = softmax_s(e_ts) over the real steps s < length (padding gets weight exactly 0)
    c_t  = sum_s a_ts k_s                                               (B, T, Hk)

The key-side products (``W k_s``, ``W_k k_s``) do not depend on the query: :meth:`Attention.prepare`
computes them once per source, and every decoder step reuses them.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

KINDS = ("bahdanau", "dot", "general")


class Attention(nn.Module):
    """``forward(query (B, T, Hq), keys (B, S, Hk), mask (B, S) bool, prepared=None) -> (context (B, T, Hk),
    weights (B, T, S))``; ``mask`` is True at the real source steps."""

    def __init__(self, kind: str, query_size: int, key_size: int, attn_size: int | None = None) -> None:
        super().__init__()
        if kind not in KINDS:
            raise ValueError(f"Attention: unknown kind {kind!r}: expected one of {', '.join(KINDS)}")
        if kind == "dot" and query_size != key_size:
            raise ValueError(f"Attention: dot scores need query_size == key_size, got {query_size} and {key_size}")
        self.kind = kind
        if kind == "general":
            self.key_proj = nn.Linear(key_size, query_size, bias=False)
        elif kind == "bahdanau":
            a = attn_size or query_size
            self.key_proj = nn.Linear(key_size, a, bias=False)
            self.query_proj = nn.Linear(query_size, a)
            self.v = nn.Linear(a, 1, bias=False)

    def prepare(self, keys: Tensor) -> Tensor:
        """The query-independent part of the scores, ``(B, S, Hq)`` or ``(B, S, A)``: once per source."""
        return keys if self.kind == "dot" else self.key_proj(keys)

    def scores(self, query: Tensor, prepared: Tensor) -> Tensor:
        """Unnormalised scores ``e`` ``(B, T, S)``."""
        if self.kind == "bahdanau":
            # (B, T, 1, A) + (B, 1, S, A): every query against every key
            hidden = torch.tanh(self.query_proj(query).unsqueeze(2) + prepared.unsqueeze(1))
            return self.v(hidden).squeeze(-1)
        return torch.bmm(query, prepared.transpose(1, 2))

    def forward(self, query: Tensor, keys: Tensor, mask: Tensor, prepared: Tensor | None = None
                ) -> tuple[Tensor, Tensor]:
        if prepared is None:
            prepared = self.prepare(keys)
        e = self.scores(query, prepared).float()
        e = e.masked_fill(~mask.unsqueeze(1), float("-inf"))
        weights = torch.softmax(e, dim=-1).to(keys.dtype)
        return torch.bmm(weights, keys), weights
