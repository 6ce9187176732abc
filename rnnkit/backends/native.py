"""Native backend: torch's own fused RNN kernels (oneDNN on CPU, cuDNN on GPU).

Used only for the built-in cells, whose equations are exactly torch.nn's, so
the numbers are the same math. Runs the whole stack in one call; variable
lengths go through a packed sequence (the batch is already sorted by length).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

_VF = torch._VF

MODES = {"lstm": "lstm", "gru": "gru", "elman-tanh": "rnn_tanh", "elman-relu": "rnn_relu"}


def run(mode: str, x: Tensor, hx: Any, flat_weights: list[Tensor], bias: bool, num_layers: int,
        dropout: float, training: bool, bidirectional: bool,
        lengths: Tensor | None, batch_sizes: list[int] | None) -> tuple[Tensor, Any]:
    """``x (T, B, I)``, ``hx`` as torch.nn -> ``(out (T, B, D*O), h_n or (h_n, c_n))``."""
    fn = getattr(_VF, MODES[mode])
    hx_arg = list(hx) if mode == "lstm" else hx
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
