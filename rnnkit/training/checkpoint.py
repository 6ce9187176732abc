"""Checkpoints: written atomically, read back with errors that say what is wrong.

A checkpoint is one ``torch.save`` file holding a dict with ``format`` =
``"rnnkit-checkpoint"``, a format ``version``, the ``task`` name, the resolved
``config`` (one dict per section), and whatever the task and Trainer add (model,
vocabulary, optimizer, scheduler, RNG states, data position).

Writing goes to a temporary file in the same directory, which is flushed to disk and
then renamed over the target: a run killed mid-write leaves the previous checkpoint
intact, never half a file.

Every checkpoint also holds a ``checksum``: the SHA-256 of its model weights (every tensor's
name, dtype, shape and bytes, in name order) and of its config. ``load`` recomputes it, so
bytes changed on disk (a bad sector, a botched copy) are an error naming the file instead of
a model that silently computes NaN. Checkpoints written before the checksum load unchecked.
"""

from __future__ import annotations

import hashlib
import json
import pickle
from pathlib import Path
from typing import Any

import torch

from rnnkit.errors import CheckpointError
from rnnkit.outputs import atomic_file

FORMAT = "rnnkit-checkpoint"
VERSION = 1


def checksum(ckpt: dict[str, Any]) -> str:
    """SHA-256 (hex) of a checkpoint's ``model`` tensors and its ``config``: what :func:`load` verifies."""
    h = hashlib.sha256()
    model = ckpt.get("model")
    if isinstance(model, dict):
        for name in sorted(model, key=str):
            t = model[name]
            h.update(f"{name}\0".encode())
            if not isinstance(t, torch.Tensor):
                h.update(repr(t).encode())
                continue
            t = t.detach().cpu()
            if t.is_quantized:
                t = t.int_repr()
            h.update(f"{t.dtype}{tuple(t.shape)}\0".encode())
            # the raw bytes of every element, whatever the dtype (bf16 and bool have no numpy view of their own)
            h.update(t.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    h.update(json.dumps(ckpt.get("config"), sort_keys=True, default=repr).encode())
    return h.hexdigest()


def save_atomic(obj: dict[str, Any], path: str | Path) -> None:
    """``torch.save(obj)`` with its :func:`checksum` to ``path`` via a temporary file + fsync + rename.

    A failed write (a full disk) leaves the previous file and no temporary one, and is a
    ``CheckpointError`` naming ``path``.
    """
    path = Path(path)
    obj = {**obj, "checksum": checksum(obj)}
    try:
        with atomic_file(path, "wb", fsync=True) as f:
            torch.save(obj, f)
    except RuntimeError as e:  # torch's zip writer reports a full disk as "[enforce fail at inline_container.cc]"
        first = str(e).strip().splitlines()[0][:160] if str(e).strip() else type(e).__name__
        raise CheckpointError(f"could not write checkpoint {path} ({first}); is the disk full? the previous "
                              f"checkpoint, if any, is intact") from None


def make(task: str, config: dict[str, Any], **parts: Any) -> dict[str, Any]:
    """A checkpoint dict with the format header."""
    return {"format": FORMAT, "version": VERSION, "task": task, "config": config, **parts}


DAMAGED = "the file is damaged: use the run's other checkpoint, or train the run again"


def _reason(e: BaseException, limit: int = 120) -> str:
    """torch's error in a few words: its first sentence, or the words that fit in ``limit`` characters
    (its zip reader's message goes on about miniz internals)."""
    text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    text = text.split(". ")[0].rstrip(".")
    if len(text) <= limit:
        return text
    return text[: text.rfind(" ", 0, limit)].rstrip(" ,:;(") + " ..."


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
            raise CheckpointError(f"checkpoint {path} is corrupt ({_reason(e)}); {DAMAGED}") from None
        raise CheckpointError(f"{path} holds pickled Python objects (a saved nn.Module?), not an rnnkit "
                              f"checkpoint; rnnkit only reads tensors and plain data, for safety") from None
    except Exception as e:  # torch raises RuntimeError, EOFError, ... here
        raise CheckpointError(f"checkpoint {path} is truncated or corrupt ({_reason(e)}); {DAMAGED}") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not an rnnkit checkpoint (no format={FORMAT!r} header); "
                              f"a bare state_dict can be loaded with model.load_state_dict instead")
    if ckpt.get("version", 0) > VERSION:
        raise CheckpointError(f"checkpoint {path} has format version {ckpt['version']}, newer than this "
                              f"rnnkit reads ({VERSION}); upgrade rnnkit")
    stored = ckpt.get("checksum")
    if stored is not None and stored != checksum(ckpt):
        raise CheckpointError(f"checkpoint {path} is corrupt: its weights or config do not match the checksum "
                              f"stored with them; use the run's other checkpoint or retrain")
    if task is not None and ckpt.get("task") != task:
        raise CheckpointError(f"checkpoint {path} is from a {ckpt.get('task')!r} run, not {task!r}")
    return ckpt
