"""Dynamic quantization of rnnkit's layers with torch's own quantized kernels.

``torch.ao.quantization.quantize_dynamic`` matches modules by their *exact* type (a
subclass of ``torch.nn.LSTM``, rnnkit's included, is not an ``nn.LSTM`` to it), so it
quantizes rnnkit's layers when they are named::

    q = torch.ao.quantization.quantize_dynamic(model, {rnnkit.LSTM, rnnkit.GRU, nn.Linear})

Each named layer becomes torch's dynamically quantized ``LSTM``/``GRU`` (int8 weights),
exactly what the same model with torch.nn's layers becomes. torch has no quantized
Elman RNN layer; an ``rnnkit.RNN``, like a ``torch.nn.RNN``, stays as it is.
"""

from __future__ import annotations

from typing import Any

from torch import nn
from torch.ao.nn.quantized import dynamic as nnqd
from torch.ao.quantization.quantization_mappings import DEFAULT_DYNAMIC_QUANT_MODULE_MAPPINGS


def to_torch_nn(layer: nn.RNNBase) -> nn.RNNBase:
    """A ``torch.nn`` layer of exactly ``type(layer)``'s torch.nn class with the same configuration
    and weights (computed weights, e.g. under a parametrization, are copied as they are now)."""
    torch_cls = getattr(layer, "_torch_cls", type(layer))
    kw: dict[str, Any] = dict(num_layers=layer.num_layers, bias=layer.bias, batch_first=layer.batch_first,
                              dropout=layer.dropout, bidirectional=layer.bidirectional)
    if torch_cls is nn.LSTM:
        kw["proj_size"] = layer.proj_size
    if torch_cls is nn.RNN:
        kw["nonlinearity"] = layer.nonlinearity
    first = getattr(layer, layer._flat_weights_names[0])
    out = torch_cls(layer.input_size, layer.hidden_size, device=first.device, dtype=first.dtype, **kw)
    out.load_state_dict({n: getattr(layer, n).detach() for n in layer._flat_weights_names})
    out.train(layer.training)
    return out


class _FromRnnkit:
    """``from_float`` for an rnnkit layer: convert to torch.nn's layer, then torch's own ``from_float``."""

    quantized: type[nnqd.LSTM] | type[nnqd.GRU]

    @classmethod
    def from_float(cls, mod: nn.RNNBase, use_precomputed_fake_quant: bool = False) -> nn.Module:
        plain = to_torch_nn(mod)
        plain.qconfig = mod.qconfig
        return cls.quantized.from_float(plain, use_precomputed_fake_quant=use_precomputed_fake_quant)


class DynamicLSTM(_FromRnnkit):
    quantized = nnqd.LSTM


class DynamicGRU(_FromRnnkit):
    quantized = nnqd.GRU


def register(lstm: type[nn.LSTM], gru: type[nn.GRU]) -> None:
    """Add rnnkit's layer classes to torch's default dynamic-quantization mapping."""
    DEFAULT_DYNAMIC_QUANT_MODULE_MAPPINGS.setdefault(lstm, DynamicLSTM)
    DEFAULT_DYNAMIC_QUANT_MODULE_MAPPINGS.setdefault(gru, DynamicGRU)
