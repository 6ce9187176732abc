"""Recurrent state helpers that work for every state type.

A state is a tensor (Elman, GRU), a NamedTuple such as :class:`LSTMState`,
or any nesting of tuples, lists and dicts of tensors (a user's own cell).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from torch import Tensor


class LSTMState(NamedTuple):
    """LSTM state: ``h (..., B, O)`` hidden (projected) output and ``c (..., B, H)`` cell."""

    h: Tensor
    c: Tensor


def map_state(state: Any, fn: Callable[[Tensor], Tensor]) -> Any:
    """Apply ``fn`` to every tensor in ``state``, keeping its structure (NamedTuples included)."""
    if state is None:
        return None
    if isinstance(state, Tensor):
        return fn(state)
    if isinstance(state, tuple) and hasattr(state, "_fields"):
        return type(state)(*(map_state(s, fn) for s in state))
    if isinstance(state, (tuple, list)):
        return type(state)(map_state(s, fn) for s in state)
    if isinstance(state, dict):
        return {k: map_state(v, fn) for k, v in state.items()}
    raise TypeError(f"recurrent state must hold tensors, got {type(state).__name__}")


def zip_states(fn: Callable[..., Tensor], *states: Any) -> Any:
    """Combine several states of the same structure tensor by tensor."""
    first = states[0]
    if isinstance(first, Tensor):
        return fn(*states)
    if isinstance(first, tuple) and hasattr(first, "_fields"):
        return type(first)(*(zip_states(fn, *parts) for parts in zip(*states)))
    if isinstance(first, (tuple, list)):
        return type(first)(zip_states(fn, *parts) for parts in zip(*states))
    if isinstance(first, dict):
        return {k: zip_states(fn, *(s[k] for s in states)) for k in first}
    raise TypeError(f"recurrent state must hold tensors, got {type(first).__name__}")


def detach_state(state: Any) -> Any:
    """Cut the graph behind a carried state: truncated BPTT between chunks.

    Works for a tensor, an :class:`LSTMState`, a ``(h, c)`` tuple, or any
    nesting of tuples, lists and dicts of tensors.
    """
    return map_state(state, lambda t: t.detach())
