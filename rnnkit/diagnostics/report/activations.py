"""The "what the units track" view of a language model over any text: the best units coloured over the
passage with their correlation, the best unit for each named property, and gate saturation per layer.
Shared by the report of a run and by ``rnnkit inspect RUN --text FILE``."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from rnnkit.diagnostics.report import properties as props_mod
from rnnkit.diagnostics.report import units
from rnnkit.diagnostics.report.html import Section, esc, note, table
from rnnkit.diagnostics.report.svg import scatter
from rnnkit.diagnostics.report.textcolor import coloured, scale

MAX_RANK_TOKENS = 4000  # tokens the ranking reads: bounded, so the report stays quick on any run
SHOW_TOKENS = 600       # tokens shown coloured per unit
TOP_UNITS = 6


def display_tokens(vocab: Any, ids: Tensor) -> tuple[list[str], str]:
    """Tokens as shown (word level: ``<eos>`` as a line break) and the separator between them."""
    toks = [vocab.itos[i] for i in ids.tolist()]
    if vocab.level == "word":
        return ["\n" if t == "<eos>" else t for t in toks], " "
    return toks, ""


def trace(model: Any, ids: Tensor) -> list[units.LayerTrace]:
    """Every layer's per-token values of the language model ``model`` reading ``ids (T,)`` from a zero state."""
    with torch.no_grad():
        return units.unroll(model.rnn, model.embed(ids.view(1, -1)))


def units_sections(model: Any, vocab: Any, ids: Tensor, what: str) -> list[Section]:
    """The unit views of ``model`` over ``ids`` (a passage of ``what``): ranked units, per property, gates."""
    ids = ids[:MAX_RANK_TOKENS]
    kind = units.cell_kind(model.rnn)
    if kind is None:
        return [Section("units", "Hidden units over the text",
                        note(f"the {type(model.rnn).__name__} layer's steps can't be recomputed here "
                             f"(lstm, gru and rnn cells can): no unit view"))]
    traces = trace(model, ids)
    tokens, sep = display_tokens(vocab, ids)
    props = props_mod.properties(tokens)
    ranked = units.rank_units(traces, props, TOP_UNITS)
    per_prop = units.best_per_property(traces, props)
    A, names = units.unit_matrix(traces)
    column = {n: i for i, n in enumerate(names)}
    shown = tokens[:SHOW_TOKENS]
    parts = [f"<p>{len(tokens):,} tokens of {esc(what)} read from a zero state; every unit's activation "
             f"({'h and c' if kind == 'lstm' else 'h'} of each of the {len(traces)} layers, "
             f"{A.shape[1]:,} in all) is correlated (Pearson r) with each named property below. The units of "
             f"highest |r|, each coloured over the first {len(shown):,} tokens (blue negative, red positive):</p>"]
    if not ranked:
        parts.append(note("no property varies over this text (no line breaks, quotes or parentheses): nothing "
                          "to correlate with"))
    for rk in ranked:
        col = A[: len(shown), column[(rk.layer, rk.kind, rk.unit)]]
        vmax = 1.0 if rk.kind == "h" else float(max(1e-6, abs(col).max()))
        parts.append(f'<h3 class="unit">{esc(rk.name)}: r = {rk.r:+.3f} with "{esc(rk.prop)}"</h3>'
                     + coloured(shown, col.tolist(), True, vmax, sep) + scale(True, vmax, rk.kind))
    parts.append("<h3>best unit per property</h3>" + table(
        ["property", "what it is", "unit", "r"],
        [(p.prop, props_mod.DESCRIPTIONS[p.prop], p.name, round(p.r, 3)) for p in per_prop]))
    constant = [n for n in props_mod.DESCRIPTIONS if n not in {p.prop for p in per_prop}]
    if constant:
        parts.append(note(f"constant over this text, so not ranked: {', '.join(constant)}"))
    sections = [Section("units", "Hidden units over the text", "\n".join(parts))]
    sat = units.saturation(traces)
    if any(sat):
        rows, plots = [], []
        for k, layer in enumerate(sat):
            for gate, (left, right) in layer.items():
                rows.append((k, gate, round(float(left.mean()), 3), round(float(right.mean()), 3),
                             int(((left > 0.5) | (right > 0.5)).sum()), len(left)))
                step = max(1, len(left) // 256)  # at most 256 points per plot
                plots.append(scatter(list(zip(left[::step].tolist(), right[::step].tolist())),
                                     "left-saturated", "right-saturated", f"layer {k} {gate} gate"))
        body = ("<p>Each unit's fraction of steps with its gate below 0.1 (left-saturated) and above 0.9 "
                "(right-saturated), as in Karpathy et al. (2015): units far right or up act as switches.</p>"
                + table(["layer", "gate", "mean fraction left", "mean fraction right",
                         "units saturated > half the time", "units"], rows)
                + "<div>" + "".join(plots) + "</div>")
        sections.append(Section("saturation", "Gate saturation", body))
    return sections
