"""Bad input: each error names what was expected and what came."""

from __future__ import annotations

import pytest
import torch

import rnnkit


@pytest.fixture
def lstm():
    return rnnkit.LSTM(4, 5, num_layers=2)


def test_wrong_rank(lstm):
    with pytest.raises(ValueError, match=r"expected input of shape \(T, B, I\).*4-D.*\(1, 2, 3, 4\)"):
        lstm(torch.randn(1, 2, 3, 4))


def test_wrong_feature_size(lstm):
    msg = r"input_size. Expected 4, got 7 \(input of shape \(3, 2, 7\), laid out \(T, B, I\)\)"
    with pytest.raises(ValueError, match=msg):
        lstm(torch.randn(3, 2, 7))


def test_empty_input(lstm):
    with pytest.raises(ValueError, match=r"larger than 0 in RNN: input of shape \(0, 2, 4\) has no time steps"):
        lstm(torch.randn(0, 2, 4))


def test_integer_input(lstm):
    with pytest.raises(TypeError, match="floating-point.*torch.int64"):
        lstm(torch.ones(3, 2, 4, dtype=torch.long))


def test_mixed_dtype(lstm):
    with pytest.raises(TypeError, match="input dtype torch.float64 does not match.*torch.float32"):
        lstm(torch.randn(3, 2, 4, dtype=torch.float64))


def test_wrong_state_shape(lstm):
    h = torch.zeros(2, 2, 5)
    with pytest.raises(ValueError, match=r"Expected hidden size \(2, 2, 5\) for initial state c .*got \(1, 2, 5\)"):
        lstm(torch.randn(3, 2, 4), (h, torch.zeros(1, 2, 5)))
    with pytest.raises(ValueError, match=r"initial state must be a tuple \(h, c\), got 1"):
        lstm(torch.randn(3, 2, 4), h)
    gru = rnnkit.GRU(4, 5)
    with pytest.raises(ValueError, match=r"Expected hidden size \(1, 2, 5\) for initial state h_0 .*got \(1, 3, 5\)"):
        gru(torch.randn(3, 2, 4), torch.zeros(1, 3, 5))


def test_state_dtype(lstm):
    with pytest.raises(TypeError, match="dtype torch.float64, expected torch.float32"):
        lstm(torch.randn(3, 2, 4), (torch.zeros(2, 2, 5, dtype=torch.float64), torch.zeros(2, 2, 5)))


@pytest.mark.parametrize("lengths,msg", [
    ([3, 4], r"lengths\[1\] = 4 is longer than the sequence \(T = 3"),
    ([3, 0], r"every length must be >= 1, got lengths\[1\] = 0"),
    ([3], r"expected lengths of shape \(2,\)"),
    (torch.tensor([3.0, 2.0]), "lengths must hold integers"),
])
def test_bad_lengths(lstm, lengths, msg):
    with pytest.raises((ValueError, TypeError), match=msg):
        lstm(torch.randn(3, 2, 4), lengths=lengths)


def test_lengths_and_packed_together(lstm):
    packed = torch.nn.utils.rnn.pack_padded_sequence(torch.randn(3, 2, 4), [3, 2])
    with pytest.raises(ValueError, match="not both"):
        lstm(packed, lengths=[3, 2])


def test_device_mismatch_names_both_devices(lstm):
    meta = torch.randn(3, 2, 4, device="meta")
    with pytest.raises(ValueError, match="input is on meta but the parameters are on cpu"):
        lstm(meta)


def test_dropout_with_one_layer_warns_once_as_torch_nn():
    with pytest.warns(UserWarning, match="dropout=0.3 and num_layers=1") as caught:
        rnnkit.GRU(4, 5, dropout=0.3)
    assert len(caught) == 1


@pytest.mark.parametrize("kw,msg", [
    # torch.nn's own checks and messages: the constructor is torch.nn's
    (dict(dropout=1.5), "dropout should be a number in range"),
    (dict(num_layers=0), "num_layers must be greater than zero"),
    (dict(recurrent_init="xavier"), "unknown recurrent_init"),
])
def test_bad_constructor_arguments(kw, msg):
    with pytest.raises(ValueError, match=msg):
        rnnkit.GRU(4, 5, **kw)


def test_forget_bias_only_for_lstm():
    with pytest.raises(ValueError, match="LSTM only"):
        rnnkit.GRU(4, 5, forget_bias=1.0)


def test_proj_size_only_for_lstm():
    with pytest.raises(ValueError, match="only supported for LSTM"):
        rnnkit.GRU(4, 5, proj_size=2)
