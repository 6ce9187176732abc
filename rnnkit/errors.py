"""User-facing errors: one line that names the file, line or tensor, and what to do.

The ``rnnkit`` command prints these as ``rnnkit: error: <message>`` and exits with
status 2; library callers catch them like any ``ValueError``.
"""

from __future__ import annotations


class RnnkitError(ValueError):
    """Bad input from the user (a file, a flag, a run directory), explained in one line."""


class CheckpointError(RnnkitError):
    """A checkpoint that is missing, truncated, foreign, or does not fit the run."""
