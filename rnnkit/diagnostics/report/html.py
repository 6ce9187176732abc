"""The pieces of a self-contained HTML page: escaping, sections, tables, embedded images.

Everything a report shows is inline (CSS, SVG, PNGs as ``data:`` URIs, one small script), so the
file opens from disk, offline, in any browser, and can be mailed or archived as one file.
"""

from __future__ import annotations

import base64
import html
import io
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:0 auto;max-width:1100px;
padding:1em 1.5em;color:#222;line-height:1.4}
h1{font-size:1.5em;margin:.2em 0 .6em}
h2{font-size:1.2em;border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
h3{font-size:1.02em;margin:1.1em 0 .3em}
table{border-collapse:collapse;margin:.4em 0 .8em;font-size:.9em}td,th{border:1px solid #ddd;padding:.2em .5em;
text-align:left;vertical-align:top}th{background:#f5f5f5}td.num{text-align:right;font-variant-numeric:tabular-nums}
.note{color:#8a5300;background:#fff7e6;border-left:3px solid #f0a020;padding:.3em .6em;margin:.4em 0}
.missing li{color:#8a5300}
.text{font-family:ui-monospace,Menlo,Consolas,monospace;white-space:pre-wrap;font-size:.86em;line-height:1.55;
border:1px solid #e4e4e4;padding:.4em;max-height:22em;overflow:auto}
pre{background:#f7f7f7;padding:.5em;overflow:auto;font-size:.85em}
img{max-width:100%;border:1px solid #eee}nav a{margin-right:.8em;font-size:.9em}
svg text{font-family:system-ui,Helvetica,Arial,sans-serif}
.legend span{margin-right:1em;cursor:pointer;font-size:.85em}.legend span.off{opacity:.35}
.scale{font-size:.8em;color:#555}.row{display:flex;flex-wrap:wrap;gap:1.2em;align-items:flex-start}
"""

# clicking a legend entry of a chart hides or shows its series; data-ready tells a test that the script ran
SCRIPT = """
document.querySelectorAll('.legend span[data-series]').forEach(function(el){
  el.addEventListener('click',function(){
    var on=el.classList.toggle('off');
    document.querySelectorAll('[data-series="'+el.dataset.series+'"]').forEach(function(p){
      if(p!==el){p.style.display=on?'none':'';}
    });
  });
});
document.body.setAttribute('data-ready','1');
"""


def esc(value: Any) -> str:
    """``value`` as HTML text (quotes escaped too: safe inside attributes)."""
    return html.escape(str(value), quote=True)


@dataclass
class Section:
    """One ``<section id=...>`` of a report: ``key`` is its id (tests and links find it by that)."""

    key: str
    title: str
    body: str

    def render(self) -> str:
        return f'<section id="{esc(self.key)}">\n<h2>{esc(self.title)}</h2>\n{self.body}\n</section>'


def note(text: str) -> str:
    """A highlighted line saying what is missing or approximate."""
    return f'<p class="note">{esc(text)}</p>'


def fmt(value: Any) -> str:
    """Numbers with 4 significant digits, everything else as it is."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:.4g}"


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], raw: bool = False) -> str:
    """An HTML table; numbers right-aligned. ``raw``: the cells are HTML already."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = []
    for row in rows:
        cells = []
        for v in row:
            cls = ' class="num"' if isinstance(v, (int, float)) and not isinstance(v, bool) else ""
            cells.append(f"<td{cls}>{v if raw and isinstance(v, str) else esc(fmt(v))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def png(data: bytes, alt: str) -> str:
    """An ``<img>`` holding the PNG ``data`` inline."""
    if not data.startswith(b"\x89PNG"):
        raise ValueError(f"{alt}: not a PNG image")
    return f'<img alt="{esc(alt)}" src="data:image/png;base64,{base64.b64encode(data).decode()}">'


def png_file(path: Path, alt: str) -> str | None:
    """The PNG at ``path`` inline, or None when there is no such (readable, non-empty) file."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    return png(data, alt) if data.startswith(b"\x89PNG") else None


def figure(draw: Callable[[Path], Any], alt: str) -> str:
    """Run ``draw(path)`` (one of rnnkit's plotting functions, which write to a file) and inline its PNG."""
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "figure.png"
        draw(path)
        got = png_file(path, alt)
    if got is None:
        raise ValueError(f"{alt}: the figure was not drawn (is matplotlib installed?)")
    return got


def matplotlib_png(fig: Any, alt: str, dpi: int = 90) -> str:
    """A matplotlib figure inline as PNG (the figure is closed)."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    try:
        fig.tight_layout()
        fig.savefig(buf, format="png", dpi=dpi)
    finally:
        plt.close(fig)
    return png(buf.getvalue(), alt)


def page(title: str, sections: Sequence[Section], subtitle: str = "") -> str:
    """The whole document: a title, links to the sections, the sections, the script."""
    nav = "".join(f'<a href="#{esc(s.key)}">{esc(s.title)}</a>' for s in sections)
    sub = f"<p>{esc(subtitle)}</p>" if subtitle else ""
    body = "\n".join(s.render() for s in sections)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{esc(title)}</title><style>{CSS}</style></head>\n<body>\n<h1>{esc(title)}</h1>{sub}"
            f"<nav>{nav}</nav>\n{body}\n<script>{SCRIPT}</script>\n</body></html>\n")
