"""Sequential digits: the real 8x8 images as 64-step sequences, and the stratified split."""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("sklearn")

from rnnkit.data.digits import load_digit_sequences, split  # noqa: E402
from rnnkit.errors import RnnkitError  # noqa: E402


def test_sequences_and_split():
    x, y = load_digit_sequences()
    assert x.shape == (1797, 64, 1) and y.shape == (1797,)
    assert float(x.min()) == 0.0 and float(x.max()) == 1.0 and set(y.tolist()) == set(range(10))
    train, valid, test = split(y, (0.1, 0.2), seed=0)
    assert len(set(train.tolist()) | set(valid.tolist()) | set(test.tolist())) == 1797
    assert len(train) + len(valid) + len(test) == 1797
    assert abs(len(test) - 0.2 * 1797) < 10 and abs(len(valid) - 0.1 * 1797) < 10
    assert torch.bincount(y[test]).min() >= 34  # every class in the test split, ~20% of each
    assert all(torch.equal(a, b) for a, b in zip(split(y, (0.1, 0.2), 0), (train, valid, test)))
    with pytest.raises(RnnkitError, match="fractions"):
        split(y, (0.5, 0.6), 0)
