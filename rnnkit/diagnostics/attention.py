"""Attention heatmap: which source steps each output step looked at, as a PNG."""

from __future__ import annotations

from pathlib import Path

from torch import Tensor


def plot_attention(weights: Tensor, source: list[str], output: list[str], path: str | Path, title: str = "") -> Path:
    """Write the heatmap of ``weights`` ``(len(output), len(source))`` (rows: output steps) to ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    w = weights.detach().float().cpu().numpy()
    if w.shape != (len(output), len(source)):
        raise ValueError(f"attention weights of shape {w.shape} for {len(output)} outputs x {len(source)} sources")
    fig, ax = plt.subplots(figsize=(max(4.0, 0.45 * len(source) + 1.5), max(3.0, 0.4 * len(output) + 1.2)))
    ax.imshow(w, cmap="Greys", vmin=0.0, vmax=1.0, aspect="auto")
    ax.set_xticks(range(len(source)), source, rotation=60, ha="right", fontsize=9)
    ax.set_yticks(range(len(output)), output, fontsize=9)
    ax.set_xlabel("source")
    ax.set_ylabel("output")
    if title:
        ax.set_title(title, fontsize=10)
    from rnnkit.training.log import save_figure

    path = Path(path)
    save_figure(fig, path, dpi=110)  # atomic: a failed write never leaves half an image
    return path
