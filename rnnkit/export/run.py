"""``rnnkit export RUN``: a trained run's model as ONNX or ``torch.export`` files, checked before they are kept.

The run is loaded by its task's own ``load_run``; a copy of the model gets exportable recurrent
layers (:mod:`rnnkit.export.recurrence`), each graph of :mod:`rnnkit.export.wrappers` is exported
with an example batch of the run's own test data, and the files are read back (onnxruntime, or
the saved program) and checked against the PyTorch model (:mod:`rnnkit.export.verify`). Only an
export that passes is renamed to its final names: a failed check leaves the previous files alone.
"""

from __future__ import annotations

import contextlib
import dataclasses
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from rnnkit.errors import RnnkitError
from rnnkit.export import files
from rnnkit.export.examples import Examples, examples
from rnnkit.export.loading import LoadedModel, load, metadata, sha256
from rnnkit.export.recurrence import swap_layers
from rnnkit.export.verify import Report, verify
from rnnkit.export.wrappers import Graph, task_graphs
from rnnkit.outputs import atomic_path

FORMATS = ("onnx", "pt2")
FORMAT_TAG = "rnnkit-export"


@dataclasses.dataclass
class Exported:
    """The files written (graph name -> path) and the check they passed."""

    paths: dict[str, Path]
    report: Report
    task: str
    exporter: str


def _example_batch(ex: Examples) -> tuple[Tensor, ...]:
    """The batch the graphs are traced with: at least 2 rows (a size of 1 would be taken for a constant)."""
    for b in ex.batches:
        if b[0].shape[0] >= 2:
            return b
    b = ex.batches[0]
    return tuple(torch.cat([t, t]) for t in b)


def _decoder_example(task: str, enc_out: tuple[Tensor, ...], batch: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
    """The step decoder's example inputs: the first token (``<bos>``, or an LM's last prime token) and the
    encoder's outputs (memory and initial state)."""
    from rnnkit.data.parallel import BOS

    B = batch[0].shape[0]
    if task == "lm":
        return (batch[0][:, -1], *enc_out[1:])
    return (torch.full((B,), BOS, dtype=torch.long), *enc_out)


def export_run(run: str | Path, fmt: str = "onnx", out: str | Path | None = None, exporter: str = "legacy",
               data: str | None = None, limit: int = 64, tolerance: float = 1e-4) -> Exported:
    """Export ``run`` (a run directory or checkpoint) to ``out`` (default ``model.onnx`` / ``model.pt2`` in the run
    directory; ``<stem>.encoder`` / ``<stem>.decoder`` files for encoder-decoder tasks) and check it on up to
    ``limit`` real inputs (the run's test data, or ``data``): numbers within ``tolerance`` (scaled), predictions
    identical. ``exporter``: ``legacy`` or ``dynamo`` for ONNX (pt2 always uses ``torch.export``)."""
    from rnnkit.export import onnx as onnx_export
    from rnnkit.export import pt2
    from rnnkit.export.runtime import ExportedGraph

    if fmt not in FORMATS:
        raise RnnkitError(f"--format: expected one of {', '.join(FORMATS)}, got {fmt!r}")
    if exporter not in onnx_export.EXPORTERS:
        raise RnnkitError(f"--exporter: expected one of {', '.join(onnx_export.EXPORTERS)}, got {exporter!r}")
    if fmt == "pt2":
        exporter = "torch.export"
    if limit < 1:
        raise RnnkitError(f"--limit must be >= 1, got {limit}")
    loaded = load(run)
    target = Path(out) if out else files.default_out(loaded.path, fmt)
    files.check_targets([target], loaded.path)
    if target.suffix != files.SUFFIX[fmt]:
        raise RnnkitError(f"--out {target}: a {fmt} export is written to a {files.SUFFIX[fmt]} file")
    ex = examples(loaded, limit, data=data)
    if not ex.batches:
        raise RnnkitError(f"no inputs to check the export on in {ex.source}")
    flavour = "kernel" if exporter == "legacy" else "scan"
    try:
        graphs = task_graphs(loaded.task, swap_layers(loaded.model, flavour))
    except ValueError as e:
        raise RnnkitError(f"{loaded.path}: {e}") from None
    paths = files.graph_paths(target, [g.name for g in graphs])
    files.check_targets(list(paths.values()), loaded.path)
    meta = _meta(loaded, graphs, paths, exporter)
    batch = _example_batch(ex)
    with contextlib.ExitStack() as stack, torch.no_grad():
        tmp = {g.name: stack.enter_context(atomic_path(paths[g.name])) for g in graphs}
        example: tuple[Tensor, ...] = batch
        for g in graphs:
            if g.name == "decoder":
                enc = graphs[0].module(*batch)
                example = _decoder_example(loaded.task, tuple(enc), batch)
            m = {**meta, "graph": g.name, "inputs": g.inputs, "outputs": g.outputs,
                 "dims": {k: list(v) for k, v in g.dims.items() if k in g.inputs or k in g.outputs}}
            try:
                if fmt == "onnx":
                    onnx_export.write(g, example, tmp[g.name], m, exporter)
                else:
                    pt2.write(g, example, tmp[g.name], m)
            except RnnkitError:
                raise
            except Exception as e:  # the exporters raise many types; the first line says what failed
                first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                raise RnnkitError(f"{fmt} export of the {g.name} graph failed ({exporter}): {first[:300]}") from None
        report = verify(loaded, {n: ExportedGraph(p, threads=torch.get_num_threads()) for n, p in tmp.items()}, ex)
        if report.scaled > tolerance or not report.identical:
            raise RnnkitError(f"the export does not reproduce the PyTorch model (scaled difference "
                              f"{report.scaled:.3g}, tolerance {tolerance:g}; " +
                              ", ".join(f"{k} {a}/{b} identical" for k, (a, b) in report.same.items()) +
                              "); nothing was written")
    return Exported(paths, report, loaded.task, exporter)


def _meta(loaded: LoadedModel, graphs: list[Graph], paths: dict[str, Path], exporter: str) -> dict[str, Any]:
    from rnnkit import __version__

    return {"format": FORMAT_TAG, "version": 1, "rnnkit": __version__, "task": loaded.task, "exporter": exporter,
            "graphs": {g.name: paths[g.name].name for g in graphs}, "checkpoint": str(loaded.path),
            "checkpoint_sha256": sha256(loaded.path), **metadata(loaded)}
