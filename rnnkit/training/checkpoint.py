"""Checkpoints: written atomically, read back with errors that say what is wrong.

A checkpoint is one ``torch.save`` file holding a dict with ``format`` =
``"rnnkit-checkpoint"``, a format ``version``, the ``task`` name, the resolved
``config`` (one dict per section), and whatever the task and Trainer add (model,
vocabulary, optimizer, scheduler, RNG states, data position).

Writing goes to a temporary file in the same directory, which is flushed to disk and
then renamed over the target: a run killed mid-write leaves the previous checkpoint
intact, never half a file.
"""

from __future__ import annotations

import os
import pickle
import tempfile
from pathlib import Path
from typing import Any

import torch

from rnnkit.errors import CheckpointError

FORMAT = "rnnkit-checkpoint"
VERSION = 1


def save_atomic(obj: dict[str, Any], path: str | Path) -> None:
    """``torch.save(obj)`` to ``path`` via a temporary file + fsync + rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def make(task: str, config: dict[str, Any], **parts: Any) -> dict[str, Any]:
    """A checkpoint dict with the format header."""
    return {"format": FORMAT, "version": VERSION, "task": task, "config": config, **parts}


def load(path: str | Path, task: str | None = None) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_atomic` (on the CPU).

    Raises ``CheckpointError`` naming the file when it is missing, truncated or corrupt,
    not an rnnkit checkpoint, from a newer rnnkit, or (with ``task``) from another task.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path}: no such file")
    with path.open("rb") as f:
        magic = f.read(4)
    if magic != b"PK\x03\x04":  # torch.save writes a zip archive
        what = "an empty file" if not magic else "not a checkpoint file (torch.save writes a zip archive)"
        raise CheckpointError(f"checkpoint {path} is {what}; give a run directory or an rnnkit .pt file")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        if "Weights only load failed" not in str(e):
            raise CheckpointError(f"checkpoint {path} is corrupt ({str(e)[:120]}); resume from another "
                                  f"checkpoint or start a new run") from None
        raise CheckpointError(f"{path} holds pickled Python objects (a saved nn.Module?), not an rnnkit "
                              f"checkpoint; rnnkit only reads tensors and plain data, for safety") from None
    except Exception as e:  # torch raises RuntimeError, EOFError, ... here
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(f"checkpoint {path} is truncated or corrupt ({first[:120]}); "
                              f"resume from another checkpoint or start a new run") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not an rnnkit checkpoint (no format={FORMAT!r} header); "
                              f"a bare state_dict can be loaded with model.load_state_dict instead")
    if ckpt.get("version", 0) > VERSION:
        raise CheckpointError(f"checkpoint {path} has format version {ckpt['version']}, newer than this "
                              f"rnnkit reads ({VERSION}); upgrade rnnkit")
    if task is not None and ckpt.get("task") != task:
        raise CheckpointError(f"checkpoint {path} is from a {ckpt.get('task')!r} run, not {task!r}")
    return ckpt
