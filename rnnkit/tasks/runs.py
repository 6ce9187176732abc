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

from rnnkit.errors import CheckpointError, RnnkitError
from rnnkit.outputs import is_temporary, write_atomic
from rnnkit.training import checkpoint

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]


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
# what a run writes before its first checkpoint: a directory holding only these (and temporary files
# of killed writes) never got far enough to resume, and a new run may start there again
# (report.html: rnnkit report of such a run says what it lacks)
UNSTARTED = {"config.json", ".config.json.tmp", "metrics.jsonl", "metrics.csv", "curves.png", "corpus.txt",
             "report.html", LOCK}


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, another user's
    return True


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        return None


def _try_flock(fd: int, shared: bool = False) -> bool:
    """Take the advisory lock on ``fd`` without waiting; False when another open file holds it.
    The kernel drops it when its process dies, however it dies: a killed run never leaves it held."""
    if fcntl is None:
        return True  # no flock (Windows): the pid in the file is all there is
    try:
        fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _lock_holder(run_dir: Path) -> int | None:
    """The pid of the live process holding ``run_dir``'s lock (0 when it holds it but has not yet
    written its pid), or None: no lock, a stale one (its process died), or this process's own."""
    path = run_dir / LOCK
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        held = not _try_flock(fd, shared=True)
    finally:
        os.close(fd)  # closing drops the probe's own lock
    pid = _read_pid(path)
    if pid == os.getpid():
        return None
    if held:
        return pid or 0
    # nobody holds the flock: the holder is dead, unless the file is an older rnnkit's (no flock) with a live pid
    return pid if pid is not None and _pid_alive(pid) else None


def _in_use(run_dir: Path, pid: int | None) -> RnnkitError:
    who = f"process {pid}" if pid else "another process"
    return RnnkitError(f"run directory {run_dir} is in use by {who} (see {run_dir / LOCK}); "
                       f"wait for it to finish or choose another --out")


def _check_unlocked(run_dir: Path) -> None:
    pid = _lock_holder(run_dir)
    if pid is not None:
        raise _in_use(run_dir, pid)


def remove_temporaries(run_dir: Path) -> list[str]:
    """Delete what writes cut short by a kill left in ``run_dir`` (``.last.pt.*.tmp``, ...); their names."""
    gone = []
    for p in sorted(run_dir.iterdir()) if run_dir.is_dir() else []:
        if is_temporary(p.name) and p.is_file():
            p.unlink(missing_ok=True)
            gone.append(p.name)
    return gone


def _acquire(run_dir: Path) -> int:
    """The open, flock-held lock file of ``run_dir`` with this process's pid in it, or an error."""
    path = run_dir / LOCK
    for _ in range(50):
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        if not _try_flock(fd):
            os.close(fd)
            raise _in_use(run_dir, _read_pid(path))
        try:  # the file may have been released (unlinked) by its holder between our open and our flock
            st, mine = os.stat(path), os.fstat(fd)
            current = (st.st_dev, st.st_ino) == (mine.st_dev, mine.st_ino)
        except FileNotFoundError:
            current = False
        if not current:
            os.close(fd)
            continue
        old = os.read(fd, 64).decode("utf-8", "replace").strip()
        pid = int(old) if old.isdigit() else None
        if pid is not None and pid != os.getpid() and _pid_alive(pid):
            # nobody holds the flock, yet the pid's process lives: an older rnnkit's lock (no flock), or
            # one without flock support; only a dead pid makes a lock stale
            os.close(fd)
            raise _in_use(run_dir, pid)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        return fd
    raise RnnkitError(f"could not lock run directory {run_dir} (another process keeps taking {path})")


@contextlib.contextmanager
def lock(run_dir: Path) -> Iterator[None]:
    """Hold ``run_dir`` for this process while training (rank 0 only): a second process that
    tries to train into it stops with an error instead of interleaving checkpoints.

    The lock is an ``flock`` on ``run_dir/.lock``, which also holds the pid: taking it is one atomic
    step, and the kernel releases it when the process dies, so a killed run's lock is never in the
    way. Once held, the temporary files that killed writes left in the directory are removed."""
    if os.environ.get("RANK", "0") != "0":
        yield
        return
    run_dir.mkdir(parents=True, exist_ok=True)
    fd = _acquire(run_dir)
    try:
        remove_temporaries(run_dir)
        yield
    finally:
        (run_dir / LOCK).unlink(missing_ok=True)  # while still held: no one can take the file being removed
        os.close(fd)


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
    created = [d for d in (run_dir, *run_dir.parents) if not d.exists()]  # innermost first
    try:
        with lock(run_dir):
            dist = distributed.setup(device.type)
            try:
                yield dist
            finally:
                distributed.cleanup()
    except RnnkitError:
        if os.environ.get("RANK", "0") == "0":
            _remove_unstarted(run_dir, created)
        raise


def _remove_unstarted(run_dir: Path, created: list[Path]) -> None:
    """After an input error, remove the run directory (and its parents) this run created, when they
    hold only what a run writes before its first checkpoint: a refused command leaves nothing behind
    (a later run there would otherwise find a directory it must explain). Anything else is kept."""
    if not created or not run_dir.is_dir():
        return
    names = {p.name for p in run_dir.iterdir()}
    if any(n not in UNSTARTED and not is_temporary(n) for n in names):
        return
    for name in names:
        (run_dir / name).unlink(missing_ok=True)
    for d in created:
        with contextlib.suppress(OSError):  # not empty (another process wrote there): keep it
            d.rmdir()


def prepare(run_dir: Path, resume: bool, can_resume: bool = True) -> dict[str, Any] | None:
    """Check ``run_dir`` for a new run or a resume; returns the saved config when resuming.

    A new run needs a missing or empty directory, or one whose run never reached a
    checkpoint (only ``UNSTARTED`` files and temporary files of killed writes, cleared here);
    one holding anything else is an error (nothing is overwritten). A resume needs
    ``config.json`` and ``last.pt`` there. A directory locked by a live process is an error
    either way.
    """
    config_file, last = run_dir / "config.json", run_dir / "last.pt"
    if run_dir.exists() and not run_dir.is_dir():
        raise RnnkitError(f"{run_dir} is a file, not a run directory; choose another --out")
    if resume:
        if not last.is_file() or not config_file.is_file():
            if config_file.is_file():
                raise RnnkitError(f"--resume: {run_dir} holds no checkpoint to continue from (its run stopped "
                                  f"before the first checkpoint); run the same command without --resume to start it "
                                  f"afresh there")
            raise RnnkitError(f"--resume: {run_dir} holds no run to continue (it needs config.json and last.pt); "
                              f"drop --resume to start a new run there")
        _check_unlocked(run_dir)
        try:
            saved = json.loads(config_file.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise RnnkitError(f"{config_file} is corrupt ({e}); start a new run with another --out") from None
        if not isinstance(saved, dict):
            raise RnnkitError(f"{config_file} is corrupt (a JSON {type(saved).__name__}, not an object of config "
                              f"sections); start a new run with another --out")
        return saved
    if os.environ.get("RANK", "0") != "0":
        return None  # under torchrun rank 0 checks (and then creates) the directory
    if not run_dir.exists():
        return None
    _check_unlocked(run_dir)
    names = {p.name for p in run_dir.iterdir()}
    own = {n for n in names if n in UNSTARTED or is_temporary(n)}
    if config_file.is_file() and names == own:  # config.json: the files are a run's own, not a user's
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


def fit(model: Any, task: Any, train_cfg: Any, run_dir: Path, meta: dict[str, Any], resume: bool
        ) -> tuple[Any, dict[str, Any]]:
    """``(trainer, summary)``: ``model`` trained on ``task`` into ``run_dir`` by the Trainer, continuing its
    ``last.pt`` when ``resume``. An option torch rejects when the optimizer is built (a negative learning
    rate) is a one-line error naming its flag."""
    from rnnkit import config as cfgmod
    from rnnkit.training import TrainConfig, Trainer

    try:
        trainer = Trainer(model, task, train_cfg, run_dir, meta=meta)
    except (ValueError, TypeError) as e:
        raise RnnkitError(f"train options: {cfgmod.as_flags(str(e), TrainConfig)}") from None
    return trainer, trainer.fit(resume=run_dir / "last.pt" if resume else None)


def write_config(run_dir: Path, config: dict[str, Any]) -> None:
    write_atomic(run_dir / "config.json", json.dumps(config, indent=2) + "\n")


CHECKPOINTS = ("best.pt", "last.pt")  # what a command loads from a run directory, in this order
# runs written before best.pt followed --select kept the model their task chose in a file of its own:
# {task: (that file, the [data] select values that chose it, what a missing select meant)}
LEGACY_BEST = {"classify": ("best-acc.pt", ("acc", "auto"), "acc"), "tag": ("best-score.pt", ("score",), None)}


def _legacy_choice(run_dir: Path, ckpt: dict[str, Any]) -> str | None:
    """The file an older classify or tag run chose (``best-acc.pt``, ``best-score.pt``, ``last.pt``), if any."""
    conf = ckpt.get("config") if isinstance(ckpt.get("config"), dict) else {}
    if "select" in (conf.get("train") or {}) or ckpt.get("task") not in LEGACY_BEST:
        return None  # a run of this rnnkit: best.pt is the chosen model
    name, chose, missing = LEGACY_BEST[ckpt["task"]]
    select = (conf.get("data") or {}).get("select", missing)
    wanted = name if select in chose else "last.pt" if select == "last" else None
    return wanted if wanted is not None and (run_dir / wanted).is_file() else None


def _first_loadable(found: list[Path], task: str | None) -> tuple[Path, dict[str, Any]]:
    first: CheckpointError | None = None
    for i, path in enumerate(found):
        try:
            ckpt = checkpoint.load(path, task)
        except CheckpointError as e:
            if "is from a" in str(e):  # another task's run: the next file is no better
                raise
            first = first or e
            if i + 1 < len(found):
                print(f"warning: {e}; using {found[i + 1]} instead", file=sys.stderr)
            continue
        return path, ckpt
    assert first is not None
    if len(found) > 1:  # every one of them failed: the first error says what, this says there is no other
        raise CheckpointError(f"{first} ({', '.join(str(f) for f in found[1:])} can't be read either)")
    raise first


def load_checkpoint(run: str | Path, task: str | None = None,
                    names: tuple[str, ...] = CHECKPOINTS) -> tuple[Path, dict[str, Any]]:
    """``(path, checkpoint)`` of a run: the file itself, or the first of ``names`` in a run directory
    that loads. One that is truncated or corrupt (its checksum does not match) is reported with a
    warning line and the next one is used; when none loads, the first one's error is raised.

    An older classify or tag run whose saved ``select`` chose ``best-acc.pt`` / ``best-score.pt``
    (or ``last.pt``) gives that file, falling back to the one found first when it does not load."""
    p = Path(run)
    if p.is_file():
        return p, checkpoint.load(p, task)
    if not p.exists():
        raise RnnkitError(f"run {p}: no such directory or checkpoint file")
    found = [p / name for name in names if (p / name).is_file()]
    if not found:
        raise RnnkitError(f"run {p} holds no checkpoint ({' or '.join(names)}); train it first")
    path, ckpt = _first_loadable(found, task)
    legacy = _legacy_choice(p, ckpt) if names == CHECKPOINTS else None
    if legacy is not None and legacy != path.name:
        return _first_loadable([p / legacy, path], task)
    return path, ckpt


def find_checkpoint(run: str | Path) -> Path:
    """The checkpoint of a run: the file itself, or ``best.pt`` (else ``last.pt``) in a run directory,
    checked as :func:`load_checkpoint` does (a corrupt ``best.pt`` gives ``last.pt``, with a warning)."""
    return load_checkpoint(run)[0]
