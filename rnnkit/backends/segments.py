"""Variable lengths on torch's unpacked kernel: one fused call per segment of constant batch size.

torch's CPU kernel for a ``PackedSequence`` is not oneDNN: it steps cell by cell (3-5x
slower for an LSTM than the same batch unpacked). With the rows sorted by length
(descending, as :class:`rnnkit.layers.base.RecurrentBase` hands them over), the batch
size is constant between two consecutive distinct lengths ``t_{j-1} < t_j``: in that
segment of time exactly the first ``b_j = batch_sizes[t_{j-1}]`` rows are running. So

- **forward direction**: for ``j = 1..k``, run torch's unpacked kernel on
  ``x[t_{j-1}:t_j, :b_j]`` from the state carried out of segment ``j-1`` (the initial
  state for ``j = 1``), keep the first ``b_{j+1}`` rows of its final state to carry on;
  rows ``b_{j+1}:b_j`` end here and their final state is the segment's.
- **reverse direction**: each sequence reversed within its length (a gather), so that its
  padding again comes last, run as the forward direction, and the output reversed back.

A kernel call has a fixed cost of about two steps' work (B=32, H=256, forward+backward), so
segments shorter than :data:`MIN_KERNEL_STEPS` are merged and run in one call of rnnkit's
fused BPTT (:mod:`rnnkit.backends.fused`, which handles a shrinking batch itself and keeps
each row's final state exact; the same equations, parity 1e-5 / 1e-10 with torch.nn).
Under autocast, where fused cannot run, every segment runs on torch's kernel.

The state is carried exactly, so outputs and final states are the packed path's up to
floating-point rounding. Outputs at padded steps are zeros. Layers run one by one, both
directions concatenated, with inter-layer dropout in training as torch applies it.
Everything is built from torch ops and autograd Functions, so autograd differentiates it.

Measured with ``benchmarks/lengths.py`` at (B, T, I, H) = (32, 100, 256, 256), lengths in
[T/2, T]: 0.97x the padded batch's time without lengths, 0.36x torch.nn's packed LSTM.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from rnnkit.backends import fused

_VF = torch._VF

MODES = {"lstm": "lstm", "gru": "gru", "elman-tanh": "rnn_tanh", "elman-relu": "rnn_relu"}

#: how often the segment path ran (read by tests; never reset by rnnkit)
calls = 0


def segments_of(batch_sizes: list[int]) -> list[tuple[int, int, int]]:
    """``(start, stop, rows)`` for each run of equal batch sizes among the steps that have any row."""
    segs: list[tuple[int, int, int]] = []
    start = 0
    T = len(batch_sizes)
    for t in range(1, T + 1):
        if t == T or batch_sizes[t] != batch_sizes[start]:
            if batch_sizes[start] > 0:
                segs.append((start, t, batch_sizes[start]))
            start = t
    return segs


def unsupported(mode: str, x: Tensor) -> str | None:
    """Why the segment path cannot run this CPU call at oneDNN's speed, ``None`` when it can.

    A projected LSTM (``proj_size``) runs: torch's unpacked CPU kernel for it is not oneDNN
    but still precomputes the input projection, measured 0.45x of the packed path's time.
    """
    if not (torch.backends.mkldnn.is_available() and torch.backends.mkldnn.enabled):
        return "oneDNN is disabled or not built in (torch.backends.mkldnn)"
    return None


#: a segment of at least this many steps runs on torch's kernel; shorter ones (a call costs about as
#: much as two steps of B=32, H=256 forward+backward) are merged into one fused-BPTT call
MIN_KERNEL_STEPS = 8

#: the segment path runs when the mean segment holds at least this many steps (``inf``: never)
MIN_STEPS_PER_SEGMENT = 0.0


def worth_it(mode: str, segs: list[tuple[int, int, int]]) -> bool:
    """Whether the segment path is expected to beat torch's packed path (``benchmarks/lengths.py``).

    Short segments run as fused BPTT, itself faster than the packed kernel, so it always is.
    """
    steps = segs[-1][1] - segs[0][0]
    return steps >= MIN_STEPS_PER_SEGMENT * len(segs)


def _runs(segs: list[tuple[int, int, int]], use_fused: bool) -> list[tuple[str, int, int, int]]:
    """Segments grouped into ``(kind, start, stop, rows)`` calls: ``kernel`` (one segment) or ``fused`` (several)."""
    runs: list[tuple[str, int, int, int]] = []
    for a, b, n in segs:
        if use_fused and b - a < MIN_KERNEL_STEPS:
            if runs and runs[-1][0] == "fused" and runs[-1][2] == a:
                runs[-1] = ("fused", runs[-1][1], b, runs[-1][3])
            else:
                runs.append(("fused", a, b, n))
        else:
            runs.append(("kernel", a, b, n))
    return runs


def _direction(fn: Any, mode: str, x: Tensor, hx: list[Tensor], weights: list[Tensor], bias: bool,
               cell: Any, lengths: Tensor, batch_sizes: list[int],
               runs: list[tuple[str, int, int, int]]) -> tuple[Tensor, list[Tensor]]:
    """One layer, one direction over ``x (T, B, I)``, ``hx`` each ``(1, B, H)`` -> ``(out (T, B, O), finals)``."""
    T, B = x.shape[0], x.shape[1]
    outs: list[Tensor] = []
    carried = hx
    ends: list[list[Tensor]] = []  # per call, the final state of the rows that end in it
    for j, (kind, a, b, n) in enumerate(runs):
        nxt = runs[j + 1][3] if j + 1 < len(runs) else 0
        state = [s[:, :n] for s in carried]
        if kind == "kernel":
            res = fn(x[a:b, :n], state if mode == "lstm" else state[0], weights, bias, 1, 0.0, False, False, False)
            out, fin = res[0], list(res[1:])
        else:
            s0: Any = tuple(s[0] for s in state) if mode == "lstm" else state[0][0]
            rel = (lengths[:n] - a).clamp(max=b - a)
            out, f = fused.run(cell, x[a:b, :n], s0, rel, batch_sizes[a:b])
            fin = [t.unsqueeze(0) for t in f] if mode == "lstm" else [f.unsqueeze(0)]
        outs.append(F.pad(out, (0, 0, 0, B - n)) if n < B else out)
        ends.append([f[:, nxt:] for f in fin])
        carried = fin
    finals = [torch.cat([e[i] for e in reversed(ends)], 1) for i in range(len(hx))]
    stop = runs[-1][2]
    if stop < T:  # steps past the longest sequence
        outs.append(outs[0].new_zeros(T - stop, B, outs[0].shape[2]))
    return torch.cat(outs, 0) if len(outs) > 1 else outs[0], finals


def _reverse_index(lengths: Tensor, T: int, device: torch.device) -> Tensor:
    t = torch.arange(T).unsqueeze(1)
    L = lengths.unsqueeze(0)
    return torch.where(t < L, L - 1 - t, t).to(device)


def _reverse(x: Tensor, idx: Tensor) -> Tensor:
    """``x (T, B, F)`` reversed in time within each sequence's length (an involution)."""
    return x.gather(0, idx.unsqueeze(-1).expand_as(x))


def run(mode: str, x: Tensor, hx: Any, flat_weights: list[Tensor], bias: bool, num_layers: int,
        dropout: float, training: bool, bidirectional: bool, lengths: Tensor, batch_sizes: list[int],
        cells: Callable[[int, int], Any] | None = None) -> tuple[Tensor, Any]:
    """As :func:`rnnkit.backends.native.run` with lengths: ``x (T, B, I)`` sorted by length (descending).

    ``cells(layer, direction)``: the bound cell for fused BPTT on short segments (``None``: every
    segment on torch's kernel, as under autocast, where fused cannot run).
    """
    global calls
    calls += 1
    fn = getattr(_VF, MODES[mode])
    runs = _runs(segments_of(batch_sizes), cells is not None and not torch.is_autocast_enabled(x.device.type))
    lengths = lengths.cpu()
    states = list(hx) if mode == "lstm" else [hx]
    D = 2 if bidirectional else 1
    per = len(flat_weights) // (num_layers * D)  # weights per (layer, direction)
    rev = _reverse_index(lengths, x.shape[0], x.device) if D == 2 else None
    layer_in, fins = x, [[] for _ in states]
    for k in range(num_layers):
        outs = []
        for d in range(D):
            i = k * D + d
            w = flat_weights[i * per:(i + 1) * per]
            cell = cells(k, d) if cells is not None else None
            xin = layer_in if d == 0 else _reverse(layer_in, rev)
            out, fin = _direction(fn, mode, xin, [s[i:i + 1] for s in states], w, bias, cell, lengths,
                                  batch_sizes, runs)
            outs.append(out if d == 0 else _reverse(out, rev))
            for acc, f in zip(fins, fin):
                acc.append(f)
        layer_in = outs[0] if D == 1 else torch.cat(outs, -1)
        if dropout > 0 and training and k < num_layers - 1:
            layer_in = F.dropout(layer_in, dropout, training=True)
    finals = [torch.cat(f, 0) for f in fins]
    if mode == "lstm":
        return layer_in, (finals[0], finals[1])
    return layer_in, finals[0]
