"""Accuracy, macro-F1 and the confusion matrix agree with scikit-learn; the PNG is written."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from rnnkit.metrics import classification as m


def test_against_scikit_learn():
    sk = pytest.importorskip("sklearn.metrics")
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 4, (200,), generator=g)
    p = torch.where(torch.rand(200, generator=g) < 0.6, y, torch.randint(0, 4, (200,), generator=g))
    p[p == 3] = 2  # class 3 is never predicted: its F1 is 0
    cm = m.confusion_matrix(y, p, 5)  # class 4: neither true nor predicted
    assert cm.tolist() == sk.confusion_matrix(y, p, labels=range(5)).tolist()
    assert m.accuracy(cm) == pytest.approx(sk.accuracy_score(y, p))
    assert m.macro_f1(cm) == pytest.approx(sk.f1_score(y, p, labels=range(5), average="macro", zero_division=0))
    assert m.f1_per_class(cm).tolist() == pytest.approx(sk.f1_score(y, p, labels=range(5), average=None,
                                                                    zero_division=0).tolist())


def test_small_cases_and_errors():
    cm = m.confusion_matrix(torch.tensor([0, 0, 1]), torch.tensor([0, 1, 1]), 2)
    assert cm.tolist() == [[1, 1], [0, 1]] and m.summary(cm) == pytest.approx({"acc": 2 / 3, "macro_f1": 2 / 3})
    assert m.accuracy(torch.zeros(2, 2, dtype=torch.long)) == 0.0
    with pytest.raises(ValueError, match="outside"):
        m.confusion_matrix(torch.tensor([0, 2]), torch.tensor([0, 1]), 2)


def test_png(tmp_path: Path):
    cm = torch.tensor([[5, 1], [2, 7]])
    out = m.plot_confusion(cm, ["neg", "pos"], tmp_path / "cm.png", "test")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("classes", [2, 3, 12])
def test_the_title_fits_the_figure(classes: int):
    # a two-class matrix is a small figure: its title (the split, the sequence count, the checkpoint,
    # then the scores) must wrap inside it, not run past the edges
    cm = torch.eye(classes, dtype=torch.long) * 7 + 1
    fig = m.confusion_figure(cm, [f"class{i}" for i in range(classes)],
                             "test, 1821 sequences, best.pt of runs/sst2-gru-attention-20261202")
    fig.canvas.draw()
    box, width, height = fig._suptitle.get_window_extent(), fig.bbox.width, fig.bbox.height
    assert 0 <= box.x0 < box.x1 <= width and 0 <= box.y0 < box.y1 <= height
    assert fig._suptitle.get_text().endswith(f"accuracy {m.accuracy(cm):.4f}, macro-F1 {m.macro_f1(cm):.4f}")
    import matplotlib.pyplot as plt

    plt.close(fig)
