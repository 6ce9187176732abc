"""The classic long-range memory problems, generated on the fly from a seed.

**Adding problem** (Hochreiter & Schmidhuber 1997; in the form of Le et al. 2015 and Arjovsky
et al. 2016). Input ``x (B, T, 2)``: channel 0 holds values drawn uniformly from [0, 1],
channel 1 is a marker, 1 at exactly two steps (one in the first half of the sequence, one in
the second) and 0 elsewhere. The target ``y (B, 1)`` is the sum of the two marked values,
read after the last step. Always answering 1 (the mean of the target) scores MSE
``Var(u1 + u2) = 2/12 ~ 0.167``: a model below that has learnt to carry a value across up to
T steps.

**Copy-memory problem** (Arjovsky et al. 2016). Symbols ``1..S`` (default S = 8), blank 0,
delimiter ``S + 1``. Input ``(B, T + 2L)`` token ids: L random symbols, ``T - 1`` blanks, the
delimiter, L blanks. Target ``(B, T + 2L)``: blanks for ``T + L`` steps, then the L symbols of
the start. A memoryless model (blanks, then a uniform guess) scores cross-entropy
``L log S / (T + 2L)`` per step, the baseline to beat.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

ADDING_BASELINE_MSE = 1.0 / 6.0  # Var(u1 + u2) for u ~ U(0, 1): the MSE of always answering 1


def adding_batch(batch: int, T: int, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """``(x (B, T, 2), y (B, 1))`` for the adding problem (see the module docstring)."""
    if T < 2:
        raise ValueError(f"adding problem: T must be >= 2, got {T}")
    values = torch.rand(batch, T, generator=generator)
    half = T // 2
    first = torch.randint(0, half, (batch,), generator=generator)
    second = torch.randint(half, T, (batch,), generator=generator)
    marks = torch.zeros(batch, T)
    rows = torch.arange(batch)
    marks[rows, first] = 1.0
    marks[rows, second] = 1.0
    x = torch.stack([values, marks], dim=-1)
    y = (values[rows, first] + values[rows, second]).unsqueeze(1)
    return x, y


def copy_batch(batch: int, T: int, generator: torch.Generator | None = None, symbols: int = 8,
               length: int = 10) -> tuple[Tensor, Tensor]:
    """``(x (B, T + 2L), y (B, T + 2L))`` token ids for the copy-memory problem; vocabulary ``symbols + 2``."""
    if T < 1 or symbols < 1 or length < 1:
        raise ValueError(f"copy problem: T, symbols and length must be >= 1, got {T}, {symbols}, {length}")
    seq = torch.randint(1, symbols + 1, (batch, length), generator=generator)
    n = T + 2 * length
    x = torch.zeros(batch, n, dtype=torch.long)
    x[:, :length] = seq
    x[:, length + T - 1] = symbols + 1  # the delimiter: "now write them out"
    y = torch.zeros(batch, n, dtype=torch.long)
    y[:, -length:] = seq
    return x, y


def copy_baseline(T: int, symbols: int = 8, length: int = 10) -> float:
    """Per-step cross-entropy (nats) of the memoryless strategy on the copy problem."""
    return length * math.log(symbols) / (T + 2 * length)
