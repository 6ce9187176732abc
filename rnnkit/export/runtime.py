"""Running exported graphs: onnxruntime sessions or saved ``torch.export`` programs, the decoding loop a
caller runs over an encoder and a one-step decoder, and drop-in models for ``rnnkit predict --onnx``.

:class:`ExportedGraph` takes and returns torch tensors whichever runtime runs it, so the checks in
:mod:`rnnkit.export.verify` and the prediction paths read the same either way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from rnnkit.errors import RnnkitError


def _session(path: Path, threads: int) -> Any:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3  # onnxruntime's notes on its own graph rewrites, not the caller's business
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


class ExportedGraph:
    """One exported graph (``.onnx`` in onnxruntime, ``.pt2`` as its ``torch.export`` module): ``graph(*tensors)
    -> tuple of tensors``, inputs in the order of ``graph.inputs``; ``graph.meta`` is its rnnkit metadata."""

    def __init__(self, path: str | Path, threads: int = 0) -> None:
        path = Path(path)
        if not path.is_file():
            raise RnnkitError(f"exported model {path}: no such file")
        self.path = path
        threads = threads or torch.get_num_threads()
        if path.suffix == ".pt2":
            from rnnkit.export import pt2

            ep, self.meta = pt2.load(path)
            # no guard function: after several exports in one process, torch 2.13's generated guards failed on
            # valid inputs here ('NoneType' object has no attribute 'size'); the graph still checks its shapes
            self._module = ep.module(check_guards=False)
            self.inputs = list(self.meta.get("inputs", []))
            self._session = None
        else:
            from rnnkit.export.onnx import read_meta

            try:
                self._session = _session(path, threads)
                self.meta = read_meta(path)
            except Exception as e:  # onnxruntime raises its own exception types for unreadable files
                raise RnnkitError(f"{path} is not a readable ONNX model ({str(e).splitlines()[0][:160]})") from None
            self.inputs = [i.name for i in self._session.get_inputs()]
        if self.meta.get("format") != "rnnkit-export":
            raise RnnkitError(f"{path} was not written by rnnkit export (no rnnkit metadata)")

    def __call__(self, *inputs: Tensor) -> tuple[Tensor, ...]:
        if self._session is None:
            with torch.no_grad():
                out = self._module(*inputs)
            return tuple(out) if isinstance(out, (tuple, list)) else (out,)
        feed = {n: t.detach().cpu().numpy() for n, t in zip(self.inputs, inputs)}
        return tuple(torch.from_numpy(np.asarray(o)) for o in self._session.run(None, feed))


def check_source(graph: ExportedGraph, checkpoint: Path, task: str) -> None:
    """Refuse an export of another task, or of another checkpoint than the one predictions are labelled from."""
    from rnnkit.export.loading import sha256

    meta = graph.meta
    if meta.get("task") != task:
        raise RnnkitError(f"{graph.path} is an export of a {meta.get('task')!r} run, not of this {task!r} run")
    if meta.get("checkpoint_sha256") != sha256(checkpoint):
        raise RnnkitError(f"{graph.path} was exported from another checkpoint than {checkpoint} "
                          f"({meta.get('checkpoint')}); export the run again")


def greedy_decode(encoder: Any, decoder: Any, inputs: tuple[Tensor, ...], memory_size: int, bos: int, eos: int,
                  limits: Tensor) -> list[list[int]]:
    """Greedy decoding over an exported encoder and one-step decoder (translation, captioning): the most
    probable token at every step until ``<eos>`` (not included) or each input's limit ``limits (B,)``.

    ``memory_size``: how many of the encoder's outputs are memory tensors (the rest is the decoder state);
    the decoder returns ``(logits, new state..., [attention])``.
    """
    outs = encoder(*inputs)
    memory, state = outs[:memory_size], list(outs[memory_size:])
    B = int(limits.shape[0])
    tok = torch.full((B,), bos, dtype=torch.long)
    rows: list[list[int]] = [[] for _ in range(B)]
    done = torch.zeros(B, dtype=torch.bool)
    for t in range(int(limits.max())):
        res = decoder(tok, *memory, *state)
        state = list(res[1 : 1 + len(state)])
        tok = res[0].float().argmax(-1)
        for b in range(B):
            if not done[b]:
                if int(tok[b]) == eos:
                    done[b] = True
                else:
                    rows[b].append(int(tok[b]))
        done |= t + 1 >= limits
        if bool(done.all()):
            break
    return rows


def lm_greedy(encoder: Any, decoder: Any, tokens: Tensor, steps: int) -> Tensor:
    """``steps`` greedy tokens ``(B, steps)`` after each row of ``tokens (B, T)`` from an exported language model."""
    logits, *state = encoder(tokens)
    last, out = logits[:, -1], []
    for _ in range(steps):
        tok = last.float().argmax(-1)
        out.append(tok)
        last, *state = decoder(tok, *state)
    return torch.stack(out, 1)


class OnnxClassifier(nn.Module):
    """A classify run's model whose forward runs the exported graph: for ``classify.predict_proba``."""

    def __init__(self, model: nn.Module, graph: ExportedGraph) -> None:
        super().__init__()
        self.model, self.graph = model, graph  # the model only says the device and dtype

    def forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        return self.graph(x, lengths)[0]


class OnnxTagger(nn.Module):
    """A tag run's model whose emissions come from the exported graph; decoding (Viterbi) stays the model's own."""

    def __init__(self, model: nn.Module, graph: ExportedGraph) -> None:
        super().__init__()
        from rnnkit.export.examples import tag_input_names

        self.model, self.graph = model, graph
        self.names = tag_input_names(model)

    def emissions(self, b: Any) -> Tensor:
        return self.graph(*(getattr(b, n) for n in self.names))[0]

    def decode_emissions(self, emissions: Tensor, lengths: Tensor) -> Tensor:
        return self.model.decode_emissions(emissions, lengths)

    def nll(self, emissions: Tensor, b: Any) -> Tensor:
        return self.model.nll(emissions, b)


def onnx_model(task: str, model: nn.Module, checkpoint: Path, onnx: str) -> nn.Module:
    """``model`` with its network in onnxruntime, for ``rnnkit predict --onnx``: the export ``onnx`` (``""``: the
    run's ``model.onnx``), refused unless it was exported from ``checkpoint``."""
    from rnnkit.export.files import default_out

    path = Path(onnx) if onnx else default_out(checkpoint, "onnx")
    if not path.is_file():
        raise RnnkitError(f"--onnx: {path} does not exist; write it with: rnnkit export {checkpoint.parent}"
                          + (f" --out {path}" if onnx else ""))
    graph = ExportedGraph(path)
    check_source(graph, checkpoint, task)
    return OnnxClassifier(model, graph) if task == "classify" else OnnxTagger(model, graph)
