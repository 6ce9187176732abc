"""Sequential digits: scikit-learn's 8x8 handwritten digits read pixel by pixel (64 steps).

``load_digits`` ships 1,797 real 8x8 images (from the UCI optical-digits set, 16 grey levels).
Read in raster order, one pixel per step, the class depends on pixels up to 64 steps apart:
a small real-data cousin of pixel-by-pixel MNIST (Le et al. 2015). The split is stratified and
seeded: the same ``seed`` always gives the same train / validation / test images.
"""

from __future__ import annotations

import torch
from torch import Tensor

from rnnkit.errors import RnnkitError


def load_digit_sequences() -> tuple[Tensor, Tensor]:
    """``(x (N, 64, 1) in [0, 1], y (N,))`` for all 1,797 images."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise RnnkitError("sequential digits need scikit-learn (its load_digits images): "
                          "pip install 'rnnkit[digits]'") from None
    d = load_digits()
    x = torch.tensor(d.data, dtype=torch.float32).div_(16.0).unsqueeze(-1)  # 16 grey levels -> [0, 1]
    return x, torch.tensor(d.target, dtype=torch.long)


def split(y: Tensor, fractions: tuple[float, float], seed: int) -> tuple[Tensor, Tensor, Tensor]:
    """Stratified ``(train, valid, test)`` indices: per class, ``fractions`` = (valid, test) of its items."""
    valid_f, test_f = fractions
    if not (0 <= valid_f < 1 and 0 < test_f < 1 and valid_f + test_f < 1):
        raise RnnkitError(f"valid and test fractions must be >= 0, > 0 and sum below 1, got {valid_f}, {test_f}")
    gen = torch.Generator().manual_seed(seed)
    parts: tuple[list[Tensor], list[Tensor], list[Tensor]] = ([], [], [])
    for c in y.unique():
        idx = (y == c).nonzero().squeeze(1)
        idx = idx[torch.randperm(idx.numel(), generator=gen)]
        n_test, n_valid = round(idx.numel() * test_f), round(idx.numel() * valid_f)
        parts[2].append(idx[:n_test])
        parts[1].append(idx[n_test : n_test + n_valid])
        parts[0].append(idx[n_test + n_valid :])
    return tuple(torch.cat(p).sort().values for p in parts)  # type: ignore[return-value]
