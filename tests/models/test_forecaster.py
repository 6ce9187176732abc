"""The Forecaster: shapes, both decoders, teacher forcing, and the Gaussian likelihood."""

from __future__ import annotations

import math

import pytest
import torch

from rnnkit.models.forecaster import Forecaster, ForecasterConfig, gaussian_nll

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny tensors: see tests/conftest.py


def make(decoder: str, trained: bool = True, **kw) -> Forecaster:
    """A forecaster; ``trained`` gives its mean head random weights, as training would, since at
    initialisation the mean head is zero (mu = 0: the base forecast) and hides the wiring."""
    torch.manual_seed(0)
    m = Forecaster(ForecasterConfig(hidden_size=16, decoder=decoder, dropout=0.0, input_size=3, known_size=2,
                                    out_steps=5, **kw))
    if trained:
        with torch.no_grad():
            w = m.head_w[..., 0] if decoder == "direct" else m.head.weight[0]
            w.uniform_(-0.5, 0.5)
    return m


@pytest.mark.parametrize("decoder", ["direct", "autoregressive"])
def test_an_untrained_model_forecasts_the_base(decoder):
    m = make(decoder, trained=False)
    mu, _ = m(torch.randn(4, 7, 3), torch.randn(4, 5, 2))
    assert torch.equal(mu, torch.zeros(4, 5))


@pytest.mark.parametrize("decoder", ["direct", "autoregressive"])
@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_shapes_and_positive_scale(decoder, cell):
    m = make(decoder, cell=cell)
    mu, sigma = m(torch.randn(4, 7, 3), torch.randn(4, 5, 2))
    assert mu.shape == sigma.shape == (4, 5)
    assert bool((sigma > 0).all())


def test_direct_heads_are_per_step():
    m = make("direct")
    x, known = torch.randn(2, 7, 3), torch.zeros(2, 5, 2)
    mu, _ = m(x, known)
    with torch.no_grad():
        m.head_b[3, 0] += 1.0  # only step 4's head changes
    mu2, _ = m(x, known)
    assert torch.allclose((mu2 - mu)[:, 3], torch.ones(2))
    assert torch.equal(torch.cat([mu2[:, :3], mu2[:, 4:]], 1), torch.cat([mu[:, :3], mu[:, 4:]], 1))


def test_autoregressive_teacher_forcing_with_its_own_means_equals_free_running():
    m = make("autoregressive").eval()
    x, known = torch.randn(3, 7, 3), torch.randn(3, 5, 2)
    with torch.no_grad():
        mu, sigma = m(x, known)
        mu_t, sigma_t = m(x, known, teacher=mu)
        other, _ = m(x, known, teacher=mu + 1)
    assert torch.allclose(mu, mu_t, atol=1e-6) and torch.allclose(sigma, sigma_t, atol=1e-6)
    assert torch.allclose(other[:, 0], mu[:, 0]) and not torch.allclose(other[:, 1:], mu[:, 1:])


def test_known_future_features_reach_the_output():
    m = make("direct")
    x = torch.randn(2, 7, 3)
    a, _ = m(x, torch.zeros(2, 5, 2))
    b, _ = m(x, torch.ones(2, 5, 2))
    assert not torch.allclose(a, b)


def test_gaussian_nll_matches_torch_distributions():
    mu, sigma, y = torch.randn(4, 3), torch.rand(4, 3) + 0.1, torch.randn(4, 3)
    ref = -torch.distributions.Normal(mu, sigma).log_prob(y).mean()
    assert float(gaussian_nll(mu, sigma, y)) == pytest.approx(float(ref), rel=1e-5)
    at_mean = float(gaussian_nll(torch.zeros(1), torch.ones(1), torch.zeros(1)))
    assert at_mean == pytest.approx(0.5 * math.log(2 * math.pi))


def test_bad_shapes_and_options():
    m = make("direct")
    with pytest.raises(ValueError, match=r"expected a context \(B, L, 3\)"):
        m(torch.randn(2, 7, 4), torch.zeros(2, 5, 2))
    with pytest.raises(ValueError, match="known-future"):
        m(torch.randn(2, 7, 3), torch.zeros(2, 4, 2))
    with pytest.raises(ValueError, match="decoder must be"):
        Forecaster(ForecasterConfig(decoder="tree"))


def test_learns_a_sine_continuation():
    """A few hundred steps on windows of a sine: the forecast error falls far below the naive one."""
    torch.manual_seed(0)
    t = torch.arange(100.0)
    y = torch.sin(2 * math.pi * t / 12)
    idx = torch.arange(12)[None, :] + torch.arange(0, 64)[:, None]
    ctx, fut = y[idx][..., None], y[idx[:, -1:] + 1 + torch.arange(5)[None, :]]
    m = Forecaster(ForecasterConfig(hidden_size=16, dropout=0.0, input_size=1, known_size=0, out_steps=5))
    opt = torch.optim.Adam(m.parameters(), lr=2e-2)
    for _ in range(80):
        mu, sigma = m(ctx, torch.zeros(64, 5, 0))
        loss = gaussian_nll(mu, sigma, fut)
        opt.zero_grad()
        loss.backward()
        opt.step()
    naive = (fut - ctx[:, -1]).abs().mean()
    assert float((mu - fut).abs().mean().detach()) < 0.2 * float(naive)
