"""Per-step views of sequence buffers, taken once before a time loop.

Indexing ``buf[t]`` inside the loop costs a Python call per step (and, in an
autograd graph, a full-size zero-fill per step in the backward). The fused
kernels therefore take every per-step view up front.

``batch_sizes`` (descending, one per step) describes a batch sorted by length:
at step ``t`` only the first ``batch_sizes[t]`` rows are still running.
"""

from __future__ import annotations

import torch
from torch import Tensor


def step_views(buf: Tensor, batch_sizes: list[int] | None) -> list[Tensor]:
    """``buf (T, B, ...)`` -> ``[buf[t, :b_t]]`` for every step."""
    if batch_sizes is None:
        return list(buf.unbind(0))
    return [buf[t, :b] for t, b in enumerate(batch_sizes)]


def rows(buf: Tensor, batch_sizes: list[int] | None, steps: int) -> list[Tensor]:
    """``buf (B, ...)`` -> its active rows ``buf[:b_t]`` at each of ``steps`` steps."""
    if batch_sizes is None:
        return [buf] * steps
    cache: dict[int, Tensor] = {}
    for b in batch_sizes:
        if b not in cache:
            cache[b] = buf[:b]
    return [cache[b] for b in batch_sizes]


def previous(seq: Tensor, first: Tensor) -> Tensor:
    """``(T, B, X)`` states -> the state each step started from: ``[first, seq[0], ..., seq[T-2]]``.

    Padded rows of a length-sorted batch hold zeros in ``seq``; their entries are
    only ever multiplied by zero gradients.
    """
    return torch.cat([first.unsqueeze(0), seq[:-1]], 0)


def recurrent_weight_grad(d: Tensor, seq: Tensor, first: Tensor, mask: Tensor | None = None) -> Tensor:
    """``dW_hh = Σ_t d_t^T (H_{t-1} ⊙ M)`` as two matmuls over all steps: ``d (T, B, G)`` the gradient of the
    recurrent projection, ``seq (T, B, O)`` the outputs and ``first (B, O)`` the initial state (the states
    the steps read are ``first, seq[0], ..., seq[T-2]``, as :func:`previous` joins them, here without the
    copy), ``mask (B, O)`` recurrent dropout's, or None -> ``(G, O)``."""
    T, B, G = d.shape
    dw = d[0].t().mm(first if mask is None else first * mask)
    if T > 1:
        prev = seq[:-1] if mask is None else seq[:-1] * mask
        dw.addmm_(d[1:].reshape((T - 1) * B, G).t(), prev.reshape((T - 1) * B, -1))
    return dw


def last_valid(seq: Tensor, lengths: Tensor | None) -> Tensor:
    """``(T, B, X)`` -> ``(B, X)``: each sequence's value at its last valid step."""
    if lengths is None:
        return seq[-1]
    idx = (lengths - 1).to(seq.device)
    return seq[idx, torch.arange(seq.shape[1], device=seq.device)]


def new_buffer(like: Tensor, shape: tuple[int, ...], padded: bool) -> Tensor:
    """A step buffer; zero-filled when rows are padded so padding reads as zero."""
    if padded:
        return like.new_zeros(shape)
    return like.new_empty(shape)


def prev_views(seq: Tensor, first: Tensor, batch_sizes: list[int] | None) -> list[Tensor]:
    """The state each step reads, as views: ``[first[:b_0], seq[0, :b_1], ..., seq[T-2, :b_{T-1}]]``."""
    if batch_sizes is None:
        return [first] + list(seq.unbind(0))[:-1]
    return [first[: batch_sizes[0]]] + [seq[t - 1, :b] for t, b in enumerate(batch_sizes) if t > 0]
