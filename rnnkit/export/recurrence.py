"""Exportable stand-ins for rnnkit's recurrent layers, with rnnkit's ``lengths=`` semantics.

An rnnkit layer chooses its time loop at run time (Python loops, sorting by length, packed
segments), which tracers and exporters cannot capture with dynamic batch and time sizes. The
task graphs in :mod:`rnnkit.export.wrappers` therefore run a copy of the model whose layers are
replaced (:func:`swap_layers`) by one of two modules computing the same math on the same weights:

- :class:`KernelRNN`: a ``torch.nn`` layer holding the weights (the layouts are the same), i.e.
  torch's fused kernel. The legacy ONNX exporter writes it as ONNX's own ``LSTM``/``GRU``/``RNN``
  op; with ``lengths`` the batch goes through ``pack_padded_sequence``, which that exporter writes
  as the op's ``sequence_lens``: final states at each sequence's last step, exactly. Fast in
  onnxruntime. ``torch.export`` cannot keep its time axis dynamic (it unrolls the kernel).
- :class:`ScanRNN`: the cell equations over time as one ``scan`` (a higher-order op that
  ``torch.export`` and the dynamo ONNX exporter keep as a loop: ONNX ``Scan``), with the steps past
  each sequence's end masked (the state is carried unchanged, the output is zero) and the backward
  direction read within each sequence's length. Dynamic batch and time for ``pt2`` and dynamo.

Both take and return what an rnnkit layer does: ``forward(input, hx=None, lengths=None) ->
(output, final_state)``, outputs zero past each sequence's end, an LSTM state as ``LSTMState``.
Dropout between layers is left out: exports are of models in eval mode.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from rnnkit.layers.base import RecurrentBase
from rnnkit.layers.torch_compat import GRU, LSTM, RNN
from rnnkit.models.birnn import reverse_within
from rnnkit.state import LSTMState

FLAVOURS = ("kernel", "scan")


def layer_kind(layer: nn.Module) -> str:
    """``lstm``, ``gru``, ``rnn_tanh`` or ``rnn_relu`` for an rnnkit (or torch.nn) recurrent layer."""
    if isinstance(layer, (LSTM, nn.LSTM)):
        return "lstm"
    if isinstance(layer, (GRU, nn.GRU)):
        return "gru"
    if isinstance(layer, (RNN, nn.RNN)):
        return f"rnn_{layer.nonlinearity}"
    raise TypeError(f"not a recurrent layer: {type(layer).__name__}")


def _check_exportable(layer: nn.Module) -> None:
    if getattr(layer, "proj_size", 0):
        raise ValueError("export: LSTM layers with proj_size are not supported")


def torch_clone(layer: nn.Module) -> nn.RNNBase:
    """A ``torch.nn`` layer with the configuration and (copied) weights of ``layer``, in eval mode."""
    _check_exportable(layer)
    kind = layer_kind(layer)
    cls = {"lstm": nn.LSTM, "gru": nn.GRU}.get(kind, nn.RNN)
    extra = {"nonlinearity": kind[4:]} if cls is nn.RNN else {}
    clone = cls(layer.input_size, layer.hidden_size, layer.num_layers, bias=layer.bias, batch_first=layer.batch_first,
                bidirectional=layer.bidirectional, **extra)
    # strict: the weight names are torch.nn's in both (rnnkit's contract); a mismatch must fail here
    clone.load_state_dict({k: v.detach().clone() for k, v in layer.state_dict().items()})
    return clone.eval()


def _as_state(kind: str, state: Any) -> Any:
    return LSTMState(*state) if kind == "lstm" else state


class KernelRNN(nn.Module):
    """torch's fused kernel on a copy of an rnnkit layer's weights (module docstring)."""

    def __init__(self, layer: nn.Module) -> None:
        super().__init__()
        self.kind = layer_kind(layer)
        self.rnn = torch_clone(layer)

    def forward(self, input: Tensor, hx: Any = None, lengths: Tensor | None = None) -> tuple[Tensor, Any]:
        if hx is not None and self.kind == "lstm":
            hx = tuple(hx)
        if lengths is None:
            out, state = self.rnn(input, hx)
            return out, _as_state(self.kind, state)
        bf = self.rnn.batch_first
        packed = pack_padded_sequence(input, lengths.cpu(), batch_first=bf, enforce_sorted=False)
        out, state = self.rnn(packed, hx)
        out, _ = pad_packed_sequence(out, batch_first=bf, total_length=input.shape[1 if bf else 0])
        return out, _as_state(self.kind, state)


def _step_fn(kind: str, w_hh: Tensor, b_hh: Tensor | None) -> Any:
    """The combine function of one direction's scan: ``(state, (x_proj_t, mask_t)) -> (state, h_t)``."""

    def step(state: Any, inp: tuple[Tensor, Tensor]) -> tuple[Any, Tensor]:
        xp, m = inp
        if kind == "lstm":
            h, c = state
            i, f, g, o = (xp + F.linear(h, w_hh, b_hh)).chunk(4, -1)
            c_new = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h_new = torch.sigmoid(o) * torch.tanh(c_new)
            # past a sequence's end the state is carried unchanged: the final state is the last real step's
            h_new, c_new = torch.where(m, h_new, h), torch.where(m, c_new, c)
            return (h_new, c_new), h_new.clone()
        if kind == "gru":
            h = state
            xr, xz, xn = xp.chunk(3, -1)
            hr, hz, hn = F.linear(h, w_hh, b_hh).chunk(3, -1)
            r, z = torch.sigmoid(xr + hr), torch.sigmoid(xz + hz)
            n = torch.tanh(xn + r * hn)  # the reset gate applies after the matmul, as torch.nn/cuDNN
            h_new = torch.where(m, (1 - z) * n + z * h, h)
            return h_new, h_new.clone()
        act = torch.tanh if kind == "rnn_tanh" else torch.relu
        h_new = torch.where(m, act(xp + F.linear(state, w_hh, b_hh)), state)
        return h_new, h_new.clone()

    return step


class ScanRNN(nn.Module):
    """The cell equations over time as one ``scan``, steps past each end masked (module docstring)."""

    def __init__(self, layer: nn.Module) -> None:
        super().__init__()
        self.kind = layer_kind(layer)
        self.rnn = torch_clone(layer)  # holds the weights under torch.nn's names

    def _weights(self, layer: int, direction: int) -> tuple[Tensor, Tensor, Tensor | None, Tensor | None]:
        sfx = f"_l{layer}{'_reverse' if direction else ''}"
        r = self.rnn
        get = (lambda n: getattr(r, n + sfx)) if r.bias else (lambda n: getattr(r, n + sfx) if "weight" in n else None)
        return get("weight_ih"), get("weight_hh"), get("bias_ih"), get("bias_hh")

    def forward(self, input: Tensor, hx: Any = None, lengths: Tensor | None = None) -> tuple[Tensor, Any]:
        from torch._higher_order_ops.scan import scan

        r = self.rnn
        x = input if r.batch_first else input.transpose(0, 1)  # (B, T, I)
        B, T = x.shape[0], x.shape[1]
        D, H = 2 if r.bidirectional else 1, r.hidden_size
        steps = torch.arange(T, device=x.device)
        if lengths is None:
            lengths = torch.full((B,), T, dtype=torch.long, device=x.device)
        lengths = lengths.to(x.device)
        valid = steps.unsqueeze(0) < lengths.unsqueeze(1)  # (B, T)
        mask_t = valid.transpose(0, 1).unsqueeze(-1)  # (T, B, 1), what the scan reads per step
        if hx is None:
            zeros = x.new_zeros(r.num_layers * D, B, H)
            hx = (zeros, zeros.clone()) if self.kind == "lstm" else zeros
        finals_h, finals_c = [], []
        layer_in = x
        for k in range(r.num_layers):
            outs = []
            for d in range(D):
                w_ih, w_hh, b_ih, b_hh = self._weights(k, d)
                xin = layer_in if d == 0 else reverse_within(layer_in, lengths)
                xp = F.linear(xin, w_ih, b_ih).transpose(0, 1)  # (T, B, G H): one matmul for all steps
                i = k * D + d
                # copies: a scan's carries may not alias each other or another input (the dynamo exporter checks)
                init = (hx[0][i].clone(), hx[1][i].clone()) if self.kind == "lstm" else hx[i].clone()
                step = _step_fn(self.kind, w_hh, b_hh)
                if isinstance(T, int) and T == 1:
                    # a one-step decoder's input has one step by construction: no loop to keep (a scan costs
                    # seconds of export time and an ONNX Scan node)
                    final, y = step(init, (xp[0], mask_t[0]))
                    ys = y.unsqueeze(0)
                else:
                    final, ys = scan(step, init, (xp, mask_t))
                out = ys.transpose(0, 1).masked_fill(~valid.unsqueeze(-1), 0.0)
                outs.append(out if d == 0 else reverse_within(out, lengths))
                if self.kind == "lstm":
                    finals_h.append(final[0])
                    finals_c.append(final[1])
                else:
                    finals_h.append(final)
            layer_in = outs[0] if D == 1 else torch.cat(outs, -1)
        out = layer_in if r.batch_first else layer_in.transpose(0, 1)
        h_n = torch.stack(finals_h, 0)
        return out, (LSTMState(h_n, torch.stack(finals_c, 0)) if self.kind == "lstm" else h_n)


def swap_layers(model: nn.Module, flavour: str) -> nn.Module:
    """A deep copy of ``model`` (eval mode) with every recurrent layer replaced by its exportable stand-in."""
    if flavour not in FLAVOURS:
        raise ValueError(f"unknown flavour {flavour!r}: expected one of {', '.join(FLAVOURS)}")
    make = KernelRNN if flavour == "kernel" else ScanRNN
    for name, m in model.named_modules():
        if isinstance(m, RecurrentBase) and not isinstance(m, (LSTM, GRU, RNN)):
            raise ValueError(f"export: {name or 'the model'} is a {type(m).__name__}, which has no ONNX/torch.export "
                             f"form; export takes models of --cell lstm, gru or rnn")
        if getattr(m, "zoneout", 0) > 0:
            raise ValueError(f"export: {name or 'the model'} uses zoneout={m.zoneout}, which torch's recurrent ops "
                             f"have no place for; export takes models trained without zoneout")
    out = copy.deepcopy(model).eval()
    targets = [(name, m) for name, m in out.named_modules() if isinstance(m, (LSTM, GRU, RNN))]
    for name, layer in targets:
        parent_name, _, attr = name.rpartition(".")
        parent = out.get_submodule(parent_name) if parent_name else out
        setattr(parent, attr, make(layer))
    return out
