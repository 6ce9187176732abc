"""Hidden units over time: every layer's ``h`` (and the LSTM's ``c``) and its gates, per token, and the
units that track named properties of the text (Karpathy, Johnson & Fei-Fei 2015).

Shapes: ``T`` tokens, ``H`` hidden units, ``U`` units ranked (layers x {h, c} x H), ``P`` properties.

The states are recomputed step by step from the layer's weights in torch.nn's layout and gate order
(LSTM ``i, f, g, o``, GRU ``r, z, n`` with the reset after the matmul, Elman ``tanh``/``relu``), so the
gates are seen too; a test checks that the top layer's ``h`` equals the model's own output.
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
    """Step ``rnn`` (a unidirectional torch.nn-layout RNN/LSTM/GRU, ``batch_first``) over ``x (1, T, I)``
    and return each layer's trace. ``state``: the layer's initial state (None: zeros)."""
    kind = cell_kind(rnn)
    if kind is None:
        raise ValueError(f"unit traces: can't recompute the steps of a {type(rnn).__name__}")
    if getattr(rnn, "bidirectional", False) or getattr(rnn, "proj_size", 0):
        raise ValueError("unit traces: bidirectional or projected layers are not traced")
    act = torch.relu if getattr(rnn, "nonlinearity", "tanh") == "relu" else torch.tanh
    inp = x[0].float()
    traces = []
    for k in range(rnn.num_layers):
        w_ih, w_hh = getattr(rnn, f"weight_ih_l{k}").float(), getattr(rnn, f"weight_hh_l{k}").float()
        H = w_hh.shape[1]
        b_ih = getattr(rnn, f"bias_ih_l{k}", None)
        b_hh = getattr(rnn, f"bias_hh_l{k}", None)
        xp = inp @ w_ih.T + (b_ih.float() if b_ih is not None else 0)
        bh = b_hh.float() if b_hh is not None else torch.zeros(w_hh.shape[0])
        h = torch.zeros(H) if state is None else _layer_state(state, k, 0)
        c = torch.zeros(H) if state is None or kind != "lstm" else _layer_state(state, k, 1)
        hs, cs, gates = [], [], {name: [] for name in ("input", "forget", "output", "reset", "update")}
        for t in range(xp.shape[0]):
            hp = h @ w_hh.T + bh
            if kind == "lstm":
                gi, gf, gg, go = (xp[t] + hp).chunk(4)
                i, f, o = torch.sigmoid(gi), torch.sigmoid(gf), torch.sigmoid(go)
                c = f * c + i * torch.tanh(gg)
                h = o * torch.tanh(c)
                gates["input"].append(i)
                gates["forget"].append(f)
                gates["output"].append(o)
                cs.append(c)
            elif kind == "gru":
                xr, xz, xn = xp[t].chunk(3)
                hr, hz, hn = hp.chunk(3)
                r, z = torch.sigmoid(xr + hr), torch.sigmoid(xz + hz)
                n = torch.tanh(xn + r * hn)
                h = (1 - z) * n + z * h
                gates["reset"].append(r)
                gates["update"].append(z)
            else:
                h = act(xp[t] + hp)
            hs.append(h)
        traces.append(LayerTrace(torch.stack(hs), torch.stack(cs) if cs else None,
                                 {g: torch.stack(v) for g, v in gates.items() if v}))
        inp = traces[-1].h
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
