"""rnnkit's cache directory: ``$RNNKIT_CACHE``, else ``~/.cache/rnnkit``.

What is kept there can always be made again (the compiled time loop, corpora read into JSON); deleting
the directory only costs the time to rebuild it.
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir(*parts: str) -> Path:
    """The cache directory, or a subdirectory of it (not created here)."""
    return Path(os.environ.get("RNNKIT_CACHE") or Path.home() / ".cache" / "rnnkit").joinpath(*parts)
