"""Run directories: created fresh, never overwritten by another run, found again by later commands."""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from collections.abc import Iterator
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


LOCK = ".lock"
# what a run writes before its first checkpoint: a directory holding only these never got far
# enough to resume, and a new run may start there again
UNSTARTED = {"config.json", ".config.json.tmp", "metrics.jsonl", "curves.png", "corpus.txt", LOCK}


def _lock_holder(run_dir: Path) -> int | None:
    """The pid of the live process holding ``run_dir``'s lock, or None (no lock, or a stale one)."""
    try:
        pid = int((run_dir / LOCK).read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        return None
    if pid == os.getpid():
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None  # its process died without cleaning up (killed): stale
    except PermissionError:
        return pid  # alive, another user's
    return pid


def _check_unlocked(run_dir: Path) -> None:
    pid = _lock_holder(run_dir)
    if pid is not None:
        raise RnnkitError(f"run directory {run_dir} is in use by process {pid} (see {run_dir / LOCK}); "
                          f"wait for it to finish or choose another --out")


@contextlib.contextmanager
def lock(run_dir: Path) -> Iterator[None]:
    """Hold ``run_dir`` for this process while training (rank 0 only): a second process that
    tries to train into it stops with an error instead of interleaving checkpoints."""
    if os.environ.get("RANK", "0") != "0":
        yield
        return
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / LOCK
    for _ in range(3):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            break
        except FileExistsError:
            _check_unlocked(run_dir)
            path.unlink(missing_ok=True)  # stale: its process is gone
    else:
        raise RnnkitError(f"could not lock run directory {run_dir} (another process keeps taking {path})")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(f"{os.getpid()}\n")
    try:
        yield
    finally:
        path.unlink(missing_ok=True)



@contextlib.contextmanager
def training(run_dir: Path, train_cfg: Any) -> Iterator[Any]:
    """What every task's ``train`` does around its loop: refuse unusable train options and an
    impossible precision/device pair before any work, hold ``run_dir``'s lock, and set up (and
    tear down) the torchrun process group. Yields the ``DistInfo`` of this process."""
    from rnnkit.training import distributed
    from rnnkit.training.trainer import autocast_dtype, resolve_device

    train_cfg.validate()
    device = resolve_device(train_cfg.device)
    autocast_dtype(train_cfg.precision, device)  # refuses fp16 on the CPU before any work is done
    with lock(run_dir):
        dist = distributed.setup(device.type)
        try:
            yield dist
        finally:
            distributed.cleanup()


def prepare(run_dir: Path, resume: bool, can_resume: bool = True) -> dict[str, Any] | None:
    """Check ``run_dir`` for a new run or a resume; returns the saved config when resuming.

    A new run needs a missing or empty directory, or one whose run never reached a
    checkpoint (only ``UNSTARTED`` files, cleared here); one holding anything else is an
    error (nothing is overwritten). A resume needs ``config.json`` and ``last.pt`` there.
    A directory locked by a live process is an error either way.
    """
    config_file, last = run_dir / "config.json", run_dir / "last.pt"
    if run_dir.exists() and not run_dir.is_dir():
        raise RnnkitError(f"{run_dir} is a file, not a run directory; choose another --out")
    if resume:
        if not last.is_file() or not config_file.is_file():
            why = ("its run stopped before the first checkpoint" if config_file.is_file()
                   else "it needs config.json and last.pt")
            raise RnnkitError(f"--resume: {run_dir} holds no run to continue ({why}); drop --resume to start "
                              f"a new run there")
        _check_unlocked(run_dir)
        try:
            return json.loads(config_file.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise RnnkitError(f"{config_file} is corrupt ({e}); start a new run with another --out") from None
    if os.environ.get("RANK", "0") != "0":
        return None  # under torchrun rank 0 checks (and then creates) the directory
    if not run_dir.exists():
        return None
    _check_unlocked(run_dir)
    names = {p.name for p in run_dir.iterdir()}
    if config_file.is_file() and names <= UNSTARTED:  # config.json: the files are a run's own, not a user's
        print(f"note: {run_dir} held a run that stopped before its first checkpoint; starting it afresh",
              file=sys.stderr)
        for name in names - {LOCK}:
            (run_dir / name).unlink(missing_ok=True)
    elif names - {LOCK}:
        what = "a run" if config_file.exists() else "other files"
        hint = "pass --resume to continue it, or choose" if can_resume and config_file.exists() else "choose"
        raise RnnkitError(f"run directory {run_dir} already holds {what}; {hint} another --out "
                          f"(nothing was overwritten)")
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
    found = [p / name for name in ("best.pt", "last.pt") if (p / name).is_file()]
    if found:
        return found[0]
    raise RnnkitError(f"run {p} holds no checkpoint (best.pt or last.pt); train it first")
