"""Headless Chromium (Debian's ``chromium`` package) as a test instrument: open a page from disk, take a
screenshot, and collect what the page wrote to the console (script errors included)."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CONSOLE = re.compile(r":CONSOLE(?:\(\d+\)|:\d+)\]\s*(.*)")
TIMEOUT = 90


def find() -> str | None:
    """The browser's path, or None when none is installed."""
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


@dataclass
class Rendered:
    """What the browser made of a page: the DOM after its scripts ran, and its console messages."""

    dom: str
    console: list[str]


def _run(browser: str, url: str, profile: str, *extra: str) -> subprocess.CompletedProcess:
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
           "--disable-dev-shm-usage", "--hide-scrollbars", "--enable-logging=stderr", "--v=0",
           f"--user-data-dir={profile}", "--virtual-time-budget=5000", *extra, url]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT, check=False)


def render(browser: str, page: Path, screenshot: Path | None = None, size: tuple[int, int] = (1000, 1600)
           ) -> Rendered:
    """Open ``page`` as a ``file://`` URL: its DOM and console, and a screenshot to ``screenshot``."""
    url = page.resolve().as_uri()
    console: list[str] = []
    with tempfile.TemporaryDirectory() as profile:
        res = _run(browser, url, profile, "--dump-dom")
        if res.returncode != 0 and not res.stdout:
            raise RuntimeError(f"{browser} failed ({res.returncode}): {res.stderr[-2000:]}")
        console += [m.group(1) for m in map(CONSOLE.search, res.stderr.splitlines()) if m]
        if screenshot is not None:
            shot = _run(browser, url, profile, f"--screenshot={screenshot}", f"--window-size={size[0]},{size[1]}")
            console += [m.group(1) for m in map(CONSOLE.search, shot.stderr.splitlines()) if m]
            if not screenshot.is_file():
                raise RuntimeError(f"{browser} wrote no screenshot: {shot.stderr[-2000:]}")
    return Rendered(res.stdout, console)
