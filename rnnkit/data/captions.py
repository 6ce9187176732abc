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

from pathlib import Path

import torch
from torch import Tensor

from rnnkit.data import digits
from rnnkit.errors import RnnkitError

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


def write_image(path: str | Path, image: Tensor) -> Path:
    """One composed image ``(1, HEIGHT, WIDTH)`` or ``(HEIGHT, WIDTH)`` in [0, 1] as an 8-bit grey PNG, atomically."""
    from PIL import Image

    from rnnkit.outputs import write_atomic

    pixels = (image.reshape(HEIGHT, WIDTH).clamp(0, 1) * 255).round().to(torch.uint8).numpy()
    return write_atomic(path, lambda f: Image.fromarray(pixels).save(f, format="PNG"))


def read_image(path: str | Path) -> Tensor:
    """An image file as the captioner reads it: ``(1, HEIGHT, WIDTH)`` grey levels in [0, 1], ink bright on a
    dark background (as :func:`compose` draws). Colour images are converted to grey; any other size, or a
    file that is not an image, is a one-line :class:`RnnkitError` naming the file."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            grey = im.convert("L")
    except (OSError, UnidentifiedImageError, ValueError) as e:
        raise RnnkitError(f"{path}: not a readable image ({str(e).splitlines()[0] if str(e) else type(e).__name__})"
                          ) from None
    if grey.size != (WIDTH, HEIGHT):
        # the captioner's convolutions and attention grid were trained on this size; resizing would
        # change the stroke widths the model learned, so the size is the caller's to fix
        raise RnnkitError(f"{path}: image is {grey.size[0]}x{grey.size[1]} pixels (width x height); the captioner "
                          f"reads {WIDTH}x{HEIGHT} images of 1-4 digits")
    import numpy as np

    return torch.from_numpy(np.array(grey, dtype=np.float32)).view(1, HEIGHT, WIDTH) / 255.0
