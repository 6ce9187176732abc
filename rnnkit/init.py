"""Initialisation schemes for recurrent weights.

The default is torch.nn's (every weight and bias uniform in ``±1/sqrt(H)``), so that
a seeded rnnkit layer and a seeded torch.nn layer start from the same numbers.
Two options users ask for:

- ``orthogonal``: each gate block of every ``weight_hh`` orthogonal (Saxe et al. 2014),
  which keeps the recurrent Jacobian's singular values near 1 at initialisation.
- ``forget_bias``: the LSTM forget-gate bias set to a value (1.0 per Jozefowicz et al. 2015)
  so the cell remembers by default; ``bias_ih`` carries it, ``bias_hh`` is zeroed there.
"""

from __future__ import annotations

import torch
from torch import nn

RECURRENT_INITS = ("uniform", "orthogonal")


@torch.no_grad()
def orthogonal_recurrent_(module: nn.Module, gates: int) -> None:
    """Make every ``weight_hh*`` of ``module`` orthogonal, one ``(H, O)`` gate block at a time."""
    for name, p in module.named_parameters():
        if name.split(".")[-1].startswith("weight_hh"):
            for block in p.chunk(gates, 0):
                nn.init.orthogonal_(block)


@torch.no_grad()
def forget_gate_bias_(module: nn.Module, value: float) -> None:
    """Set the LSTM forget-gate bias (gate order i, f, g, o) of every layer to ``value``."""
    for name, p in module.named_parameters():
        leaf = name.split(".")[-1]
        if leaf.startswith(("bias_ih", "bias_hh")):
            H = p.shape[0] // 4
            p[H: 2 * H] = value if leaf.startswith("bias_ih") else 0.0
