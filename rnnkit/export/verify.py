"""Checking exported graphs against the PyTorch model on real inputs.

Two kinds of evidence, both on :mod:`rnnkit.export.examples`' batches:

- **numbers**: every output of every graph beside the same graph run on the original model
  (rnnkit's layers, its default backend), fed the same inputs; for a one-step decoder, the inputs
  of each step of the PyTorch model's own greedy decoding. Reported as the max absolute
  difference per output, and checked as ``max |a - b| / (1 + |b|)``.
- **predictions**: what a user sees, from the exported graphs against rnnkit's own prediction
  code: the labels of classify and seqdigits, the tags of a tagger (after its own Viterbi), the
  tokens of greedy decoding (rnnkit's ``decoding.greedy`` for translation and captions; greedy
  continuation for a language model), the copy problem's symbols. They must be identical.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch
from torch import Tensor

from rnnkit import config as cfgmod
from rnnkit.export.examples import Examples
from rnnkit.export.loading import LoadedModel
from rnnkit.export.wrappers import Graph, task_graphs

DECODER_STEPS = 12  # decoder steps whose numbers are compared (the predictions check every step)
LM_STEPS = 16  # greedy tokens generated after each language-model example


@dataclasses.dataclass
class Report:
    """``diffs``: max |exported - PyTorch| per ``graph.output``; ``scaled``: the largest ``|a - b| / (1 + |b|)``;
    ``same``: ``what -> (identical, compared)`` for the predictions; ``inputs``: how many, from where."""

    diffs: dict[str, float]
    scaled: float
    same: dict[str, tuple[int, int]]
    inputs: str

    @property
    def max_diff(self) -> float:
        return max(self.diffs.values(), default=0.0)

    @property
    def identical(self) -> bool:
        return all(a == b for a, b in self.same.values())

    def lines(self) -> list[str]:
        out = [f"checked on {self.inputs}"]
        out += [f"  {k}: max |diff| {v:.3g}" for k, v in self.diffs.items()]
        out += [f"  {k} identical: {a}/{b}" for k, (a, b) in self.same.items()]
        return out


class _Tally:
    def __init__(self) -> None:
        self.diffs: dict[str, float] = {}
        self.scaled = 0.0
        self.same: dict[str, list[int]] = {}

    def numbers(self, graph: Graph, ref: tuple[Tensor, ...], got: tuple[Tensor, ...]) -> None:
        if len(ref) != len(got):
            raise RuntimeError(f"{graph.name}: {len(got)} outputs, PyTorch gives {len(ref)}")
        for name, a, b in zip(graph.outputs, got, ref):
            if a.shape != b.shape:
                raise RuntimeError(f"{graph.name}.{name}: shape {tuple(a.shape)}, PyTorch gives {tuple(b.shape)}")
            a, b = a.double(), b.double()
            d = float((a - b).abs().max()) if a.numel() else 0.0
            key = f"{graph.name}.{name}"
            self.diffs[key] = max(self.diffs.get(key, 0.0), d)
            if a.numel():
                self.scaled = max(self.scaled, float(((a - b).abs() / (1 + b.abs())).max()))

    def predictions(self, what: str, got: list[Any], ref: list[Any]) -> None:
        s = self.same.setdefault(what, [0, 0])
        s[0] += sum(a == b for a, b in zip(got, ref))
        s[1] += len(ref)


def _tuple(x: Any) -> tuple[Tensor, ...]:
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _rows(t: Tensor, lengths: Tensor | None = None) -> list[list[int]]:
    if lengths is None:
        return t.tolist()
    return [row[: int(n)] for row, n in zip(t.tolist(), lengths)]


@torch.no_grad()
def verify(loaded: LoadedModel, exported: dict[str, Any], ex: Examples) -> Report:
    """Compare the ``exported`` graphs (name -> callable on tensors, e.g. :class:`ExportedGraph`) with PyTorch."""
    task, model = loaded.task, loaded.model
    ref = {g.name: g for g in task_graphs(task, model)}
    tally = _Tally()
    n = 0
    for batch in ex.batches:
        n += batch[0].shape[0]
        if task in ("translate", "caption", "lm"):
            _decoding(task, loaded, ref, exported, batch, tally)
            continue
        g = ref["model"]
        got = _tuple(exported["model"](*batch))
        want = _tuple(model(*batch)) if task == "classify" else _tuple(g.module(*batch))
        tally.numbers(g, want, got)
        if task in ("classify", "seqdigits"):
            tally.predictions("labels", got[0].argmax(-1).tolist(), want[0].argmax(-1).tolist())
        elif task == "copy":
            tally.predictions("symbols", got[0].argmax(-1).tolist(), want[0].argmax(-1).tolist())
        elif task == "tag":
            lengths = batch[-1]
            tally.predictions("tags", _rows(model.decode_emissions(got[0], lengths), lengths),
                              _rows(model.decode_emissions(want[0], lengths), lengths))
    same = {k: (v[0], v[1]) for k, v in tally.same.items()}
    return Report(tally.diffs, tally.scaled, same, f"{n} inputs from {ex.source}")


def _decoding(task: str, loaded: LoadedModel, ref: dict[str, Graph], exported: dict[str, Any],
              batch: tuple[Tensor, ...], tally: _Tally) -> None:
    from rnnkit.export.runtime import greedy_decode, lm_greedy

    enc, dec = ref["encoder"], ref["decoder"]
    want = _tuple(enc.module(*batch))
    tally.numbers(enc, want, _tuple(exported["encoder"](*batch)))
    if task == "lm":
        # the numbers of each step along the PyTorch model's greedy continuation, then the tokens themselves
        state, tok = list(want[1:]), want[0][:, -1].argmax(-1)
        for _ in range(DECODER_STEPS):
            w = _tuple(dec.module(tok, *state))
            tally.numbers(dec, w, _tuple(exported["decoder"](tok, *state)))
            state, tok = list(w[1:]), w[0].argmax(-1)
        tally.predictions("greedy tokens", lm_greedy(exported["encoder"], exported["decoder"], batch[0],
                                                     LM_STEPS).tolist(),
                          lm_greedy(enc.module, dec.module, batch[0], LM_STEPS).tolist())
        return
    from rnnkit.data.parallel import BOS, EOS
    from rnnkit.models.decoding import DecodeConfig, greedy

    decode_cfg = cfgmod.build(DecodeConfig, loaded.config.get("decode", {}), "decoding options", internal=True)
    B = batch[0].shape[0]
    # the limits rnnkit's own decoding uses: from the source lengths, or (captions) at most 4 digits
    limits = decode_cfg.limits(batch[1] if task == "translate" else torch.full((B,), 5))
    memory_size = len(enc.outputs) - len([n for n in dec.inputs if n in ("h", "c", "feed")])
    memory, state = want[:memory_size], list(want[memory_size:])
    tok = torch.full((B,), BOS, dtype=torch.long)
    for _ in range(min(DECODER_STEPS, int(limits.max()))):
        w = _tuple(dec.module(tok, *memory, *state))
        tally.numbers(dec, w, _tuple(exported["decoder"](tok, *memory, *state)))
        state, tok = list(w[1 : 1 + len(state)]), w[0].argmax(-1)
    got = greedy_decode(exported["encoder"], exported["decoder"], batch, memory_size, BOS, EOS, limits)
    hyps = greedy(loaded.model, batch, BOS, EOS, limits)
    tally.predictions("greedy tokens", got, [h.tokens for h in hyps])
