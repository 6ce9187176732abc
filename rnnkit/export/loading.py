"""A trained run as the exporter needs it: task, model, checkpoint, config, and what a caller must know.

Every task loads its runs with its own ``load_run`` (the checkpoint it selects, its checks and
errors); this module only dispatches on the checkpoint's task and keeps what the export's
metadata records: the class names, the tag set and CRF scores, the special token ids.
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path
from typing import Any

from torch import nn

from rnnkit.errors import RnnkitError
from rnnkit.tasks import runs
from rnnkit.training import checkpoint

TASKS = ("classify", "tag", "lm", "translate", "caption", "forecast", "adding", "copy", "seqdigits")


@dataclasses.dataclass
class LoadedModel:
    """A run's model (eval mode, CPU) with its checkpoint ``path``, resolved ``config`` and the task's ``run``
    object (``classify.LoadedRun``, the tagger's ``Encoder``, the LM's ``Vocab``, the translation codecs)."""

    task: str
    model: nn.Module
    path: Path
    config: dict[str, Any]
    run: Any = None


def sha256(path: Path) -> str:
    """The hex SHA-256 of a file: ties an export to the exact checkpoint it came from."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def load(run: str | Path) -> LoadedModel:
    """The model of a run directory or checkpoint file, through its task's own ``load_run``."""
    task = str(checkpoint.load(runs.find_checkpoint(run)).get("task"))
    if task == "classify":
        from rnnkit.tasks import classify

        lr = classify.load_run(run)
        return LoadedModel(task, lr.model, lr.path, {}, lr)
    if task == "tag":
        from rnnkit.tasks import tag

        model, enc, conf, path = tag.load_run(run)
        return LoadedModel(task, model, path, conf, enc)
    if task == "lm":
        from rnnkit.tasks import lm

        model, vocab, conf, path = lm.load_run(run)
        return LoadedModel(task, model, path, conf, vocab)
    if task == "translate":
        from rnnkit.tasks import translate

        model, codecs, conf, path = translate.load_run(run)
        return LoadedModel(task, model, path, conf, codecs)
    if task == "caption":
        from rnnkit.tasks import caption

        model, conf, path = caption.load_run(run)
        return LoadedModel(task, model, path, conf)
    if task == "forecast":
        from rnnkit.tasks import forecast

        model, conf, scalers, path = forecast.load_run(run)
        return LoadedModel(task, model, path, conf, scalers)
    if task in ("adding", "copy", "seqdigits"):
        from rnnkit.tasks import memory

        model, conf, path = memory.load_run(run)
        return LoadedModel(task, model, path, conf)
    raise RnnkitError(f"{run}: a {task!r} run; rnnkit export reads runs of {', '.join(TASKS)}")


def metadata(loaded: LoadedModel) -> dict[str, Any]:
    """What a caller of the exported graphs needs besides the graphs: labels, tags and CRF scores, token ids."""
    from rnnkit.data.parallel import BOS, EOS, PAD

    m = loaded.model
    if loaded.task == "classify":
        return {"classes": loaded.run.classes, "input_kind": "token ids" if m.embed is not None else "features"}
    if loaded.task == "tag":
        crf = None
        if m.crf is not None:
            start, trans, end = (t.detach().tolist() for t in m.crf.scores())
            crf = {"start": start, "trans": trans, "end": end}  # forbidden entries are -Infinity
        return {"tags": loaded.run.tags, "scheme": loaded.run.scheme, "crf": crf}
    if loaded.task in ("translate", "caption"):
        return {"bos": BOS, "eos": EOS, "pad": PAD}
    return {}
