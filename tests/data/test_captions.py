"""Composed digit images: seeded, captioned left to right, held out by source image."""

from __future__ import annotations

import pytest
import torch

from rnnkit.data import captions

pytest.importorskip("sklearn")


def test_compose_is_seeded_and_captions_name_the_digits():
    pools = captions.load_pools(0.1, 0.2, 0)
    x, seqs = captions.compose(pools["train"], 50, torch.Generator().manual_seed(3))
    x2, seqs2 = captions.compose(pools["train"], 50, torch.Generator().manual_seed(3))
    assert torch.equal(x, x2) and seqs == seqs2
    assert x.shape == (50, 1, captions.HEIGHT, captions.WIDTH) and 0 <= float(x.min()) and float(x.max()) <= 1
    assert {len(s) for s in seqs} == {1, 2, 3, 4}
    # ink only where digits are: a 1-digit image is empty right of column 10
    one = [i for i, s in enumerate(seqs) if len(s) == 1][0]
    assert float(x[one, 0, :, 11:].abs().sum()) == 0
    assert captions.caption_text([3, 1, 4]) == "three one four"


def test_a_single_digit_image_is_its_source_image():
    images, labels = torch.rand(5, 8, 8), torch.arange(5)
    x, seqs = captions.compose((images, labels), 20, torch.Generator().manual_seed(0), max_digits=1)
    for img, (d,) in zip(x[:, 0], seqs):
        assert any(torch.equal(img[dy : dy + 8, g : g + 8], images[d]) for dy in range(5) for g in range(3))


def test_pools_are_disjoint_source_images():
    pools = captions.load_pools(0.1, 0.2, 0)
    flat = {k: {tuple(v.flatten().tolist()) for v in p[0]} for k, p in pools.items()}
    # load_digits holds a few duplicate images; almost all test images are unseen in training
    assert len(flat["test"] & flat["train"]) <= 2
    assert sum(p[0].shape[0] for p in pools.values()) == 1797
