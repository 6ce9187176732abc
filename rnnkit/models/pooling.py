"""Pooling a recurrent layer's outputs over time into one vector per sequence, padding-aware.

The outputs ``H`` of a (bi)directional layer are ``(B, T, D*H)``: for a bidirectional layer the
forward half comes first (torch.nn's layout). With ``lengths``, steps ``t >= lengths[b]`` are
padding; no mode ever reads them, so the pooled vector of a sequence does not depend on what the
rest of its batch looks like.

- ``last``: the state after the whole sequence. Forward direction: the output at the last valid
  step ``lengths[b] - 1``. Backward direction: the output at step 0, where it has read the whole
  sequence from its end.
- ``mean``: the mean over the valid steps.
- ``max``: the element-wise maximum over the valid steps.
- ``attention``: a learned weighted mean, ``a_t = softmax_t(v . tanh(W h_t + b))`` over the valid
  steps (Bahdanau-style additive scoring; Yang et al. 2016), returning ``sum_t a_t h_t``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rnnkit.data.batching import length_mask

MODES = ("last", "mean", "max", "attention")


class Pooling(nn.Module):
    """``forward(h (B, T, D*H), lengths (B,)) -> (B, D*H)``; see the module docstring.

    Args:
        mode: one of ``last``, ``mean``, ``max``, ``attention``.
        size: ``D*H``, the width of the outputs.
        directions: ``D`` (2 for a bidirectional layer: ``last`` reads the halves at different steps).
        attention_size: width ``A`` of the attention scorer's hidden layer (0: ``size``).
    """

    def __init__(self, mode: str, size: int, directions: int = 1, attention_size: int = 0) -> None:
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"Pooling: unknown mode {mode!r}: expected one of {', '.join(MODES)}")
        if directions not in (1, 2) or size % directions:
            raise ValueError(f"Pooling: size {size} must split into {directions} directions")
        self.mode, self.size, self.directions = mode, size, directions
        self.weights: Tensor | None = None  # attention: the last (B, T) weights, for inspection
        if mode == "attention":
            a = attention_size or size
            self.score = nn.Sequential(nn.Linear(size, a), nn.Tanh(), nn.Linear(a, 1, bias=False))

    def forward(self, h: Tensor, lengths: Tensor | None = None) -> Tensor:
        B, T, _ = h.shape
        if lengths is None:
            lengths = torch.full((B,), T, dtype=torch.long, device=h.device)
        lengths = lengths.to(h.device)
        if self.mode == "last":
            last = (lengths - 1).clamp(min=0).view(B, 1, 1).expand(B, 1, h.shape[2])
            at_end = h.gather(1, last).squeeze(1)  # (B, D*H): every direction at its sequence's last step
            if self.directions == 1:
                return at_end
            half = self.size // 2
            # the backward direction has read the whole sequence when it reaches step 0
            return torch.cat([at_end[:, :half], h[:, 0, half:]], dim=1)
        mask = length_mask(lengths, T)  # (B, T), True at real steps
        if self.mode == "mean":
            total = (h * mask.unsqueeze(-1).to(h.dtype)).sum(1)
            return total / lengths.clamp(min=1).unsqueeze(1).to(h.dtype)
        if self.mode == "max":
            return h.masked_fill(~mask.unsqueeze(-1), float("-inf")).max(1).values
        scores = self.score(h).squeeze(-1).masked_fill(~mask, float("-inf"))  # (B, T)
        weights = torch.softmax(scores.float(), dim=1).to(h.dtype)
        self.weights = weights.detach()
        return torch.bmm(weights.unsqueeze(1), h).squeeze(1)

    def extra_repr(self) -> str:
        return f"mode={self.mode}, size={self.size}, directions={self.directions}"
