"""Deployment of trained runs: ONNX and ``torch.export`` (``.pt2``) files, checked against PyTorch.

:func:`export_run` is ``rnnkit export RUN``; :class:`ExportedGraph` runs an exported file;
:mod:`rnnkit.export.wrappers` says which graphs each task has and what they take and return.
"""

from rnnkit.export.run import FORMATS, Exported, export_run
from rnnkit.export.runtime import ExportedGraph

__all__ = ["FORMATS", "Exported", "ExportedGraph", "export_run"]
