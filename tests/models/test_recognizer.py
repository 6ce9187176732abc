"""SpeechRecognizer: shapes, padding, and streaming that equals the offline forward."""

from __future__ import annotations

import pytest
import torch

from rnnkit.models.recognizer import RecognizerConfig, SpeechRecognizer


def model(**kw) -> SpeechRecognizer:
    torch.manual_seed(0)
    m = SpeechRecognizer(RecognizerConfig(input_size=8, vocab_size=5, hidden_size=12, proj_size=10, num_layers=2,
                                          stack=3, **kw))
    m.set_normalisation(torch.randn(8), torch.rand(8) + 0.5)
    return m.eval()


@pytest.mark.parametrize("bidirectional", [True, False])
def test_shapes_and_padding_do_not_reach_real_steps(bidirectional):
    m = model(bidirectional=bidirectional)
    x = torch.randn(3, 20, 8)
    lengths = torch.tensor([20, 13, 7])
    with torch.no_grad():
        lp, out_lengths = m(x, lengths)
        assert lp.shape == (3, 7, 5) and out_lengths.tolist() == [7, 5, 3]
        assert torch.allclose(lp.exp().sum(-1), torch.ones(3, 7), atol=1e-5)
        alone, _ = m(x[1:2, :13], lengths[1:2])  # the same utterance without the batch's padding
    assert torch.allclose(lp[1, :5], alone[0], atol=1e-5)


@pytest.mark.parametrize("normalise,lookahead", [("global", 0), ("running", 0), ("global", 2), ("running", 5)])
def test_stream_equals_offline_for_any_chunking(normalise, lookahead):
    m = model(bidirectional=False, normalise=normalise, lookahead=lookahead)
    if lookahead:
        with torch.no_grad():
            m.row.normal_()  # not the identity it starts as: the future steps count
    x = torch.randn(1, 47, 8) * 2 + 1  # not a multiple of the stack: the last step is zero-padded in both
    with torch.no_grad():
        offline, _ = m(x, torch.tensor([47]))
    for cuts in ([47], [1] * 47, [5, 9, 2, 31], [3, 3, 41], [47, 0], [2, 45]):
        s, pieces, at = m.stream(), [], 0
        for n in cuts:
            pieces.append(s.push(x[0, at : at + n]))
            at += n
        pieces.append(s.finish())
        assert torch.allclose(torch.cat(pieces), offline[0], atol=1e-5), cuts


def test_bidirectional_does_not_stream_and_bad_sizes_are_errors():
    with pytest.raises(ValueError, match="--no-bidirectional"):
        model(bidirectional=True).stream()
    with pytest.raises(ValueError, match="vocab_size must be >= 2"):
        SpeechRecognizer(RecognizerConfig(vocab_size=1))
    with pytest.raises(ValueError, match="stack must be >= 1"):
        SpeechRecognizer(RecognizerConfig(vocab_size=4, stack=0))


def test_spec_augment_only_in_training():
    m = model(bidirectional=False, time_masks=2, freq_masks=2)
    x = torch.randn(2, 30, 8)
    with torch.no_grad():
        a, _ = m(x, torch.tensor([30, 30]))
        b, _ = m(x, torch.tensor([30, 30]))
        assert torch.equal(a, b)  # eval: no masks, no dropout
        m.train()
        torch.manual_seed(1)
        c, _ = m(x, torch.tensor([30, 30]))
    assert not torch.allclose(a, c)


def test_utterance_normalisation_ignores_padding_and_refuses_to_stream():
    m = model(bidirectional=True, normalise="utterance")
    x = torch.randn(2, 20, 8) * 3 + 5
    with torch.no_grad():
        lp, _ = m(x, torch.tensor([20, 11]))
        alone, _ = m(x[1:2, :11], torch.tensor([11]))
        shifted, _ = m(x[1:2, :11] * 2 + 7, torch.tensor([11]))  # a louder channel: the same after normalising
    assert torch.allclose(lp[1, :4], alone[0], atol=1e-5) and torch.allclose(alone, shifted, atol=1e-4)
    with pytest.raises(ValueError, match="--normalise running"):
        model(bidirectional=False, normalise="utterance").stream()


def test_lookahead_sees_the_future_and_padding_does_not_reach_it():
    m = model(bidirectional=False, lookahead=2)
    with torch.no_grad():
        m.row.normal_()
    x = torch.randn(2, 30, 8)
    lengths = torch.tensor([30, 17])
    with torch.no_grad():
        lp, _ = m(x, lengths)
        alone, _ = m(x[1:2, :17], lengths[1:2])
        later = x.clone()
        later[0, 21:] += 5  # steps 7.. change: outputs 5 and 6 see them two steps ahead, 0-4 don't
        changed, _ = m(later, lengths)
    assert torch.allclose(lp[1, :6], alone[0], atol=1e-5)
    assert torch.allclose(lp[0, :5], changed[0, :5], atol=1e-6) and not torch.allclose(lp[0, 5], changed[0, 5])
    with pytest.raises(ValueError, match="lookahead must be >= 0"):
        SpeechRecognizer(RecognizerConfig(vocab_size=4, lookahead=-2))
    assert SpeechRecognizer(RecognizerConfig(vocab_size=4, bidirectional=False)).lookahead == 5  # auto
    assert SpeechRecognizer(RecognizerConfig(vocab_size=4)).lookahead == 0


def test_running_normalisation_forgets_a_constant_offset():
    m = model(bidirectional=False, normalise="running")
    x = torch.randn(1, 400, 8)
    with torch.no_grad():
        a, _ = m(x, torch.tensor([400]))
        b, _ = m(x + 3, torch.tensor([400]))  # louder throughout: removed as the mean so far learns it
        g = model(bidirectional=False, normalise="global")
        c, _ = g(x, torch.tensor([400]))
        d, _ = g(x + 3, torch.tensor([400]))
    assert (a[0, -20:] - b[0, -20:]).abs().max() < 0.5 * (c[0, -20:] - d[0, -20:]).abs().max()
    assert model(bidirectional=False).normalisation == "running"
