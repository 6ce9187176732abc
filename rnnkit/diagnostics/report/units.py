"""Hidden units over time: every layer's ``h`` (and the LSTM's ``c``) and its gates, per token, and the
units that track named properties of the text (Karpathy, Johnson & Fei-Fei 2015).

Shapes: ``T`` tokens, ``H`` hidden units, ``U`` units ranked (layers x {h, c} x H), ``P`` properties.

The states are recomputed layer by layer from the weights in torch.nn's layout and gate order (LSTM
``i, f, g, o``, GRU ``r, z, n``), so every layer and the gates are seen too, not only the top layer's
output; a test checks them against the model's own output and final states.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

#: gates that are sigmoids, per cell kind: the ones that can saturate towards 0 (left) or 1 (right)
SIGMOID_GATES = {"lstm": ("input", "forget", "output"), "gru": ("reset", "update")}
LEFT, RIGHT = 0.1, 0.9  # Karpathy et al.: a gate is left-saturated below 0.1, right-saturated above 0.9


@dataclass
class LayerTrace:
    """One layer's per-step values, each ``(T, H)``."""

    h: Tensor
    c: Tensor | None = None
    gates: dict[str, Tensor] = field(default_factory=dict)


def cell_kind(rnn: nn.Module) -> str | None:
    """``lstm``, ``gru``, ``rnn`` (Elman) for a torch.nn-layout layer whose steps :func:`unroll` can recompute."""
    kind = getattr(rnn, "kind", None) or getattr(rnn, "mode", None)
    if isinstance(kind, str):
        kind = kind.lower()
        if kind in ("lstm", "gru"):
            return kind
        if kind in ("elman", "rnn_tanh", "rnn_relu", "rnn"):
            return "rnn"
    return None


@torch.no_grad()
def unroll(rnn: nn.Module, x: Tensor, state: Any = None) -> list[LayerTrace]:
    """Every layer's states and gates of ``rnn`` (a unidirectional torch.nn-layout RNN/LSTM/GRU,
    ``batch_first``) reading ``x (1, T, I)`` from ``state`` (the layer's initial state; None: zeros).

    Each layer's ``h`` comes from torch's own kernel for that one layer (its weights copied into a
    ``torch.nn`` layer); the gates of all steps then follow at once from ``h_{t-1}``
    (``x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh``), and an LSTM's ``c`` from ``c_t = f_t c_{t-1} + i_t g_t``:
    one fast pass per layer instead of a Python loop of matrix products."""
    kind = cell_kind(rnn)
    if kind is None:
        raise ValueError(f"unit traces: can't recompute the steps of a {type(rnn).__name__}")
    if getattr(rnn, "bidirectional", False) or getattr(rnn, "proj_size", 0):
        raise ValueError("unit traces: bidirectional or projected layers are not traced")
    inp = x.float()
    traces = []
    for k in range(rnn.num_layers):
        w_ih, w_hh = getattr(rnn, f"weight_ih_l{k}").float(), getattr(rnn, f"weight_hh_l{k}").float()
        H = w_hh.shape[1]
        b_ih = getattr(rnn, f"bias_ih_l{k}", None)
        b_hh = getattr(rnn, f"bias_hh_l{k}", None)
        bias = b_ih is not None
        if kind == "lstm":
            one: nn.RNNBase = nn.LSTM(w_ih.shape[1], H, 1, bias=bias, batch_first=True)
        elif kind == "gru":
            one = nn.GRU(w_ih.shape[1], H, 1, bias=bias, batch_first=True)
        else:
            one = nn.RNN(w_ih.shape[1], H, 1, nonlinearity=getattr(rnn, "nonlinearity", "tanh"), bias=bias,
                         batch_first=True)
        one.weight_ih_l0.copy_(w_ih)
        one.weight_hh_l0.copy_(w_hh)
        if bias:
            one.bias_ih_l0.copy_(b_ih.float())
            one.bias_hh_l0.copy_(b_hh.float())
        h0 = torch.zeros(1, 1, H) if state is None else _layer_state(state, k, 0).view(1, 1, H)
        c0 = torch.zeros(1, 1, H) if state is None or kind != "lstm" else _layer_state(state, k, 1).view(1, 1, H)
        out, _ = one(inp, (h0, c0) if kind == "lstm" else h0)
        h = out[0]                                                   # (T, H)
        h_prev = torch.cat([h0[0], h[:-1]])                          # (T, H): the state each step reads
        xp = inp[0] @ w_ih.T + (b_ih.float() if bias else 0)
        hp = h_prev @ w_hh.T + (b_hh.float() if bias else 0)
        trace = LayerTrace(h)
        if kind == "lstm":
            gi, gf, gg, go = (xp + hp).chunk(4, dim=1)
            i, f, g = torch.sigmoid(gi), torch.sigmoid(gf), torch.tanh(gg)
            c, cs = c0[0, 0], []
            for t in range(h.shape[0]):
                c = f[t] * c + i[t] * g[t]
                cs.append(c)
            trace.c = torch.stack(cs)
            trace.gates = {"input": i, "forget": f, "output": torch.sigmoid(go)}
        elif kind == "gru":
            xr, xz, _ = xp.chunk(3, dim=1)
            hr, hz, _ = hp.chunk(3, dim=1)
            trace.gates = {"reset": torch.sigmoid(xr + hr), "update": torch.sigmoid(xz + hz)}
        traces.append(trace)
        inp = out
    return traces


def _layer_state(state: Any, layer: int, which: int) -> Tensor:
    s = state[which] if isinstance(state, (tuple, list)) else state
    return s[layer, 0].float()


@dataclass
class Ranked:
    """A unit and how well it tracks one property: Pearson ``r`` over the passage."""

    layer: int
    kind: str  # "h" or "c"
    unit: int
    prop: str
    r: float

    @property
    def name(self) -> str:
        return f"layer {self.layer} {self.kind}[{self.unit}]"


def unit_matrix(traces: list[LayerTrace]) -> tuple[np.ndarray, list[tuple[int, str, int]]]:
    """All units side by side, ``(T, U)``, and what each column is: ``(layer, "h" | "c", unit)``."""
    cols, names = [], []
    for k, tr in enumerate(traces):
        for kind, v in (("h", tr.h), ("c", tr.c)):
            if v is not None:
                cols.append(v.double().numpy())
                names += [(k, kind, j) for j in range(v.shape[1])]
    return np.concatenate(cols, axis=1), names


def correlations(A: np.ndarray, props: dict[str, np.ndarray]) -> tuple[np.ndarray, list[str]]:
    """Pearson ``r`` of every unit column of ``A (T, U)`` with every non-constant property: ``(U, P)``."""
    names = [n for n, v in props.items() if np.std(v) > 0]
    if not names:
        return np.zeros((A.shape[1], 0)), []
    P = np.stack([props[n] for n in names], axis=1)
    Az = A - A.mean(0)
    Pz = P - P.mean(0)
    sa, sp = np.sqrt((Az**2).sum(0)), np.sqrt((Pz**2).sum(0))
    r = (Az.T @ Pz) / np.maximum(np.outer(sa, sp), 1e-12)
    r[sa < 1e-9] = 0.0  # a unit that never moves tracks nothing
    return r, names


def rank_units(traces: list[LayerTrace], props: dict[str, np.ndarray], top: int = 6) -> list[Ranked]:
    """The ``top`` (unit, property) pairs of highest ``|r|``, each unit at most once, best first."""
    A, names = unit_matrix(traces)
    r, pnames = correlations(A, props)
    if not pnames:
        return []
    best_p = np.abs(r).argmax(1)
    best_r = r[np.arange(r.shape[0]), best_p]
    order = np.argsort(-np.abs(best_r))
    out = []
    for u in order[:top]:
        layer, kind, unit = names[u]
        out.append(Ranked(layer, kind, unit, pnames[best_p[u]], float(best_r[u])))
    return out


def best_per_property(traces: list[LayerTrace], props: dict[str, np.ndarray]) -> list[Ranked]:
    """For each (non-constant) property, the unit of highest ``|r|`` with it."""
    A, names = unit_matrix(traces)
    r, pnames = correlations(A, props)
    out = []
    for j, p in enumerate(pnames):
        u = int(np.abs(r[:, j]).argmax())
        layer, kind, unit = names[u]
        out.append(Ranked(layer, kind, unit, p, float(r[u, j])))
    return sorted(out, key=lambda x: -abs(x.r))


def saturation(traces: list[LayerTrace]) -> list[dict[str, tuple[np.ndarray, np.ndarray]]]:
    """Per layer, per sigmoid gate: each unit's fraction of steps left-saturated (< 0.1) and right-saturated
    (> 0.9), two ``(H,)`` arrays."""
    out = []
    for tr in traces:
        out.append({g: ((v < LEFT).double().mean(0).numpy(), (v > RIGHT).double().mean(0).numpy())
                    for g, v in tr.gates.items()})
    return out
