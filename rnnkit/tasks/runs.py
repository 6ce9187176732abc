"""Run directories: created fresh, never overwritten by another run, found again by later commands."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from rnnkit.errors import RnnkitError


def default_run_dir(task: str) -> Path:
    """``runs/<task>-YYYYmmdd-HHMMSS`` (with a suffix if that exists already)."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise RnnkitError("under torchrun, give the run directory with --out (every process must agree on it)")
    base = Path("runs") / f"{task}-{time.strftime('%Y%m%d-%H%M%S')}"
    path, i = base, 1
    while path.exists():
        i += 1
        path = base.with_name(f"{base.name}-{i}")
    return path


def prepare(run_dir: Path, resume: bool) -> dict[str, Any] | None:
    """Check ``run_dir`` for a new run or a resume; returns the saved config when resuming.

    A new run needs a missing or empty directory: one holding anything else is an
    error (nothing is overwritten). A resume needs ``config.json`` and ``last.pt`` there.
    """
    config_file, last = run_dir / "config.json", run_dir / "last.pt"
    if resume:
        if not last.is_file() or not config_file.is_file():
            raise RnnkitError(f"--resume: {run_dir} holds no run to continue (needs config.json and last.pt); "
                              f"drop --resume to start a new run there")
        try:
            return json.loads(config_file.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise RnnkitError(f"{config_file} is corrupt ({e}); start a new run with another --out") from None
    if os.environ.get("RANK", "0") != "0":
        return None  # under torchrun rank 0 checks (and then creates) the directory
    if run_dir.exists() and (not run_dir.is_dir() or any(run_dir.iterdir())):
        what = "a run" if config_file.exists() else "other files"
        raise RnnkitError(f"run directory {run_dir} already holds {what}; pass --resume to continue it, "
                          f"or choose another --out (nothing was overwritten)")
    return None


def write_config(run_dir: Path, config: dict[str, Any]) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    tmp = run_dir / ".config.json.tmp"
    tmp.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    tmp.replace(run_dir / "config.json")


def find_checkpoint(run: str | Path) -> Path:
    """The checkpoint of a run: the file itself, or ``best.pt`` (else ``last.pt``) in a run directory."""
    p = Path(run)
    if p.is_file():
        return p
    if not p.exists():
        raise RnnkitError(f"run {p}: no such directory or checkpoint file")
    for name in ("best.pt", "last.pt"):
        if (p / name).is_file():
            return p / name
    raise RnnkitError(f"run {p} holds no checkpoint (best.pt or last.pt); train it first")
