"""A piano roll of a music21 score as a PNG (matplotlib): one bar per note, bar lines, a colour per part.

music21 draws notation only through an external program (MuseScore or LilyPond); the piano roll
needs nothing but matplotlib.
"""

from __future__ import annotations

from pathlib import Path

COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd")


def draw(score, path: str | Path, title: str = "") -> Path:
    """Write the piano roll of ``score`` to ``path`` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    parts = list(getattr(score, "parts", None) or [score])
    notes = [(k, float(n.offset), float(n.quarterLength), int(p.midi))
             for k, part in enumerate(parts) for n in part.flatten().stripTies().notes for p in n.pitches]
    end = max((o + d for _, o, d, _ in notes), default=4.0)
    fig, ax = plt.subplots(figsize=(min(24, 3 + end / 4), 4), dpi=100)
    for k, o, d, m in notes:
        ax.broken_barh([(o, d * 0.95)], (m - 0.4, 0.8), facecolors=COLOURS[k % len(COLOURS)])
    bars = parts[0].getElementsByClass("Measure")
    for m in bars:
        ax.axvline(float(m.offset), color="#bbbbbb", lw=0.6, zorder=0)
    if notes:
        lo, hi = min(n[3] for n in notes), max(n[3] for n in notes)
        ax.set_ylim(lo - 2, hi + 2)
        ticks = [p for p in range(lo - 2, hi + 3) if p % 12 == 0]
        ax.set_yticks(ticks, [f"C{p // 12 - 1}" for p in ticks])
    ax.set_xlim(0, end)
    ax.set_xlabel("quarter notes")
    ax.set_title(title)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path)
    plt.close(fig)
    return path
