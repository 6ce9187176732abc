"""ONNX files of the task graphs, with dynamic batch and time axes and rnnkit's metadata inside.

Two exporters:

- ``legacy`` (default): ``torch.onnx.export(..., dynamo=False)``, opset 17, on
  :class:`~rnnkit.export.recurrence.KernelRNN` layers, so the file holds ONNX's own ``LSTM`` /
  ``GRU`` / ``RNN`` ops (with ``sequence_lens`` where lengths decide final states): the fastest
  graph in onnxruntime.
- ``dynamo``: ``torch.onnx.export(..., dynamo=True)`` of the ``torch.export`` program on
  :class:`~rnnkit.export.recurrence.ScanRNN` layers: the recurrence is an ONNX ``Scan``.

The metadata (the same JSON as a ``.pt2`` archive's ``rnnkit.json``) is the model's
``metadata_props`` entry ``rnnkit``.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from rnnkit.export.pt2 import check_dynamic, dynamic_shapes
from rnnkit.export.wrappers import Graph

EXPORTERS = ("legacy", "dynamo")
OPSET = 17
META = "rnnkit"


def _dynamic_axes(graph: Graph) -> dict[str, dict[int, str]]:
    return {name: {i: a for i, a in enumerate(axes) if a} for name, axes in graph.dims.items()
            if name in graph.inputs or name in graph.outputs}


def write(graph: Graph, example: tuple[Tensor, ...], path: Path, meta: dict[str, Any], exporter: str = "legacy"
          ) -> None:
    """Export ``graph`` to ``path`` (the caller makes the write atomic) and store ``meta`` in it."""
    import onnx

    if exporter not in EXPORTERS:
        raise ValueError(f"unknown ONNX exporter {exporter!r}: expected one of {', '.join(EXPORTERS)}")
    with torch.no_grad(), warnings.catch_warnings():
        # the tracer's notes on Python values in the graph (shape checks, loop bounds fixed by the model)
        warnings.simplefilter("ignore")
        if exporter == "legacy":
            torch.onnx.export(graph.module, example, str(path), dynamo=False, opset_version=OPSET,
                              input_names=graph.inputs, output_names=graph.outputs,
                              dynamic_axes=_dynamic_axes(graph))
        else:
            program = torch.onnx.export(graph.module, example, dynamo=True, input_names=graph.inputs,
                                        output_names=graph.outputs,
                                        dynamic_shapes=dynamic_shapes(graph, example), verbose=False)
            program.save(str(path))
    model = onnx.load(str(path))
    if exporter == "dynamo":
        check_dynamic(graph, [tuple(d.dim_value if d.HasField("dim_value") else d.dim_param
                                    for d in i.type.tensor_type.shape.dim) for i in model.graph.input])
    got = [i.name for i in model.graph.input]
    if got != graph.inputs:  # an exporter drops an input the graph never reads: a caller would miss it
        raise RuntimeError(f"ONNX export of {graph.name}: inputs {got}, expected {graph.inputs}")
    entry = model.metadata_props.add()
    entry.key, entry.value = META, json.dumps(meta)
    onnx.save(model, str(path))


def read_meta(path: Path) -> dict[str, Any]:
    """The rnnkit metadata of an exported ONNX file ({} for a file rnnkit did not write)."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    for p in model.metadata_props:
        if p.key == META:
            return json.loads(p.value)
    return {}
