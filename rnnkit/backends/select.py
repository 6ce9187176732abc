"""Choosing the backend for one forward call.

The ``auto`` rule comes from ``benchmarks/speed.py`` on a 2-core CPU (see
``benchmarks/README.md``): torch's oneDNN LSTM kernel is the fastest LSTM there;
torch has no fused CPU kernel for the GRU and Elman RNN, so for those our fused
BPTT wins when gradients are needed and the per-step matmul is small (0.4x of
torch.nn's time at B=16 H=64, 0.9x at B=32 H=256), while at B=64 H=512 the
per-step GEMM dominates and torch's loop is as fast (1.0-1.1x), as it is for
inference. An LSTM with ``proj_size`` is not oneDNN's either (torch runs its plain loop), and is
ruled as the GRU: the fused loop measured 0.82x torch's time at (B, T, I, H, P) = (16, 500, 64, 64,
32), 1.0x at (32, 100, 256, 256, 128) (``benchmarks/README.md``). On a GPU, cuDNN (native) wins
everywhere.
"""

from __future__ import annotations

import warnings

BACKENDS = ("auto", "native", "fused", "reference")

#: above this many per-step recurrent multiply-adds per gate (B * H * H), ``auto`` leaves
#: the GRU and Elman RNN to torch's kernel: the GEMM dominates and our loop stops winning
FUSED_MAX_STEP_WORK = 4 * 2**20


class BackendFallbackWarning(UserWarning):
    """A backend asked for by name cannot run this case; another one runs instead."""


def choose(requested: str, *, kind: str | None, can_native: bool, can_fused: bool,
           training_grad: bool, device_type: str, step_work: int = 0, autocast: bool = False,
           proj_size: int = 0) -> str:
    """The backend that runs: ``requested`` if it can, else the next one down, with a warning.

    Args:
        kind: the built-in cell kind (``"lstm"``, ``"gru"``, ``"elman"``) or ``None`` for a user cell.
        training_grad: gradients will be taken through this call.
        step_work: ``B * H * H``, the size of one step's recurrent matmul per gate.
        autocast: mixed precision is on (the fused loop then can't run: ``can_fused`` is False).
        proj_size: the LSTM's projection size (0: none); with one torch's CPU kernel is not oneDNN's.
    """
    if requested == "auto":
        onednn = kind == "lstm" and not proj_size
        if can_native and (device_type != "cpu" or onednn or not training_grad or not can_fused
                           or step_work > FUSED_MAX_STEP_WORK):
            return "native"
        return "fused" if can_fused else "reference"
    if requested == "native" and not can_native:
        fallback = "fused" if can_fused else "reference"
        warnings.warn(f"backend 'native' cannot run this layer ({_why_not_native(kind)}); "
                      f"running '{fallback}' instead", BackendFallbackWarning, stacklevel=4)
        return fallback
    if requested == "fused" and not can_fused:
        why = ("runs in the input's dtype, not under autocast" if autocast and kind is not None else
               "needs a built-in cell with a written-out backward (ElmanCell, LSTMCell, GRUCell)")
        warnings.warn(f"backend 'fused' {why}; running 'reference' instead",
                      BackendFallbackWarning, stacklevel=4)
        return "reference"
    return requested


def _why_not_native(kind: str | None) -> str:
    if kind is None:
        return "torch has no kernel for a user-defined cell"
    return "torch's kernel needs the torch.nn-compatible layers rnnkit.RNN/LSTM/GRU"
