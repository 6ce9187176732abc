"""Regularisers applied inside the time loop: recurrent (variational) dropout and zoneout.

For one layer, one direction and one forward call, :class:`StepNoise` holds the masks:

- **recurrent dropout** (Gal & Ghahramani 2016, "variational" dropout): one Bernoulli mask per
  sequence ``M (B, O)``, the same at every step, scaled by ``1/(1-p)``, on the hidden state where it
  enters the recurrent matmul: ``H_{t-1} W_hh^T`` becomes ``(H_{t-1} ⊙ M) W_hh^T``. The state
  carried to the next step (and the GRU's ``z ⊙ H_{t-1}`` path) is not masked. Off in eval mode.
- **zoneout** (Krueger et al. 2017): each unit of each state tensor keeps its previous value with
  probability ``p`` at each step, ``S_t = Z_t ⊙ S_{t-1} + (1 - Z_t) ⊙ S̃_t`` with ``Z_t (B, X)``
  Bernoulli(p) drawn per step (``S̃_t`` the cell's new state); the step's output is the zoned
  ``H_t``. In eval mode ``Z_t = p`` (the expectation), as in the paper.

The third regulariser, DropConnect on ``W_hh`` (Merity et al. 2018), needs no change to the loop
(one mask on the weight per forward call; see :class:`rnnkit.layers.base.RecurrentBase`).

Masks are drawn from torch's global generator, so a seeded run draws the same ones. Shapes:
``T`` steps, ``B`` batch (the layer's sorted order with lengths), ``O``/``H`` the state sizes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from rnnkit.state import map_state


@dataclass(frozen=True)
class StepNoise:
    """The masks of one layer and direction for one forward call (see the module docstring)."""

    #: ``(B, O)`` scaled keep-mask on ``H_{t-1}`` before ``W_hh``, or ``None``
    recurrent: Tensor | None = None
    #: one ``(T, B, X)`` tensor per state tensor (h, then c for an LSTM): the weight of the
    #: previous value (0/1 in training, ``p`` in eval); ``None`` without zoneout
    zoneout: tuple[Tensor, ...] | None = None


def check_probability(name: str, p: Any) -> float:
    """``p`` as a float in ``[0, 1)``, else a ``ValueError`` naming the option."""
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p < 1:
        raise ValueError(f"{name} must be a number in [0, 1), got {p!r}")
    return float(p)


def sample(recurrent_dropout: float, zoneout: float, training: bool, steps: int, state0: Any,
           like: Tensor) -> StepNoise | None:
    """Draw the masks for one layer and direction (``None`` when nothing applies).

    ``state0``: the initial state of this layer and direction (its tensors' ``(B, X)`` shapes
    size the masks); ``like``: dtype and device.
    """
    leaves: list[Tensor] = []
    map_state(state0, lambda s: leaves.append(s) or s)
    rec = None
    if training and recurrent_dropout > 0:
        B, O = leaves[0].shape
        keep = 1.0 - recurrent_dropout
        rec = torch.empty(B, O, dtype=like.dtype, device=like.device).bernoulli_(keep).div_(keep)
    zone = None
    if zoneout > 0:
        if training:
            zone = tuple(torch.empty(steps, *s.shape, dtype=like.dtype, device=like.device).bernoulli_(zoneout)
                         for s in leaves)
        else:
            zone = tuple(torch.full((1, 1, 1), zoneout, dtype=like.dtype, device=like.device)
                         .expand(steps, *s.shape) for s in leaves)
    if rec is None and zone is None:
        return None
    return StepNoise(rec, zone)


def zone_state(new: Any, old: Any, masks: tuple[Tensor, ...], t: int) -> Any:
    """``Z_t ⊙ old + (1 - Z_t) ⊙ new`` for every tensor of a state (autograd; the reference step)."""
    if isinstance(new, Tensor):
        return torch.lerp(new, old, masks[0][t, : new.shape[0]])
    return type(new)(*(torch.lerp(n, o, z[t, : n.shape[0]]) for n, o, z in zip(new, old, masks)))
