"""Real inputs for checking an export: the first sequences of the run's own test data.

Each task reads its test split (else its validation split, else its training data) the way it
was trained, through the task's own readers, and cuts it into padded batches in file order (so
a batch mixes lengths, which is what a lengths bug would get wrong). The batches are the inputs
of a task's first graph (the whole model, or the encoder), in :attr:`Graph.inputs` order.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch
from torch import Tensor

from rnnkit import config as cfgmod
from rnnkit.errors import RnnkitError
from rnnkit.export.loading import LoadedModel


@dataclasses.dataclass
class Examples:
    """Padded batches of real inputs and the file (or generator) they came from."""

    batches: list[tuple[Tensor, ...]]
    source: str


def _first(*paths: str | None) -> str:
    for p in paths:
        if p and Path(p).exists():
            return str(p)
    raise RnnkitError(f"none of the run's data files is readable here ({', '.join(str(p) for p in paths if p)}); "
                      f"give --data FILE")


def _chunks(n: int, size: int) -> list[list[int]]:
    return [list(range(i, min(i + size, n))) for i in range(0, n, size)]


def examples(loaded: LoadedModel, limit: int = 64, batch_size: int = 16, data: str | None = None) -> Examples:
    """Up to ``limit`` real inputs of ``loaded``'s task in batches of ``batch_size``; ``data``: read this file
    (in the run's format) instead of the run's own test data."""
    task, conf = loaded.task, loaded.config
    if task == "classify":
        from rnnkit.tasks import classify
        from rnnkit.tasks.predict import _labelled

        d = loaded.run.data
        path = data or _first(d.test, d.valid, d.data)
        tensors = _labelled(loaded.run, path)[0][:limit]
        return Examples([classify.batch_inputs(tensors[i[0] : i[-1] + 1]) for i in _chunks(len(tensors), batch_size)],
                        path)
    if task == "tag":
        from rnnkit.tasks import tag

        d = cfgmod.build(tag.TagDataConfig, conf["data"], "data config", internal=True)
        path = data or _first(d.test, d.valid, d.data)
        sents = tag.read_tagged(path, d, loaded.run.scheme)[0][:limit]
        enc = tag.Encoded(loaded.run, [s.tokens for s in sents])
        names = ["words", "casing", "chars", "char_lengths", "word_index", "lengths"]
        wanted = tag_input_names(loaded.model)
        out = []
        for idx in _chunks(len(sents), batch_size):
            b = enc.batch(idx)
            out.append(tuple(getattr(b, n) for n in names if n in wanted))
        return Examples(out, path)
    if task == "lm":
        from rnnkit.tasks import lm

        d = cfgmod.build(lm.LMDataConfig, conf["data"], "data config", internal=True)
        path = data or _first(d.test, d.valid, d.data)
        T = 32
        text = Path(path).read_text(encoding="utf-8")[: 40 * limit * T]  # enough characters for the ids below
        ids = lm.encode_checked(loaded.run, text, path)
        rows = min(limit, max(2, ids.numel() // T))
        T = min(T, ids.numel() // rows)
        x = ids[: rows * T].view(rows, T)
        return Examples([(x[i[0] : i[-1] + 1],) for i in _chunks(rows, batch_size)], path)
    if task == "translate":
        from rnnkit.data.batching import pad_sequences
        from rnnkit.data.parallel import PAD
        from rnnkit.tasks import translate

        if data is not None:
            lines = [line.split("\t")[0] for line in Path(data).read_text(encoding="utf-8").splitlines() if line]
            where = data
        else:
            d = cfgmod.build(translate.TranslateDataConfig, conf["data"], "data config", internal=True)
            lines, where = translate.read_splits(d)["test"][0], "the run's test split"
        src = translate.encode_sources(loaded.run[0], lines[:limit])
        return Examples([pad_sequences([src[j] for j in i], PAD) for i in _chunks(len(src), batch_size)], where)
    if task == "caption":
        from rnnkit.tasks import caption

        d = cfgmod.build(caption.CaptionDataConfig, conf["data"], "data config", internal=True)
        images = caption.CaptionTask(dataclasses.replace(d, valid_size=1, test_size=limit)).test[0]
        return Examples([(images[i[0] : i[-1] + 1],) for i in _chunks(images.shape[0], batch_size)],
                        "the run's test images")
    if task == "forecast":
        from rnnkit.forecasting.windows import windows
        from rnnkit.tasks import forecast

        d = cfgmod.build(forecast.ForecastDataConfig, conf["data"], "data config", internal=True)
        if data is not None:
            d = dataclasses.replace(d, data=data)
        _, sp, splits, prepared = forecast.setup(d, quiet=True)
        ctx, known = [], []
        for p, s in zip(prepared, splits):
            w = windows(p, list(range(s.test_start, len(p.series) - sp.horizon + 1)) or [s.test_start], sp, d.base)
            ctx.append(w["context"])
            known.append(w["known"])
        c, k = torch.cat(ctx)[:limit], torch.cat(known)[:limit]
        return Examples([(c[i[0] : i[-1] + 1], k[i[0] : i[-1] + 1]) for i in _chunks(c.shape[0], batch_size)],
                        f"{d.data} (test windows)")
    if task in ("adding", "copy", "seqdigits"):
        from rnnkit.tasks import memory

        cls = memory.sections(task)["data"]
        x = memory.make_task(task, cfgmod.build(cls, conf["data"], "data config", internal=True)).test[0][:limit]
        return Examples([(x[i[0] : i[-1] + 1],) for i in _chunks(x.shape[0], batch_size)], f"the {task} test set")
    raise RnnkitError(f"no examples for {task!r} runs")


def tag_input_names(model: torch.nn.Module) -> list[str]:
    """The tensors of a tagger batch that ``model`` reads (its graph's inputs)."""
    from rnnkit.export.wrappers import TaggerGraph

    return TaggerGraph(model).names
