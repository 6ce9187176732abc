"""Text coloured token by token: a unit's activation (blue negative, red positive) or a loss (white to red).

Colours are quantised to a fixed set of CSS classes, so each character costs a short ``<span class=..>``
and a passage of a few thousand characters stays a few tens of kilobytes.
"""

from __future__ import annotations

from collections.abc import Sequence

from rnnkit.diagnostics.report.html import esc

LEVELS = 10  # shades on each side of zero


def _mix(a: tuple[int, int, int], b: tuple[int, int, int], t: float) -> str:
    return "#" + "".join(f"{round(x + (y - x) * t):02x}" for x, y in zip(a, b))


def css() -> str:
    """The colour classes: ``n1..n10`` (negative, blue), ``p1..p10`` (positive, red), ``s1..s10`` (sequential)."""
    white, blue, red, seq = (255, 255, 255), (49, 99, 206), (214, 39, 40), (230, 85, 13)
    rules = []
    for k in range(1, LEVELS + 1):
        t = k / LEVELS * 0.85
        rules.append(f".n{k}{{background:{_mix(white, blue, t)}}}.p{k}{{background:{_mix(white, red, t)}}}"
                     f".s{k}{{background:{_mix(white, seq, t)}}}")
    return "<style>" + "".join(rules) + "</style>"


def _shown(token: str) -> str:
    if token == "\n":
        return "\u21b5\n"  # the line break stays visible (a unit may react to it) and breaks the line
    if token == "\t":
        return "\u2192   "
    return token


def coloured(tokens: Sequence[str], values: Sequence[float], diverging: bool = True, vmax: float | None = None,
             sep: str = "") -> str:
    """``tokens`` as one monospace block, each on the shade of its value.

    ``diverging``: values in ``[-vmax, vmax]`` (default ``vmax``: the largest magnitude; tanh units: 1);
    otherwise ``[0, vmax]`` on one hue. ``sep`` goes between tokens (a space for word models)."""
    if len(tokens) != len(values):
        raise ValueError(f"{len(tokens)} tokens but {len(values)} values")
    vals = [float(v) for v in values]
    top = vmax if vmax is not None else max((abs(v) for v in vals), default=1.0) or 1.0
    parts = []
    for tok, v in zip(tokens, vals):
        k = min(LEVELS, round(abs(v) / top * LEVELS))
        text = esc(_shown(tok))
        if k == 0 or (not diverging and v <= 0):
            parts.append(text)
        else:
            cls = ("p" if v > 0 else "n") if diverging else "s"
            parts.append(f'<span class="{cls}{k}">{text}</span>')
    return f'<div class="text">{sep.join(parts)}</div>'


def scale(diverging: bool, vmax: float, unit: str = "") -> str:
    """A one-line legend of a colouring: the shades from -vmax (or 0) to vmax."""
    cells = []
    ks = [-k for k in range(LEVELS, 0, -2)] + [0] + list(range(2, LEVELS + 1, 2)) if diverging else \
        list(range(0, LEVELS + 1, 2))
    for k in ks:
        cls = "" if k == 0 else (f"p{k}" if k > 0 else f"n{-k}") if diverging else f"s{k}"
        cells.append(f'<span class="{cls}">&nbsp;{k / LEVELS * vmax:+.2g}&nbsp;</span>' if diverging else
                     f'<span class="{cls}">&nbsp;{k / LEVELS * vmax:.2g}&nbsp;</span>')
    return f'<div class="scale">{"".join(cells)} {esc(unit)}</div>'
