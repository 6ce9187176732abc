"""Digit captions: 1-4 real handwritten digits side by side in one image, captioned in words.

The digits are scikit-learn's ``load_digits`` (1,797 real 8x8 images, 16 grey levels). A
composed image is ``HEIGHT x WIDTH`` (12 x 40) pixels: ``n`` digits (``n`` uniform in 1..max)
drawn at random, each shifted down by 0-4 pixels and separated by gaps of 0-2 pixels; its
caption names them left to right ("three one four"). Everything is seeded.

The held-out split is by source image: the 1,797 images are first split (stratified, seeded)
into training, validation and test pools, and a composed image only uses digits of its own
pool, so a test image contains no handwriting seen in training.
"""

from __future__ import annotations

import torch
from torch import Tensor

from rnnkit.data import digits

WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
HEIGHT, WIDTH = 12, 40
MAX_SHIFT, MAX_GAP = 4, 2


def load_pools(valid_fraction: float, test_fraction: float, seed: int) -> dict[str, tuple[Tensor, Tensor]]:
    """``{"train", "valid", "test": (images (N, 8, 8) in [0, 1], labels (N,))}``: disjoint source images."""
    x, y = digits.load_digit_sequences()
    x = x.view(-1, 8, 8)
    train, valid, test = digits.split(y, (valid_fraction, test_fraction), seed)
    return {"train": (x[train], y[train]), "valid": (x[valid], y[valid]), "test": (x[test], y[test])}


def compose(pool: tuple[Tensor, Tensor], n: int, gen: torch.Generator, max_digits: int = 4
            ) -> tuple[Tensor, list[list[int]]]:
    """``n`` composed images ``(n, 1, HEIGHT, WIDTH)`` and their digit sequences (1..``max_digits`` each)."""
    if not 1 <= max_digits <= 4:
        raise ValueError(f"max_digits must be in 1..4 (the canvas holds 4), got {max_digits}")
    images, labels = pool
    counts = torch.randint(1, max_digits + 1, (n,), generator=gen).tolist()
    total = sum(counts)
    picks = torch.randint(0, images.shape[0], (total,), generator=gen).tolist()
    shifts = torch.randint(0, MAX_SHIFT + 1, (total,), generator=gen).tolist()
    gaps = torch.randint(0, MAX_GAP + 1, (total,), generator=gen).tolist()
    out = torch.zeros(n, 1, HEIGHT, WIDTH)
    captions: list[list[int]] = []
    k = 0
    for i, c in enumerate(counts):
        x, caption = 0, []
        for _ in range(c):
            x += gaps[k]
            dy = shifts[k]
            out[i, 0, dy : dy + 8, x : x + 8] = torch.maximum(out[i, 0, dy : dy + 8, x : x + 8], images[picks[k]])
            caption.append(int(labels[picks[k]]))
            x += 8
            k += 1
        captions.append(caption)
    return out, captions


def caption_text(digit_seq: list[int]) -> str:
    """``[3, 1, 4]`` -> ``"three one four"``."""
    return " ".join(WORDS[d] for d in digit_seq)
