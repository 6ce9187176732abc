"""Input validation for recurrent layers: every message says what was expected and what came."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from rnnkit.errors import DTypeError, ShapeError
from rnnkit.state import map_state


def check_input(name: str, x: Any, input_size: int, batch_first: bool, params: list[Tensor]) -> None:
    """Rank, feature size, dtype and device of a layer input."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: input must be a Tensor or PackedSequence, got {type(x).__name__}")
    layout = "(B, T, I)" if batch_first else "(T, B, I)"
    if x.dim() not in (2, 3):
        raise ShapeError(f"{name}: expected input of shape {layout} or unbatched (T, I) "
                         f"with I={input_size}, got a {x.dim()}-D tensor of shape {tuple(x.shape)}")
    if x.shape[-1] != input_size:
        # torch.nn's words first (PyTorch's tests match them), then the shape that came
        raise ShapeError(f"{name}: input.size(-1) must be equal to input_size. Expected {input_size}, got "
                         f"{x.shape[-1]} (input of shape {tuple(x.shape)}, laid out {layout})")
    if not x.is_floating_point():
        raise DTypeError(f"{name}: input must be a floating-point tensor, got dtype {x.dtype} "
                        f"(embed token ids first, or call .float())")
    if x.shape[1 if batch_first and x.dim() == 3 else 0] == 0:
        # torch.nn's words (PyTorch's tests match them); a batch of 0 sequences is torch.nn's to run
        raise ShapeError(f"{name}: Expected sequence length to be larger than 0 in RNN: input of shape "
                         f"{tuple(x.shape)} has no time steps")
    if x.numel() == 0:
        raise ShapeError(f"{name}: input of shape {tuple(x.shape)} holds no sequence")
    for p in params:
        if p.dtype != x.dtype:
            raise DTypeError(f"{name}: input dtype {x.dtype} does not match the parameters' dtype "
                            f"{p.dtype}; convert one (e.g. layer.to({x.dtype}) or x.to({p.dtype}))")
        if p.device != x.device:
            raise ShapeError(f"{name}: input is on {x.device} but the parameters are on {p.device}; "
                             f"move them together (layer.to(x.device))")
        break


def check_lengths(name: str, lengths: Any, batch: int, steps: int) -> Tensor | None:
    """``lengths`` as an int64 CPU tensor of shape ``(B,)``, each in ``[1, T]``; ``None`` if all are ``T``."""
    if lengths is None:
        return None
    if not isinstance(lengths, Tensor):
        lengths = torch.as_tensor(lengths)
    if lengths.is_floating_point() or lengths.dtype == torch.bool or lengths.is_complex():
        raise DTypeError(f"{name}: lengths must hold integers, got dtype {lengths.dtype}")
    if lengths.dim() != 1 or lengths.shape[0] != batch:
        raise ShapeError(f"{name}: expected lengths of shape ({batch},), one per sequence, "
                         f"got shape {tuple(lengths.shape)}")
    lengths = lengths.to("cpu", torch.int64)
    if batch and int(lengths.min()) < 1:
        bad = int(torch.nonzero(lengths < 1)[0])
        raise ShapeError(f"{name}: every length must be >= 1, got lengths[{bad}] = {int(lengths[bad])}")
    if batch and int(lengths.max()) > steps:
        bad = int(torch.nonzero(lengths > steps)[0])
        raise ShapeError(f"{name}: lengths[{bad}] = {int(lengths[bad])} is longer than the sequence "
                         f"(T = {steps} steps)")
    if batch and bool((lengths == steps).all()):
        return None
    return lengths


def check_state(name: str, state: Any, expected: Any, unbatched: bool) -> None:
    """Each tensor of ``state`` against the shape of the matching tensor of ``expected``."""
    fields = getattr(expected, "_fields", None)
    got_leaves: list[Tensor] = []
    want_leaves: list[Tensor] = []
    try:
        map_state(state, got_leaves.append)
    except TypeError as e:
        raise TypeError(f"{name}: initial state: {e}") from None
    map_state(expected, want_leaves.append)
    if len(got_leaves) != len(want_leaves):
        what = f"a tuple ({', '.join(fields)})" if fields else f"{len(want_leaves)} tensor(s)"
        raise ShapeError(f"{name}: initial state must be {what}, got {len(got_leaves)} tensor(s)")
    for i, (got, want) in enumerate(zip(got_leaves, want_leaves)):
        label = fields[i] if fields else ("h_0" if len(want_leaves) == 1 else f"state[{i}]")
        shape = tuple(want.shape)
        if unbatched:
            shape = shape[:1] + shape[2:]
        if tuple(got.shape) != shape:
            raise ShapeError(f"{name}: Expected hidden size {shape} for initial state {label} "
                             f"(num_layers * num_directions, batch, features), got {tuple(got.shape)}")
        if got.dtype != want.dtype:
            raise DTypeError(f"{name}: initial state {label} has dtype {got.dtype}, expected {want.dtype}")
        if got.device != want.device:
            raise ShapeError(f"{name}: initial state {label} is on {got.device}, input on {want.device}")
