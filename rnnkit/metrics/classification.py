"""Classification metrics from a confusion matrix: accuracy, per-class and macro F1, and a PNG of the matrix.

Everything derives from the ``(C, C)`` confusion matrix ``M[true, predicted]`` (counts), so the
numbers agree with each other and with scikit-learn's ``accuracy_score``, ``f1_score(average=
"macro")`` and ``confusion_matrix`` (checked in the tests). A class with no true and no predicted
example has F1 0 here, as scikit-learn's ``zero_division=0``; it still counts in the macro mean
only if it is among the ``C`` classes, i.e. seen in training.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor


def confusion_matrix(y_true: Tensor, y_pred: Tensor, num_classes: int) -> Tensor:
    """``(C, C)`` int64 counts ``M[i, j]`` of examples of class ``i`` predicted as ``j``; inputs ``(N,)`` ids."""
    if y_true.shape != y_pred.shape or y_true.dim() != 1:
        raise ValueError(f"confusion_matrix: expected two (N,) tensors, got {tuple(y_true.shape)} and "
                         f"{tuple(y_pred.shape)}")
    for name, y in (("y_true", y_true), ("y_pred", y_pred)):
        if y.numel() and (int(y.min()) < 0 or int(y.max()) >= num_classes):
            raise ValueError(f"confusion_matrix: {name} holds ids outside [0, {num_classes})")
    flat = y_true.long().cpu() * num_classes + y_pred.long().cpu()
    return torch.bincount(flat, minlength=num_classes * num_classes).view(num_classes, num_classes)


def accuracy(cm: Tensor) -> float:
    """Fraction of examples on the diagonal (0 for an empty matrix)."""
    total = int(cm.sum())
    return int(cm.diagonal().sum()) / total if total else 0.0


def f1_per_class(cm: Tensor) -> Tensor:
    """``(C,)`` F1 of every class, ``2 tp / (2 tp + fp + fn)`` (0 where the class never occurs nor is predicted)."""
    cm = cm.double()
    tp = cm.diagonal()
    denom = cm.sum(0) + cm.sum(1)  # (tp + fp) + (tp + fn)
    return torch.where(denom > 0, 2 * tp / denom.clamp(min=1), torch.zeros_like(tp))


def macro_f1(cm: Tensor) -> float:
    """Unweighted mean of the per-class F1 scores: every class counts the same, however rare."""
    return float(f1_per_class(cm).mean())


def summary(cm: Tensor) -> dict[str, float]:
    """``{"acc", "macro_f1"}`` of a confusion matrix."""
    return {"acc": accuracy(cm), "macro_f1": macro_f1(cm)}


def confusion_figure(cm: Tensor, labels: Sequence[str], title: str = "") -> Any:
    """The figure of :func:`plot_confusion`. The title and the scores are wrapped to the figure's width
    and drawn above the whole figure: a two-class matrix is a small figure, and a title centred on its
    axes alone ran past both edges."""
    import textwrap

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    C = cm.shape[0]
    rows = cm.double().sum(1, keepdim=True).clamp(min=1)
    frac = (cm.double() / rows).numpy()
    size = min(14.0, 2.5 + 0.45 * C)
    width = max(size + 1.2, 4.8)
    fig, ax = plt.subplots(figsize=(width, size + 0.6))
    im = ax.imshow(frac, cmap="Blues", vmin=0, vmax=1)
    if C <= 30:  # the counts stay legible up to about this many classes
        for i in range(C):
            for j in range(C):
                ax.text(j, i, str(int(cm[i, j])), ha="center", va="center", fontsize=8,
                        color="white" if frac[i, j] > 0.5 else "black")
    ax.set_xticks(range(C), [str(x) for x in labels], rotation=90 if C > 10 else 0)
    ax.set_yticks(range(C), [str(x) for x in labels])
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    scores = f"accuracy {accuracy(cm):.4f}, macro-F1 {macro_f1(cm):.4f}"
    chars = int(width * 72 / (10 * 0.62)) - 2  # characters of a 10-point line that fit the width
    lines = [*textwrap.wrap(title, chars), scores] if title else [scores]
    fig.suptitle("\n".join(lines), fontsize=10)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="fraction of the true class")
    fig.tight_layout()
    return fig


def plot_confusion(cm: Tensor, labels: Sequence[str], path: str | Path, title: str = "") -> Path:
    """Write the confusion matrix as a PNG: rows true classes, columns predictions, cells the counts,
    shaded by the fraction of the row (so rare classes read as clearly as frequent ones)."""
    import matplotlib.pyplot as plt

    from rnnkit.outputs import write_atomic

    fig = confusion_figure(cm, labels, title)
    path = Path(path)
    try:
        write_atomic(path, lambda f: fig.savefig(f, format="png", dpi=100))
    finally:
        plt.close(fig)
    return path
