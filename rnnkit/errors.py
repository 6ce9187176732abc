"""User-facing errors: one line that names the file, line or tensor, and what to do.

The ``rnnkit`` command prints these as ``rnnkit: error: <message>`` and exits with
status 2; library callers catch them like any ``ValueError``.
"""

from __future__ import annotations


class RnnkitError(ValueError):
    """Bad input from the user (a file, a flag, a run directory), explained in one line."""


class CheckpointError(RnnkitError):
    """A checkpoint that is missing, truncated, foreign, or does not fit the run."""


class ShapeError(ValueError, RuntimeError):
    """A tensor of the wrong shape, rank or device given to a layer or cell.

    Both a ``ValueError`` (what rnnkit has always raised) and a ``RuntimeError``
    (what torch.nn raises for the same mistakes, and what PyTorch's own tests and
    other people's code catch), so code written against either keeps working.
    """


class DTypeError(TypeError, ValueError):
    """A tensor of the wrong dtype: a ``TypeError``, and a ``ValueError`` as torch.nn raises."""


class Interrupted(KeyboardInterrupt):
    """A command stopped by SIGINT (Ctrl-C) or SIGTERM (``kill``, a scheduler's time limit).

    A ``KeyboardInterrupt``, so code that handles Ctrl-C handles both signals alike. ``checkpoint``
    is the file saved before stopping (None: nothing was saved), ``step`` the step it holds.
    """

    def __init__(self, signum: int, checkpoint: object = None, step: int | None = None) -> None:
        super().__init__(signum)
        self.signum = signum
        self.checkpoint = checkpoint
        self.step = step


def not_a_file(path: object) -> RnnkitError:
    """The error for a data path that is not a file: a directory says so, as "no such file" would mislead."""
    from pathlib import Path

    if Path(str(path)).is_dir():
        return RnnkitError(f"{path} is a directory; expected a file")
    return RnnkitError(f"{path}: no such file")
