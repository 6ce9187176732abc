"""Files a command writes: checked against what it reads, and written atomically.

Every command that writes a file the user named (``predict --output``, ``forecast --out``,
``gradflow --out``, ``translate --heatmap``, ...) first calls :func:`check_output_path`, which
refuses an output that is one of the command's inputs, a run's checkpoint, ``config.json`` or
``metrics.jsonl``, or a directory, and then writes with :func:`write_atomic` (or
:func:`atomic_file`) only once its inputs have been read: the data goes to a temporary file
beside the target, which is renamed over it when complete. A failure or a kill leaves the
previous file (or none), never a truncated one, and the temporary file is removed.

Temporary files are named ``.<name>.<random>.tmp`` so that a run directory can recognise (and
remove) what a killed process left behind (:data:`TMP_PREFIX`, :func:`is_temporary`).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from rnnkit.errors import RnnkitError

TMP_SUFFIX = ".tmp"
# files of a run directory that no command output may replace (besides every *.pt)
RUN_FILES = ("config.json", "metrics.jsonl")
CHECKPOINT_SUFFIX = ".pt"


class OutputError(RnnkitError):
    """An output path that must not be written, or a write that failed (full disk, no permission)."""


def is_temporary(name: str) -> bool:
    """Whether ``name`` is a temporary file of :func:`atomic_file` (or an older rnnkit's ``*.tmp.png``,
    ``metrics.jsonl.tmp``): what a process killed mid-write leaves behind."""
    return (name.startswith(".") and TMP_SUFFIX in name) or name.endswith((".tmp.png", ".jsonl.tmp"))


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet): compare the paths themselves
        return a.resolve() == b.resolve()


def _is_run_dir(d: Path) -> bool:
    return (d / "config.json").is_file() or any((d / n).is_file() for n in ("last.pt", "best.pt"))


def check_output_path(path: str | Path, inputs: Iterable[str | Path | None] = (),
                      run_dirs: Iterable[str | Path | None] = (), flag: str = "output",
                      figure: bool = False) -> Path:
    """``path`` as a ``Path`` if a command may write it, else a one-line :class:`OutputError`.

    Refused: an existing directory; one of ``inputs`` (the same file, also through another path or a
    link); any existing checkpoint (``*.pt``); and ``config.json``, ``metrics.jsonl`` or a ``*.pt`` of
    a run directory (those of ``run_dirs``, a checkpoint's directory among ``inputs``, and any directory
    that holds a run). ``flag`` names the option in the message (``--out``, ``--heatmap``); with
    ``figure`` the suffix must be an image format (:func:`figure_format`).
    """
    p = Path(path)
    if str(path) in ("", "-"):
        raise OutputError(f"{flag}: give a file name")
    if p.is_dir():
        raise OutputError(f"{flag} {p} is a directory; give a file name in it, such as {p / _example(flag, figure)}")
    given = [Path(i) for i in inputs if i is not None and str(i) != ""]
    for i in given:
        if _same_file(p, i):
            raise OutputError(f"{flag} {p} is also an input of this command; writing it would destroy what is "
                              f"read; choose another file name")
    dirs = {Path(d) for d in run_dirs if d is not None and str(d) != ""}
    dirs |= {i.parent for i in given if i.suffix == CHECKPOINT_SUFFIX}
    dirs = {d if d.is_dir() else d.parent for d in dirs}
    parent = p.parent
    in_run = any(_same_file(parent, d) for d in dirs if d.exists()) or (parent.is_dir() and _is_run_dir(parent))
    if p.suffix == CHECKPOINT_SUFFIX and (p.exists() or in_run):
        raise OutputError(f"{flag} {p} would overwrite a checkpoint; choose another file name")
    if in_run and p.name in RUN_FILES:
        raise OutputError(f"{flag} {p} would overwrite the run's own {p.name}; choose another file name")
    if figure:
        figure_format(p, flag)
    return p


# what matplotlib's Agg backend writes, by file name suffix
FIGURE_FORMATS = ("png", "pdf", "svg", "svgz", "eps", "ps", "jpg", "jpeg", "tif", "tiff", "webp")


def figure_format(path: str | Path, flag: str = "output") -> str:
    """The figure format of ``path`` from its suffix (``png`` without one), or a one-line error."""
    suffix = Path(path).suffix.lower().lstrip(".")
    if not suffix:
        return "png"
    if suffix not in FIGURE_FORMATS:
        raise OutputError(f"{flag} {path}: a figure is written as {', '.join('.' + f for f in FIGURE_FORMATS[:4])} "
                          f"or another image format, not .{suffix}; give a name such as "
                          f"{Path(path).with_suffix('.png').name}")
    return suffix


def _example(flag: str, figure: bool) -> str:
    return {"--heatmap": "attention.png", "--plot": "forecast.png", "--json": "output.json"}.get(
        flag, "figure.png" if figure else "output.txt")


def _umask() -> int:
    # mkstemp creates files 0600; the renamed output should get the permissions open() would give it
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_file(path: str | Path, mode: str = "w", encoding: str | None = "utf-8",
                fsync: bool = False) -> Iterator[IO[Any]]:
    """An open temporary file beside ``path`` (``mode`` "w" or "wb"), renamed over ``path`` when the
    block ends without an error; removed, with ``path`` untouched, when it raises (a kill included).

    ``fsync`` flushes the data to disk before the rename (checkpoints: a power cut leaves the old
    file or the new one). An ``OSError`` (full disk, permissions) becomes an :class:`OutputError`
    naming ``path``.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_file: mode must be 'w' or 'wb', not {mode!r}")
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TMP_SUFFIX, dir=path.parent)
    except OSError as e:
        raise OutputError(f"could not write {path}: {e.strerror or e}") from None
    try:
        try:
            f = os.fdopen(fd, mode, **({"encoding": encoding} if "b" not in mode else {}))
        except BaseException:
            os.close(fd)
            raise
        with f:
            yield f
            f.flush()
            if fsync:
                os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        raise OutputError(f"could not write {path}: {e.strerror or e}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path beside ``path`` (same suffix, for writers that take a file name and infer the
    format from it), renamed over ``path`` when the block succeeds, removed when it raises."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TMP_SUFFIX + path.suffix, dir=path.parent)
        os.close(fd)
    except OSError as e:
        raise OutputError(f"could not write {path}: {e.strerror or e}") from None
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except OSError as e:
        raise OutputError(f"could not write {path}: {e.strerror or e}") from None
    finally:
        Path(tmp).unlink(missing_ok=True)


def write_atomic(path: str | Path, content: bytes | str | Callable[[IO[bytes]], None], fsync: bool = False) -> Path:
    """Write ``content`` to ``path`` atomically (see :func:`atomic_file`): bytes, text (UTF-8), or a
    function that writes to the binary file object it is given (``fig.savefig``, ``torch.save``)."""
    path = Path(path)
    with atomic_file(path, "wb", fsync=fsync) as f:
        if isinstance(content, bytes):
            f.write(content)
        elif isinstance(content, str):
            f.write(content.encode("utf-8"))
        else:
            content(f)
    return path
