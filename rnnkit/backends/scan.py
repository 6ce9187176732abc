"""Scan backend: a cell whose recurrence is linear in the state runs all steps at once.

For cells such as :class:`rnnkit.cells.MinGRUCell` the gates do not read ``H_{t-1}``, so the
layer needs no time loop: the cell's ``scan(xp, h0, lengths)`` computes every step with a parallel
prefix scan and autograd differentiates those few whole-sequence ops.

Shapes: ``x (T, B, I)`` time-major; rows sorted by length (descending) when lengths are given.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor

from rnnkit.cells.base import BoundCell


def supports(cell: Any) -> bool:
    return isinstance(cell, BoundCell) and hasattr(cell.cell, "scan")


def run(cell: BoundCell, x: Tensor, state0: Tensor, lengths: Tensor | None,
        batch_sizes: list[int] | None = None, noise: Any = None) -> tuple[Tensor, Tensor]:
    """Run one layer in one direction: ``x (T, B, I)`` -> ``(out (T, B, H), h_n (B, H))``."""
    if noise is not None:
        raise ValueError(f"{type(cell.cell).__name__}: zoneout and recurrent dropout need a time loop; "
                         f"the scan has none")
    return cell.cell.scan(cell.project(x), state0, lengths)
