"""music21's warnings, counted: it writes them straight to ``sys.stderr`` (``beam: WARNING: Found a
messed up beam pair <music21.beam.Beams ...>``, several lines each, for files it still reads), which
buried rnnkit's own output under reprs. Inside :func:`music21_warnings` they are counted and
summarised in one note instead; everything else still prints as it comes."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator
from typing import Any


@contextlib.contextmanager
def music21_warnings(say: Callable[[str], None], what: str) -> Iterator[None]:
    """Count music21's warnings inside the block (its ``Environment.warn`` lines and the Python warnings
    its modules raise); afterwards one ``say`` line, how many while doing ``what`` and the first."""
    from music21 import environment

    seen: list[str] = []

    def record(self: Any, msg: Any, header: Any = None) -> None:
        seen.append(" ".join(str(m) for m in msg) if isinstance(msg, (list, tuple)) else str(msg))

    original = environment.Environment.warn
    environment.Environment.warn = record  # type: ignore[method-assign]
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield
    finally:
        environment.Environment.warn = original  # type: ignore[method-assign]
    for w in caught:
        if "music21" in (w.filename or ""):
            seen.append(str(w.message))
        else:  # not music21's: as it would have been shown
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if seen:
        say(f"note: music21 gave {len(seen)} warning{'s' if len(seen) > 1 else ''} while {what} (left out here), "
            f"e.g. {' '.join(seen[0].split())[:100]}")
