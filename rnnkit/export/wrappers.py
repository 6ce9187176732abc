"""The exportable graphs of each task model: plain tensors in, plain tensors out, named.

A caller of an exported file runs what rnnkit's Python does around the network: for classify,
tag, forecast and the memory problems the whole model is one graph; for generation
(language models), translation and captioning the graphs are an ``encoder`` and a one-step
``decoder``, and the caller runs the decoding loop (greedy, sampling or beam search) over them.

Every graph takes its inputs as ``forward(*inputs)`` in the order of :attr:`Graph.inputs` (the
names of the exported file's inputs) and returns :attr:`Graph.outputs`. Which inputs and
outputs a graph has depends on the model's configuration (an LSTM has a cell state ``c``; a
decoder without attention reads no memory), because an exporter drops inputs a graph never reads.
:attr:`Graph.dims` names each tensor's axes: a name is a dynamic size shared by the tensors that
use it (``B`` batch, ``T`` / ``S`` time), ``None`` a size fixed by the model.

The graphs reuse the models' own code (``emissions``, ``encode``, ``decoder.step``, pooling, the
bidirectional runner); only input checks that read tensor values (which an exporter cannot keep)
are left out. Built on the original model they compute rnnkit's results; built on a copy from
:func:`rnnkit.export.recurrence.swap_layers` they export.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch
from torch import Tensor, nn

from rnnkit.models.tagger import TaggerBatch
from rnnkit.state import LSTMState


@dataclasses.dataclass
class Graph:
    """One exportable graph: its ``module``, the names of its inputs and outputs, and their axes."""

    name: str
    module: nn.Module
    inputs: list[str]
    outputs: list[str]
    dims: dict[str, tuple[str | None, ...]]


def _state_names(cell: str, feed: bool = False) -> list[str]:
    return ["h"] + (["c"] if cell == "lstm" else []) + (["feed"] if feed else [])


def _flat(state: Any) -> list[Tensor]:
    return list(state) if isinstance(state, tuple) else [state]


def _rebuild(cell: str, tensors: tuple[Tensor, ...]) -> Any:
    return LSTMState(tensors[0], tensors[1]) if cell == "lstm" else tensors[0]


# -- whole models -------------------------------------------------------------------------------


class ClassifierGraph(nn.Module):
    """``(x (B, T) ids or (B, T, I) features, lengths (B,)) -> logits (B, C)``: SequenceClassifier in eval mode."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, *inputs: Tensor) -> Tensor:
        x, lengths = inputs
        return self.model.forward_unchecked(x, lengths)


class WholeGraph(nn.Module):
    """``forward(*inputs)`` of a model whose own forward is exportable as it is (memory problems, forecaster)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, *inputs: Tensor) -> Any:
        return self.model(*inputs)


class TaggerGraph(nn.Module):
    """The tagger's emissions ``(B, T, K)`` from a :class:`TaggerBatch`'s tensors (those the model reads).

    Decoding (Viterbi under the scheme's constraints, or the argmax per word) runs on the emissions
    outside the graph: the CRF's scores travel in the export's metadata.
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        c = model.config
        self.names = ["words"] + (["casing"] if c.casing_size else []) + \
            (["chars", "char_lengths", "word_index"] if c.char_features else []) + ["lengths"]

    def forward(self, *inputs: Tensor) -> Tensor:
        got = dict(zip(self.names, inputs))
        words = got["words"]
        empty = words.new_zeros(0)
        b = TaggerBatch(words, got.get("casing", empty), got.get("chars", empty), got.get("char_lengths", empty),
                        got.get("word_index", empty), got["lengths"], words.new_zeros(0))
        return self.model.emissions(b)


# -- language models: the prime, then one token at a time ------------------------------------------


class LMEncoder(nn.Module):
    """``tokens (B, T) -> (logits (B, T, V), h, [c])`` from a zero state: reading a prime (or scoring text)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, *inputs: Tensor) -> tuple[Tensor, ...]:
        logits, state = self.model(inputs[0])
        return (logits, *_flat(state))


class LMStep(nn.Module):
    """``(token (B,), h, [c]) -> (logits (B, V), h, [c])``: one generation step."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, *inputs: Tensor) -> tuple[Tensor, ...]:
        token, *state = inputs
        logits, new = self.model(token.unsqueeze(1), _rebuild(self.model.config.cell, tuple(state)))
        return (logits.squeeze(1), *_flat(new))


# -- attention decoders: translation and captioning ----------------------------------------------


def _memory_names(decoder: nn.Module) -> list[str]:
    """The memory tensors a decoder step reads: none without attention; ``prepared`` only where it differs from
    the keys (general, bahdanau)."""
    if decoder.attn is None:
        return []
    return ["keys", "mask"] + (["prepared"] if decoder.attn.kind != "dot" else [])


class EncoderGraph(nn.Module):
    """``inputs -> (memory tensors, initial decoder state)`` of a Seq2Seq (``src (B, S), lengths (B,)``) or a
    Captioner (``images (B, 1, Hi, Wi)``), flattened in the order of :func:`decoder_graph`'s state inputs."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.memory_names = _memory_names(model.decoder)

    def forward(self, *inputs: Tensor) -> tuple[Tensor, ...]:
        memory, state = self.model.encode(*inputs)
        parts = {"keys": memory.keys, "mask": memory.mask, "prepared": memory.prepared}
        out = [parts[n] for n in self.memory_names] + _flat(state.rnn)
        if state.feed is not None:
            out.append(state.feed)
        return tuple(out)


class DecoderStep(nn.Module):
    """``(y_prev (B,), memory tensors, state) -> (logits (B, V), new state, [attention (B, S)])``: one step."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.decoder = model.decoder
        self.cell = model.config.cell
        self.memory_names = _memory_names(model.decoder)

    def forward(self, *inputs: Tensor) -> tuple[Tensor, ...]:
        from rnnkit.models.decoder import DecoderState, Memory

        y_prev = inputs[0]
        n = len(self.memory_names)
        got = dict(zip(self.memory_names, inputs[1 : 1 + n]))
        rest = inputs[1 + n :]
        k = 2 if self.cell == "lstm" else 1
        rnn = _rebuild(self.cell, tuple(rest[:k]))
        feed = rest[k] if self.decoder.input_feeding else None
        if got:
            memory = Memory(got["keys"], got["mask"], got.get("prepared", got["keys"]))
        else:  # no attention: the step never reads a memory
            memory = Memory(y_prev.new_zeros(0), y_prev.new_zeros(0, dtype=torch.bool), None)
        logits, state, weights = self.decoder.step(y_prev, memory, DecoderState(rnn, feed))
        out = [logits, *_flat(state.rnn)]
        if state.feed is not None:
            out.append(state.feed)
        if weights is not None:
            out.append(weights)
        return tuple(out)


# -- the graphs of each task ---------------------------------------------------------------------


def _decoder_graphs(model: nn.Module, enc_inputs: list[str], enc_dims: dict[str, tuple[str | None, ...]],
                    S: str | None) -> list[Graph]:
    """Encoder and decoder step; ``S`` names the memory's length (None: fixed by the model, as a caption's)."""
    cfg = model.config
    dec = model.decoder
    mem = _memory_names(dec)
    state = _state_names(cfg.cell, dec.input_feeding)
    mem_dims = {"keys": ("B", S, None), "mask": ("B", S), "prepared": ("B", S, None)}
    state_dims = {"h": (None, "B", None), "c": (None, "B", None), "feed": ("B", None)}
    enc = Graph("encoder", EncoderGraph(model), enc_inputs, mem + state,
                {**enc_dims, **{n: mem_dims[n] for n in mem}, **{n: state_dims[n] for n in state}})
    outs = ["logits"] + [f"{n}_out" for n in state] + (["attention"] if dec.attn is not None else [])
    dims = {"y_prev": ("B",), **{n: mem_dims[n] for n in mem}, **{n: state_dims[n] for n in state},
            "logits": ("B", None), **{f"{n}_out": state_dims[n] for n in state}, "attention": ("B", S)}
    step = Graph("decoder", DecoderStep(model), ["y_prev", *mem, *state], outs, dims)
    return [enc, step]


def task_graphs(task: str, model: nn.Module) -> list[Graph]:
    """The graphs of a ``task`` model (see the module docstring), built on ``model`` as it is."""
    cfg = model.config
    if task == "classify":
        x_dims = ("B", "T") if cfg.vocab_size else ("B", "T", None)
        return [Graph("model", ClassifierGraph(model), ["x", "lengths"], ["logits"],
                      {"x": x_dims, "lengths": ("B",), "logits": ("B", None)})]
    if task == "tag":
        g = TaggerGraph(model)
        dims = {"words": ("B", "T"), "casing": ("B", "T"), "chars": ("U", "C"), "char_lengths": ("U",),
                "word_index": ("B", "T"), "lengths": ("B",), "emissions": ("B", "T", None)}
        return [Graph("model", g, g.names, ["emissions"], dims)]
    if task in ("adding", "copy", "seqdigits"):
        x_dims = ("B", "T") if cfg.vocab_size else ("B", "T", None)
        out_dims = ("B", None) if cfg.readout == "last" else ("B", "T", None)
        return [Graph("model", WholeGraph(model), ["x"], ["y"], {"x": x_dims, "y": out_dims})]
    if task == "forecast":
        return [Graph("model", WholeGraph(model), ["context", "known"], ["mu", "sigma"],
                      {"context": ("B", None, None), "known": ("B", None, None), "mu": ("B", None),
                       "sigma": ("B", None)})]
    if task == "lm":
        state = _state_names(cfg.cell)
        sd = {n: (None, "B", None) for n in state}
        return [Graph("encoder", LMEncoder(model), ["tokens"], ["logits", *state],
                      {"tokens": ("B", "T"), "logits": ("B", "T", None), **sd}),
                Graph("decoder", LMStep(model), ["token", *state], ["logits", *(f"{n}_out" for n in state)],
                      {"token": ("B",), **sd, "logits": ("B", None), **{f"{n}_out": sd[n] for n in state}})]
    if task == "translate":
        return _decoder_graphs(model, ["src", "lengths"], {"src": ("B", "S"), "lengths": ("B",)}, "S")
    if task == "caption":
        return _decoder_graphs(model, ["images"], {"images": ("B", None, None, None)}, None)
    raise ValueError(f"no export for {task!r} runs")
