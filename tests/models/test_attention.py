"""Attention scores: padding is masked, weights are a distribution, the kinds differ as documented."""

from __future__ import annotations

import pytest
import torch

from rnnkit.models.attention import KINDS, Attention


@pytest.mark.parametrize("kind", KINDS)
def test_padding_changes_nothing(kind: str):
    torch.manual_seed(0)
    attn = Attention(kind, 8, 8)
    q, keys = torch.randn(3, 4, 8), torch.randn(3, 5, 8)
    mask = torch.ones(3, 5, dtype=torch.bool)
    ctx, w = attn(q, keys, mask)
    # the same sources with 3 padded steps of arbitrary values: same context, zero weight there
    padded = torch.cat([keys, 100 * torch.randn(3, 3, 8)], dim=1)
    pmask = torch.cat([mask, torch.zeros(3, 3, dtype=torch.bool)], dim=1)
    ctx2, w2 = attn(q, padded, pmask)
    assert torch.allclose(ctx, ctx2, atol=1e-6) and torch.allclose(w, w2[..., :5], atol=1e-6)
    assert torch.all(w2[..., 5:] == 0)
    assert torch.allclose(w.sum(-1), torch.ones(3, 4))


def test_prepared_keys_give_the_same_result_and_dot_is_plain_dot_product():
    torch.manual_seed(1)
    q, keys, mask = torch.randn(2, 3, 6), torch.randn(2, 4, 6), torch.ones(2, 4, dtype=torch.bool)
    for kind in KINDS:
        a = Attention(kind, 6, 6)
        assert torch.allclose(a(q, keys, mask)[0], a(q, keys, mask, a.prepare(keys))[0])
    w = Attention("dot", 6, 6)(q, keys, mask)[1]
    assert torch.allclose(w, torch.softmax(q @ keys.transpose(1, 2), -1), atol=1e-6)


def test_bad_kinds_and_sizes():
    with pytest.raises(ValueError, match="unknown kind"):
        Attention("cosine", 4, 4)
    with pytest.raises(ValueError, match="query_size == key_size"):
        Attention("dot", 4, 6)
    assert Attention("general", 4, 6)(torch.randn(1, 2, 4), torch.randn(1, 3, 6),
                                      torch.ones(1, 3, dtype=torch.bool))[0].shape == (1, 2, 6)
