"""Every task's report.html, opened from disk in headless Chromium: it renders without a console message,
holds the expected sections, and its images and charts are not empty.

Skipped only when no Chromium is installed (``apt-get install chromium``; ``.ci/run`` installs it). With
``RNNKIT_SCREENSHOTS=DIR`` the screenshots are also kept in DIR, one small PNG per task (docs/report/).
"""

from __future__ import annotations

import base64
import os
import re
import shutil
from pathlib import Path

import pytest

from tests.diagnostics.report import browser

BROWSER = browser.find()
pytestmark = pytest.mark.skipif(BROWSER is None, reason="headless Chromium is not installed (apt-get install "
                                                        "chromium; .ci/run installs it)")

COMMON = {"curves", "throughput", "config", "missing"}
EXPECTED = {
    "lm": {"samples", "surprise", "units", "saturation", "gradflow"},
    "classify": {"confusion", "errors", "attention", "gradflow"},
    "tag": {"entities", "spans", "gradflow"},
    "translate": {"outputs", "attention", "gradflow"},
    "caption": {"outputs", "attention", "gradflow"},
    "forecast": {"series", "baselines"},
    "asr": {"speech", "errors", "outputs"},
    "adding": {"gradflow"},
    "copy": {"gradflow"},
    "seqdigits": {"gradflow"},
    "music": {"music-eval", "music-piece"},
}


def sections(dom: str) -> set[str]:
    return set(re.findall(r'<section id="([^"]+)"', dom))


def check_images(dom: str) -> int:
    """Every inline image decodes to a PNG with pixels and image data; returns how many there are."""
    srcs = re.findall(r'<img[^>]*src="data:image/png;base64,([^"]+)"', dom)
    for s in srcs:
        data = base64.b64decode(s)
        assert data.startswith(b"\x89PNG") and b"IDAT" in data, "a broken image"
        width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        assert width >= 8 and height >= 8 and len(data) > 100, f"an empty image ({width}x{height})"
    return len(srcs)


def not_blank(png: Path) -> None:
    """The screenshot shows something: more than one colour in it."""
    assert png.stat().st_size > 5000
    try:
        from PIL import Image
    except ImportError:
        return
    with Image.open(png) as im:
        colours = im.convert("L").getcolors(maxcolors=1 << 16)
    assert colours is None or len(colours) > 8, "the screenshot is blank"


def keep(png: Path, task: str) -> None:
    """Copy the screenshot into $RNNKIT_SCREENSHOTS, reduced to a small palette PNG."""
    target = os.environ.get("RNNKIT_SCREENSHOTS")
    if not target:
        return
    out = Path(target) / f"{task}.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        from PIL import Image

        with Image.open(png) as im:
            im.convert("RGB").quantize(64).save(out, optimize=True)
    except ImportError:
        shutil.copyfile(png, out)


def test_the_checker_sees_script_errors(tmp_path: Path):
    """The instrument itself: a page whose script fails is caught (else a passing test would mean nothing)."""
    page = tmp_path / "bad.html"
    page.write_text('<!DOCTYPE html><html><body><section id="x"></section><script>missing();</script></body></html>')
    got = browser.render(BROWSER, page)
    assert any("missing is not defined" in line for line in got.console), got.console
    assert sections(got.dom) == {"x"}


@pytest.mark.parametrize("task", list(EXPECTED))
def test_report_renders(tiny_runs: dict[str, Path], task: str, tmp_path: Path):
    if task not in tiny_runs:
        pytest.skip(f"no tiny {task} run (its data is not available here)")
    page = tiny_runs[task] / "report.html"
    assert page.is_file(), "rnnkit train wrote no report.html"
    shot = tmp_path / f"{task}.png"
    got = browser.render(BROWSER, page, shot)
    assert got.console == [], f"console messages: {got.console}"
    assert 'data-ready="1"' in got.dom, "the page's script did not run to its end"
    found = sections(got.dom)
    assert COMMON | EXPECTED[task] <= found, f"missing sections: {sorted(COMMON | EXPECTED[task] - found)}"
    assert "nothing: every view could be built" in got.dom, re.sub("<[^>]+>", " ", got.dom.split('id="missing"')[1])
    assert "Traceback" not in got.dom
    assert check_images(got.dom) + got.dom.count("<polyline") > 0
    assert "<polyline" in got.dom.split('id="curves"')[1].split("</section>")[0], "the loss chart is empty"
    not_blank(shot)
    keep(shot, task)
