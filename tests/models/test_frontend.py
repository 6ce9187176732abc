"""The conv front end and series normalisation: lengths, padding, masked batch statistics."""

from __future__ import annotations

import pytest
import torch

from rnnkit.models import frontend as fe
from rnnkit.models.classifier import ClassifierConfig, SequenceClassifier

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny tensors: see tests/conftest.py


def test_plan_downsample_targets_about_48_steps():
    assert [fe.plan_downsample(n) for n in (24, 48, 49, 100, 150, 427, 1460, 100_000)] == [0, 0, 1, 2, 2, 4, 5, 5]


def test_out_lengths_are_the_real_steps_after_the_blocks():
    f = fe.ConvFrontEnd(2, 4, downsample=3)
    lengths = torch.tensor([1, 2, 7, 8, 9, 40])
    y, out = f(torch.randn(6, 40, 2), lengths)
    assert torch.equal(out, f.out_lengths(lengths)) and y.shape == (6, int(out.max()), 4)
    assert out.tolist() == [1, 1, 1, 1, 2, 5]  # three stride-2 blocks: ceil(L / 8)
    assert bool((y[4, 2:] == 0).all())  # padding past the end stays zero


def test_masked_batch_norm_counts_only_real_steps():
    torch.manual_seed(0)
    bn = fe.MaskedBatchNorm1d(3)
    x = torch.randn(2, 3, 6)
    mask = torch.tensor([[True] * 6, [True] * 4 + [False] * 2]).unsqueeze(1)
    padded = x.clone()
    padded[1, :, 4:] = 1e3  # garbage in the padding must not move the statistics
    y = bn(padded, mask)
    real = torch.cat([x[0], x[1, :, :4]], dim=1)  # (3, 10): the real steps
    expect = (real - real.mean(1, keepdim=True)) / torch.sqrt(real.var(1, unbiased=False, keepdim=True) + bn.eps)
    assert torch.allclose(torch.cat([y[0], y[1, :, :4]], dim=1), expect, atol=1e-5)
    assert torch.allclose(bn.running_mean, 0.1 * real.mean(1), atol=1e-6)


@pytest.mark.parametrize("normalize", ["series", "global", "none"])
def test_padding_changes_nothing_with_the_front_end(normalize: str):
    torch.manual_seed(0)
    m = SequenceClassifier(ClassifierConfig(input_size=2, hidden_size=6, num_classes=3, frontend="conv",
                                            downsample=2, normalize=normalize, pooling="mean"))
    if normalize == "series":
        m.set_normalization(torch.zeros(2), torch.ones(2), torch.zeros(4), torch.ones(4))
    m(torch.randn(4, 30, 2)).sum().backward()  # a training step moves the running statistics
    m.eval()
    x, lengths = torch.randn(3, 41, 2), torch.tensor([41, 17, 30])
    with torch.no_grad():
        out = m(x, lengths)
        alone = torch.cat([m(x[i : i + 1, :n]) for i, n in enumerate(lengths.tolist())])
    assert torch.allclose(out, alone, atol=1e-5)


def test_series_normalisation_ignores_offset_and_gain_of_the_shape():
    torch.manual_seed(0)
    m = SequenceClassifier(ClassifierConfig(input_size=1, hidden_size=4, num_classes=2, normalize="series")).eval()
    x = torch.randn(1, 20, 1)
    with torch.no_grad():
        zs = [m._normalize(v, torch.tensor([20]))[..., 0] for v in (x, 3 * x + 5)]
    assert torch.allclose(zs[0], zs[1], atol=1e-5)  # the shape channel; level and scale are the extra two
    with pytest.raises(ValueError, match="needs the statistics"):
        m.set_normalization(torch.zeros(1), torch.ones(1))


class Core(torch.nn.Module):
    def __init__(self, model: SequenceClassifier) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.model.forward_unchecked(x, lengths)


def test_the_tensor_path_is_the_whole_model_and_traces():
    """``pooled`` (what export wrappers call) gives forward's features; a trace of it runs other lengths."""
    torch.manual_seed(0)
    m = SequenceClassifier(ClassifierConfig(input_size=1, hidden_size=4, num_classes=2, frontend="conv",
                                            downsample=2, normalize="series")).eval()
    m.set_normalization(torch.zeros(1), torch.ones(1), torch.zeros(2), torch.ones(2))
    x, lengths = torch.randn(3, 40, 1), torch.tensor([40, 25, 9])
    with torch.no_grad():
        assert torch.equal(m.pooled(x, lengths), m.features(x, lengths))
        traced = torch.jit.trace(Core(m), (x, lengths))
        y, n = torch.randn(2, 33, 1), torch.tensor([33, 12])
        assert torch.allclose(traced(y, n), m(y, n), atol=1e-5)
