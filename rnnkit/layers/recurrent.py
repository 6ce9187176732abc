"""``rnnkit.Recurrent``: any cell, including a user's own, over time.

Stacking, both directions, variable lengths and carried state work exactly as in
the built-in layers. A cell with a written-out backward (the built-in cells) runs
on the fused BPTT backend; any other cell runs on the reference backend.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from torch import nn

from rnnkit.cells.base import BoundCell, Cell
from rnnkit.layers.base import RecurrentBase


class Recurrent(RecurrentBase):
    """Run ``cell`` over time, stacked and/or bidirectional.

    Args:
        cell: a :class:`~rnnkit.cells.Cell` instance (copied, with fresh parameters, for the
            other slots; stacking then needs its input size to equal ``D * O``), or a factory
            ``input_size -> Cell`` called once per layer and direction.
        input_size: required when ``cell`` is a factory.
        num_layers, bidirectional, batch_first, dropout: as in torch.nn.
        backend: ``"auto"``, ``"fused"`` or ``"reference"``.
        recurrent_dropout, zoneout, weight_drop, input_dropout: the regularisers
            (:meth:`~rnnkit.layers.base.RecurrentBase._init_regularisers`), for built-in cells.

    State: the cell's state structure with every tensor stacked to ``(L*D, B, ...)``.
    """

    def __init__(self, cell: Cell | Callable[[int], Cell], input_size: int | None = None,
                 num_layers: int = 1, bidirectional: bool = False, batch_first: bool = False,
                 dropout: float = 0.0, backend: str = "auto", recurrent_dropout: float = 0.0,
                 zoneout: float = 0.0, weight_drop: float = 0.0, input_dropout: float = 0.0) -> None:
        super().__init__()
        self._init_common(backend, dropout, num_layers)
        self._init_regularisers(recurrent_dropout, zoneout, weight_drop, input_dropout)
        if isinstance(cell, nn.Module):
            first, factory = cell, None
        elif callable(cell):
            if input_size is None:
                raise ValueError("Recurrent: input_size is required when cell is a factory")
            first, factory = cell(input_size), cell
        else:
            raise TypeError(f"Recurrent: cell must be a Cell or a factory input_size -> Cell, "
                            f"got {type(cell).__name__}")
        for attr in ("input_size", "output_size", "project", "step", "initial_state"):
            if not hasattr(first, attr):
                raise TypeError(f"Recurrent: the cell {type(first).__name__} lacks {attr!r} "
                                f"(subclass rnnkit.cells.Cell)")
        if input_size is not None and input_size != first.input_size:
            raise ValueError(f"Recurrent: input_size={input_size} but the cell takes {first.input_size}")
        self.input_size = first.input_size
        self.num_layers, self.bidirectional = num_layers, bidirectional
        self.batch_first, self.dropout = batch_first, float(dropout)
        D = self.num_directions
        cells: list[nn.Module] = []
        for k in range(num_layers):
            need = self.input_size if k == 0 else first.output_size * D
            for d in range(D):
                if k == 0 and d == 0:
                    cells.append(first)
                elif factory is not None:
                    cells.append(factory(need))
                elif need != first.input_size:
                    raise ValueError(f"Recurrent: layer {k} takes {need} features but the cell takes "
                                     f"{first.input_size}; pass a factory, e.g. "
                                     f"Recurrent(lambda i: {type(first).__name__}(i, ...), input_size=...)")
                else:
                    c = copy.deepcopy(first)
                    if hasattr(c, "reset_parameters"):
                        c.reset_parameters()
                    cells.append(c)
        self.cells = nn.ModuleList(cells)

    def cell_at(self, layer: int, direction: int) -> Any:
        bound = self.cells[layer * self.num_directions + direction].bind()
        if self.__dict__.get("_dropped") is None:
            return bound
        names = getattr(getattr(bound, "cell", None), "weight_names", ())
        if not isinstance(bound, BoundCell) or "weight_hh" not in names:
            raise ValueError(f"Recurrent: weight_drop needs a cell with a weight_hh (a built-in cell), "
                             f"got {type(bound).__name__}")
        k = names.index("weight_hh")
        w = list(bound.weights)
        w[k] = self._drop_weight((layer, direction), w[k])
        return BoundCell(bound.cell, tuple(w))

    @property
    def cell_kind(self) -> str | None:
        kinds = {getattr(c, "fused_kind", None) if hasattr(c, "fused_forward") else None for c in self.cells}
        return kinds.pop() if len(kinds) == 1 else None
