"""Charts as inline SVG: drawn as text in the page, so they cost no image library and stay sharp."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from rnnkit.diagnostics.report.html import esc

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf")
MAX_POINTS = 1500  # per series: a long run's thousands of records are thinned to keep the page small


@dataclass
class Series:
    """One line of a chart: ``label`` in the legend, points ``(x, y)``, ``dashed`` for a second style."""

    label: str
    xs: Sequence[float]
    ys: Sequence[float]
    dashed: bool = False
    markers: bool = False


def _thin(xs: Sequence[float], ys: Sequence[float]) -> list[tuple[float, float]]:
    pts = [(float(x), float(y)) for x, y in zip(xs, ys) if math.isfinite(float(x)) and math.isfinite(float(y))]
    if len(pts) <= MAX_POINTS:
        return pts
    step = len(pts) / MAX_POINTS
    return [pts[int(i * step)] for i in range(MAX_POINTS)] + [pts[-1]]


def _ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = min((m * mag for m in (1, 2, 5, 10) if m * mag >= raw), default=raw)
    start = math.ceil(lo / step) * step
    return [start + i * step for i in range(int((hi - start) / step) + 1)]


def line_chart(series: Sequence[Series], xlabel: str, ylabel: str, title: str = "", width: int = 680,
               height: int = 300, logy: bool = False, chart_id: str = "chart") -> str:
    """An SVG line chart of ``series`` with axes, ticks and a clickable legend (hides a series).

    ``logy`` plots log10 of the values (non-positive values are dropped). The y range leaves out the
    first 2% of each training curve's points: the loss at step 0 would otherwise flatten everything else.
    """
    lines = []
    for s in series:
        pts = _thin(s.xs, s.ys)
        if logy:
            pts = [(x, math.log10(y)) for x, y in pts if y > 0]
        lines.append(pts)
    allpts = [p for pts in lines for p in pts]
    if not allpts:
        return '<p class="note">no finite values to plot</p>'
    xs = [p[0] for p in allpts]
    body_ys = [p[1] for pts in lines for p in pts[len(pts) // 50:]] or [p[1] for p in allpts]
    x0, x1 = min(xs), max(xs)
    y0, y1 = min(body_ys), max(body_ys)
    if x1 == x0:
        x0, x1 = x0 - 1, x1 + 1
    if y1 == y0:
        y0, y1 = y0 - (abs(y0) * 0.1 or 1), y1 + (abs(y1) * 0.1 or 1)
    pad = (y1 - y0) * 0.05
    y0, y1 = y0 - pad, y1 + pad
    left, right, top, bottom = 62, 12, 24 if title else 10, 40
    w, h = width - left - right, height - top - bottom

    def px(x: float) -> float:
        return left + (x - x0) / (x1 - x0) * w

    def py(y: float) -> float:
        return top + (1 - (min(max(y, y0), y1) - y0) / (y1 - y0)) * h

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} '
           f'{height}" role="img" aria-label="{esc(title or ylabel)}">',
           f'<rect x="{left}" y="{top}" width="{w}" height="{h}" fill="#fff" stroke="#bbb"/>']
    if title:
        out.append(f'<text x="{left + w / 2:.0f}" y="16" text-anchor="middle" font-size="13">{esc(title)}</text>')
    for t in _ticks(y0, y1):
        label = f"{10 ** t:.3g}" if logy else f"{t:.4g}"
        out.append(f'<line x1="{left}" x2="{left + w}" y1="{py(t):.1f}" y2="{py(t):.1f}" stroke="#eee"/>'
                   f'<text x="{left - 4}" y="{py(t) + 4:.1f}" text-anchor="end" font-size="10">{label}</text>')
    for t in _ticks(x0, x1):
        out.append(f'<text x="{px(t):.1f}" y="{top + h + 14}" text-anchor="middle" font-size="10">{t:.4g}</text>')
    out.append(f'<text x="{left + w / 2:.0f}" y="{height - 6}" text-anchor="middle" font-size="11">'
               f'{esc(xlabel)}</text>')
    out.append(f'<text transform="translate(13,{top + h / 2:.0f}) rotate(-90)" text-anchor="middle" '
               f'font-size="11">{esc(ylabel)}{" (log)" if logy else ""}</text>')
    legend = []
    for i, (s, pts) in enumerate(zip(series, lines)):
        color = PALETTE[i % len(PALETTE)]
        key = f"{chart_id}-{i}"
        if pts:
            d = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in pts)
            dash = ' stroke-dasharray="5,3"' if s.dashed else ""
            out.append(f'<polyline data-series="{key}" fill="none" stroke="{color}" stroke-width="1.4"{dash} '
                       f'points="{d}"/>')
            if s.markers and len(pts) <= 200:
                out.append(f'<g data-series="{key}" fill="{color}">' + "".join(
                    f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="2.2"/>' for x, y in pts) + "</g>")
        legend.append(f'<span data-series="{key}" style="color:{color}">{"- -" if s.dashed else "&#9644;"} '
                      f'{esc(s.label)}</span>')
    out.append("</svg>")
    return "<div>" + "".join(out) + f'<div class="legend">{"".join(legend)}</div></div>'


def scatter(points: Sequence[tuple[float, float]], xlabel: str, ylabel: str, title: str = "", size: int = 220,
            color: str = "#1f77b4") -> str:
    """A small square SVG scatter plot on [0, 1] x [0, 1] (fractions), with the diagonal x + y = 1."""
    m = 34
    w = size - m - 8
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" role="img" '
           f'aria-label="{esc(title)}"><rect x="{m}" y="18" width="{w}" height="{w}" fill="#fff" stroke="#bbb"/>',
           f'<line x1="{m}" y1="18" x2="{m + w}" y2="{18 + w}" stroke="#ddd"/>',
           f'<text x="{m + w / 2:.0f}" y="12" text-anchor="middle" font-size="11">{esc(title)}</text>',
           f'<text x="{m + w / 2:.0f}" y="{size - 2}" text-anchor="middle" font-size="10">{esc(xlabel)}</text>',
           f'<text transform="translate(10,{18 + w / 2:.0f}) rotate(-90)" text-anchor="middle" font-size="10">'
           f'{esc(ylabel)}</text>',
           f'<text x="{m - 3}" y="{18 + w}" text-anchor="end" font-size="9">0</text>'
           f'<text x="{m - 3}" y="26" text-anchor="end" font-size="9">1</text>'
           f'<text x="{m + w}" y="{18 + w + 10}" text-anchor="end" font-size="9">1</text>',
           f'<g fill="{color}" fill-opacity="0.45">']
    for x, y in points:
        out.append(f'<circle cx="{m + x * w:.1f}" cy="{18 + (1 - y) * w:.1f}" r="2"/>')
    out.append("</g></svg>")
    return "".join(out)
