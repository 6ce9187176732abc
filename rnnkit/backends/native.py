"""Native backend: torch's own fused RNN kernels (oneDNN on CPU, cuDNN on GPU).

Used only for the built-in cells, whose equations are exactly torch.nn's, so
the numbers are the same math. Runs the whole stack in one call. Variable lengths
(the batch is already sorted by length): on the CPU, where torch's packed kernel is
not oneDNN, one unpacked call per segment of constant batch size
(:mod:`rnnkit.backends.segments`) when that is measured faster; elsewhere, and when
it is not, a packed sequence.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
from torch import Tensor
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from rnnkit.backends import segments
from rnnkit.backends.select import BackendFallbackWarning

_VF = torch._VF

MODES = {"lstm": "lstm", "gru": "gru", "elman-tanh": "rnn_tanh", "elman-relu": "rnn_relu"}


def lengths_path(mode: str, x: Tensor, batch_sizes: list[int] | None) -> str:
    """How :func:`run` runs this call: ``"unpacked"`` (no lengths), ``"segments"`` or ``"packed"``."""
    if batch_sizes is None:
        return "unpacked"
    if x.device.type != "cpu":
        return "packed"  # cuDNN's packed kernel is as fast as its unpacked one
    why = segments.unsupported(mode, x)
    if why is not None:
        warnings.warn(f"variable lengths run torch's packed CPU kernel, which steps cell by cell (several times "
                      f"slower), because {why}", BackendFallbackWarning, stacklevel=5)
        return "packed"
    return "segments" if segments.worth_it(mode, segments.segments_of(batch_sizes)) else "packed"


def run(mode: str, x: Tensor, hx: Any, flat_weights: list[Tensor], bias: bool, num_layers: int,
        dropout: float, training: bool, bidirectional: bool,
        lengths: Tensor | None, batch_sizes: list[int] | None, path: str | None = None,
        cells: Any = None) -> tuple[Tensor, Any]:
    """``x (T, B, I)``, ``hx`` as torch.nn -> ``(out (T, B, D*O), h_n or (h_n, c_n))``.

    ``path``: as :func:`lengths_path` gives (``None``: ask it); ``cells(layer, direction)``: the bound
    cells the segment path may run short segments with (:func:`rnnkit.backends.segments.run`).
    """
    fn = getattr(_VF, MODES[mode])
    hx_arg = list(hx) if mode == "lstm" else hx
    if path is None:
        path = lengths_path(mode, x, batch_sizes)
    if path == "segments":
        return segments.run(mode, x, hx, flat_weights, bias, num_layers, dropout, training, bidirectional,
                            lengths, batch_sizes, cells)
    if batch_sizes is None:
        res = fn(x, hx_arg, flat_weights, bias, num_layers, dropout, training, bidirectional, False)
        out = res[0]
    else:
        packed = pack_padded_sequence(x, lengths.cpu(), enforce_sorted=True)
        res = fn(packed.data, packed.batch_sizes, hx_arg, flat_weights, bias, num_layers, dropout,
                 training, bidirectional)
        out, _ = pad_packed_sequence(PackedSequence(res[0], packed.batch_sizes), total_length=x.shape[0])
    if mode == "lstm":
        return out, (res[1], res[2])
    return out, res[1]
