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
    """``torch.export``'s ``dynamic_shapes`` for ``forward(*inputs)``: one ``Dim`` per axis name, shared."""
    dims: dict[str, Any] = {}
    per_input = []
    for name, t in zip(graph.inputs, example):
        axes = graph.dims.get(name, ())
        per_input.append({i: dims.setdefault(a, Dim(a, min=1)) for i, a in enumerate(axes[: t.dim()]) if a})
    return (tuple(per_input),)


def export_program(graph: Graph, example: tuple[Tensor, ...]) -> ExportedProgram:
    """The graph as an ``ExportedProgram`` with dynamic batch and time axes."""
    with torch.no_grad():
        return torch.export.export(graph.module, example, dynamic_shapes=dynamic_shapes(graph, example))


def write(graph: Graph, example: tuple[Tensor, ...], path: Path, meta: dict[str, Any]) -> None:
    """Export ``graph`` and save it to ``path`` (the caller makes the write atomic)."""
    ep = export_program(graph, example)
    torch.export.save(ep, str(path), extra_files={META: json.dumps(meta)})


def load(path: Path) -> tuple[ExportedProgram, dict[str, Any]]:
    """``(program, metadata)`` of a saved ``.pt2`` export."""
    extra = {META: ""}
    ep = torch.export.load(str(path), extra_files=extra)
    return ep, json.loads(extra[META]) if extra[META] else {}
