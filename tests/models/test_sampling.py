"""sample_next: temperature, top-k, top-p, greedy."""

from __future__ import annotations

import pytest
import torch

from rnnkit.models import SampleConfig, sample_next

LOGITS = torch.log(torch.tensor([0.5, 0.3, 0.15, 0.05]))


def draws(cfg: SampleConfig, n: int = 2000) -> set[int]:
    g = torch.Generator().manual_seed(0)
    return {sample_next(LOGITS, cfg, g) for _ in range(n)}


def test_greedy():
    assert sample_next(LOGITS, SampleConfig(greedy=True)) == 0


def test_top_k_and_top_p_restrict_the_support():
    assert draws(SampleConfig(temperature=1.0)) == {0, 1, 2, 3}
    assert draws(SampleConfig(temperature=1.0, top_k=2)) == {0, 1}
    assert draws(SampleConfig(temperature=1.0, top_p=0.8)) == {0, 1}  # 0.5 + 0.3 reaches 0.8
    assert draws(SampleConfig(temperature=1.0, top_p=0.81)) == {0, 1, 2}
    assert draws(SampleConfig(temperature=1.0, top_p=0.1)) == {0}  # the most likely always stays


def test_low_temperature_is_nearly_greedy():
    g = torch.Generator().manual_seed(0)
    picks = [sample_next(LOGITS, SampleConfig(temperature=0.05), g) for _ in range(200)]
    assert picks.count(0) == 200


@pytest.mark.parametrize("kw", [{"temperature": 0}, {"top_k": -1}, {"top_p": 0}, {"top_p": 1.5}])
def test_bad_settings(kw):
    with pytest.raises(ValueError):
        SampleConfig(**kw)
