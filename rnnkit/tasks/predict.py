"""``rnnkit predict RUN``: labels for new inputs from a trained run, as JSON lines.

The run's checkpoint says its task. A ``classify`` run reads its inputs the way it was trained:
texts (from the arguments, else one per line from stdin) for a text run, ``.ts`` files for a
series run, WAV files, directories or archives for an audio run; each input gives one record
``{"input", "label", "probabilities": {label: p}}``. With ``data=`` (a labelled file in the run's
format, e.g. its test set) every record also holds the ``"true"`` label, and a label that training
never saw is an error naming its file and line. A ``tag`` run is handed to
:func:`rnnkit.tasks.tag.predict`, which yields tokens with tags and spans. With ``onnx`` the network runs in
onnxruntime from the run's export (``rnnkit export RUN``), refused unless it was exported from the checkpoint
being read; reading the inputs, labelling and (tag) decoding stay the same code.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from torch import Tensor

from rnnkit.data import audio, tabular, ucr
from rnnkit.errors import RnnkitError
from rnnkit.lines import chunks
from rnnkit.tasks import classify_data as cd
from rnnkit.tasks import runs
from rnnkit.tasks.classify import LoadedRun, load_run, predict_proba
from rnnkit.training import checkpoint

DIGITS = 6  # probabilities are written rounded to this many decimals


def run_task(run: str) -> str:
    """The task of a run directory or checkpoint (``classify``, ``tag``, ...)."""
    return str(checkpoint.load(runs.find_checkpoint(run)).get("task"))


def _unlabelled(loaded: LoadedRun, inputs: Iterable[str], seen: int = 0) -> tuple[list[Tensor], list[str]]:
    """``(tensors, input names)`` of unlabelled inputs: texts (``seen`` before them, for the messages), or
    paths of .ts / WAV files."""
    d = loaded.data
    tensors: list[Tensor] = []
    names: list[str] = []
    if loaded.vocab is not None:
        for text in inputs:
            toks = tabular.tokenize(text, d.tokens, d.lowercase)
            if not toks:
                raise RnnkitError(f"input {seen + len(names) + 1} is empty: nothing to classify")
            tensors.append(cd.encode_tokens(toks, loaded.vocab))
            names.append(text)
    elif d.format == "ts":
        for path in inputs:
            ts = ucr.read_ts(path, d.nan)
            tensors += ts.series
            names += ts.where
    else:
        fx = audio.FeatureExtractor(loaded.audio)
        for path in inputs:
            for name, raw in audio.wav_files(path):
                tensors.append(fx(audio.read_wav(raw, name, loaded.audio.sample_rate)))
                names.append(name)
    return tensors, names


def _labelled(loaded: LoadedRun, path: str) -> tuple[list[Tensor], list[str], list[str]]:
    """``(tensors, names, true labels)`` of a labelled file in the run's format."""
    split = cd.read_split(path, loaded.data, loaded.audio)
    cd.label_ids(split, loaded.classes, "labelled data")  # a label never seen in training is an error here
    if loaded.vocab is not None:
        tensors = [cd.encode_tokens(t, loaded.vocab) for t in split.items]
    else:
        tensors = list(split.items)
    return tensors, split.where, list(split.labels or [])


def classify(run: str, inputs: Iterable[str], device: str = "cpu", data: str | None = None,
             batch_size: int = 256, onnx: str | None = None,
             batches: Iterable[list[str]] | None = None) -> Iterator[dict[str, Any]]:
    """Records for ``inputs`` (or the labelled file ``data``) from a ``classify`` run; see the module docstring.
    ``onnx``: run the network in onnxruntime (the run's ``model.onnx`` for ``""``, else that file).
    ``batches``: texts instead of ``inputs``, in the groups they arrived in (stdin); each group is labelled
    and yielded before the next is read."""
    loaded = load_run(run, device)
    model = loaded.model
    if onnx is not None:
        from rnnkit.export.runtime import onnx_model

        model = onnx_model("classify", loaded.model, loaded.path, onnx)
    if data is not None:
        tensors, names, truth = _labelled(loaded, data)
        _check_channels(loaded, tensors, names)
        yield from _records(loaded, model, tensors, names, truth, batch_size)
    elif loaded.vocab is not None:  # texts: a batch at a time, so that memory stays flat on a long stdin
        seen = 0
        for texts in batches if batches is not None else chunks(inputs, batch_size):
            tensors, names = _unlabelled(loaded, texts, seen)
            seen += len(names)
            yield from _records(loaded, model, tensors, names, [], batch_size)
    else:
        paths = inputs if batches is None else (p for b in batches for p in b)
        tensors, names = _unlabelled(loaded, paths)
        _check_channels(loaded, tensors, names)
        yield from _records(loaded, model, tensors, names, [], batch_size)


def _check_channels(loaded: LoadedRun, tensors: list[Tensor], names: list[str]) -> None:
    if loaded.vocab is None and tensors and tensors[0].shape[1] != loaded.model.config.input_size:
        raise RnnkitError(f"{names[0]}: {tensors[0].shape[1]} channels per step, the run was trained on "
                          f"{loaded.model.config.input_size}")


def _records(loaded: LoadedRun, model: Any, tensors: list[Tensor], names: list[str], truth: list[str],
             batch_size: int) -> Iterator[dict[str, Any]]:
    if not tensors:
        return
    probs = predict_proba(model, tensors, batch_size)
    for i, p in enumerate(probs):
        record: dict[str, Any] = {"input": names[i], "label": loaded.classes[int(p.argmax())],
                                  "probabilities": {c: round(float(v), DIGITS) for c, v in zip(loaded.classes, p)}}
        if truth:
            record["true"] = truth[i]
        yield record


def predict(run: str, inputs: Iterable[str], device: str = "cpu", data: str | None = None,
            batch_size: int = 256, onnx: str | None = None,
            batches: Iterable[list[str]] | None = None) -> Iterator[dict[str, Any]]:
    """JSON-ready records for ``inputs`` (or ``batches`` of texts, see :func:`classify`) from the run, whatever
    its task (``classify`` or ``tag``); ``onnx``: the network runs in onnxruntime (see :func:`classify`)."""
    task = run_task(run)
    if task == "classify":
        yield from classify(run, inputs, device, data, batch_size, onnx, batches)
    elif task == "tag":
        if data is not None:
            raise RnnkitError("--data (a labelled file) is for classify runs; give a tag run its texts")
        from rnnkit.tasks import tag

        texts = (t for b in batches for t in b) if batches is not None else inputs
        yield from tag.predict(run, texts, device, batch_size, onnx=onnx)
    else:
        raise RnnkitError(f"rnnkit predict reads classify and tag runs; {run} is a {task!r} run"
                          + (" (try rnnkit sample)" if task == "lm" else ""))
