"""Choosing the next token from logits: greedy, temperature, top-k and top-p (nucleus)."""

from __future__ import annotations

import dataclasses
import math

import torch
from torch import Tensor

from rnnkit.config import field


@dataclasses.dataclass
class SampleConfig:
    """How to pick each next token."""

    temperature: float = field(0.8, "divide logits by this; lower is more conservative")
    top_k: int = field(0, "sample among the k most likely tokens only (0: all)")
    top_p: float = field(1.0, "sample among the smallest set of tokens whose probability reaches p")
    greedy: bool = field(False, "always take the most likely token (ignores temperature, top-k, top-p)")

    def __post_init__(self) -> None:
        if not (0 < self.temperature < math.inf):  # written so that nan fails too
            raise ValueError(f"temperature must be a finite number > 0, got {self.temperature}")
        if self.top_k < 0:
            raise ValueError(f"top_k must be >= 0, got {self.top_k}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")


def sample_next(logits: Tensor, cfg: SampleConfig, generator: torch.Generator | None = None) -> int:
    """One token id from ``logits`` ``(V,)``."""
    if cfg.greedy:
        return int(logits.argmax())
    logits = logits.float() / cfg.temperature
    if 0 < cfg.top_k < logits.numel():
        kth = torch.topk(logits, cfg.top_k).values[-1]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = torch.softmax(logits, dim=-1)
    if cfg.top_p < 1:
        sorted_p, order = probs.sort(descending=True)
        # keep a token while the mass before it is < p (so the most likely one always stays)
        keep = sorted_p.cumsum(0) - sorted_p < cfg.top_p
        probs = torch.zeros_like(probs).scatter(0, order[keep], sorted_p[keep])
    return int(torch.multinomial(probs.cpu(), 1, generator=generator))


def sample_batch(logits: Tensor, cfg: SampleConfig, generator: torch.Generator | None = None) -> Tensor:
    """One token id per row of ``logits`` ``(B, V)``, as :func:`sample_next` draws each (a row with every
    logit ``-inf`` is an error)."""
    if cfg.greedy:
        return logits.argmax(1)
    logits = logits.float() / cfg.temperature
    if 0 < cfg.top_k < logits.size(1):
        kth = torch.topk(logits, cfg.top_k, dim=1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = torch.softmax(logits, dim=-1)
    if cfg.top_p < 1:
        sorted_p, order = probs.sort(dim=1, descending=True)
        keep = sorted_p.cumsum(1) - sorted_p < cfg.top_p
        probs = torch.zeros_like(probs).scatter(1, order, sorted_p * keep)
    if not bool(torch.isfinite(probs).all()) or bool((probs.sum(1) <= 0).any()):
        raise ValueError("sample_batch: a row has no token left to draw (every logit is -inf)")
    return torch.multinomial(probs.cpu(), 1, generator=generator).squeeze(1)
