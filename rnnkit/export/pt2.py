"""``torch.export`` programs of the task graphs, saved with ``torch.export.save`` (``.pt2``).

The graphs run on :class:`~rnnkit.export.recurrence.ScanRNN` layers: ``torch.export`` unrolls
torch's fused RNN kernel over a fixed number of steps, while a ``scan`` keeps the time axis
dynamic. The export's metadata (task, graph, inputs, outputs, checkpoint hash, labels) is stored
in the archive as the extra file ``rnnkit.json``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torch.export import Dim, ExportedProgram

from rnnkit.export.wrappers import Graph

META = "rnnkit.json"


def dynamic_shapes(graph: Graph, example: tuple[Tensor, ...]) -> tuple[tuple[dict[int, Any], ...]]:
    """``torch.export``'s ``dynamic_shapes`` for ``forward(*inputs)``: ``Dim.AUTO`` on every named axis.

    AUTO rather than named ``Dim``s with fixed ranges: ``torch.export`` then finds the ranges and the equal sizes
    itself (a conv front end needs ``T >= 5``, all batch axes are one size). An axis it had to make a constant
    is caught by :func:`check_dynamic`, never left silently static.
    """
    return (tuple({i: Dim.AUTO for i, a in enumerate(graph.dims.get(name, ())[: t.dim()]) if a}
                  for name, t in zip(graph.inputs, example)),)


def check_dynamic(graph: Graph, shapes: list[tuple[Any, ...]]) -> None:
    """Raise if an axis ``graph.dims`` names came out as a fixed size in the exported input ``shapes``."""
    for name, shape in zip(graph.inputs, shapes):
        for i, a in enumerate(graph.dims.get(name, ())):
            if a and i < len(shape) and isinstance(shape[i], int):
                raise RuntimeError(f"axis {a} of input {name!r} could not stay dynamic (exported as size {shape[i]})")


def export_program(graph: Graph, example: tuple[Tensor, ...]) -> ExportedProgram:
    """The graph as an ``ExportedProgram`` with dynamic batch and time axes."""
    with torch.no_grad():
        ep = torch.export.export(graph.module, example, dynamic_shapes=dynamic_shapes(graph, example))
    placeholders = [n for n in ep.graph.nodes if n.op == "placeholder" and n.name.startswith("inputs")]
    check_dynamic(graph, [tuple(n.meta["val"].shape) for n in placeholders])
    return ep


def write(graph: Graph, example: tuple[Tensor, ...], path: Path, meta: dict[str, Any]) -> None:
    """Export ``graph`` and save it to ``path`` (the caller makes the write atomic)."""
    ep = export_program(graph, example)
    torch.export.save(ep, str(path), extra_files={META: json.dumps(meta)})


def load(path: Path) -> tuple[ExportedProgram, dict[str, Any]]:
    """``(program, metadata)`` of a saved ``.pt2`` export."""
    extra = {META: ""}
    ep = torch.export.load(str(path), extra_files=extra)
    return ep, json.loads(extra[META]) if extra[META] else {}
