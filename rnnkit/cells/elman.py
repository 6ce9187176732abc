"""Elman RNN cell.

Equations (one step, torch.nn.RNN layout)::

    H_t = φ(X_t W_ih^T + b_ih + H_{t-1} W_hh^T + b_hh),   φ = tanh or relu

The output layer ``O_t = H_t W_o + b_o`` of the classic formulation belongs to
the model on top (a ``Linear`` over the layer's outputs), as in torch.nn.

Parameters (as ``torch.nn.RNNCell``): ``weight_ih (H, I)``, ``weight_hh (H, H)``,
``bias_ih (H,)``, ``bias_hh (H,)``. One gate block (G = 1). State: ``h (B, H)``.

Backward of one step (BPTT), with ``a_t`` the pre-activation::

    da_t     = dH_t ⊙ φ'(a_t)          tanh: 1 - H_t^2;  relu: [H_t > 0]
    dH_{t-1} = da_t W_hh                (+ the output gradient at t-1)
    dW_hh    = Σ_t da_t^T H_{t-1},  db = Σ_t da_t,  dX_t W_ih-part = da_t
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from rnnkit.cells._buffers import last_valid, new_buffer, prev_views, recurrent_weight_grad, rows, step_views
from rnnkit.cells.base import Cell, make_params
from rnnkit.cells.noise import StepNoise

NONLINEARITIES = ("tanh", "relu")


def _valid_mask(batch_sizes: list[int], like: Tensor) -> Tensor:
    """``(T, B)`` True where step t of row b is inside the sequence (batch sorted by length)."""
    bs = torch.tensor(batch_sizes, device=like.device)
    return torch.arange(like.shape[1], device=like.device).unsqueeze(0) < bs.unsqueeze(1)


class ElmanCell(Cell, nn.RNNCell):
    """Elman cell ``H_t = φ(X_t W_ih^T + b_ih + H_{t-1} W_hh^T + b_hh)``; drop-in for ``torch.nn.RNNCell``.

    ``ElmanCell(input_size, hidden_size, bias=True, nonlinearity="tanh", device=None, dtype=None)``,
    torch.nn.RNNCell's arguments in its order; ``cell(input (B, I) or (I,), hx=None) -> h (B, H)``.
    An instance of ``torch.nn.RNNCell`` (for ``isinstance`` checks in other people's code); its
    parameters, forward and checks are rnnkit's (:class:`Cell`), torch's class contributes no code.

    Args:
        input_size: ``I``. hidden_size: ``H``. bias: use ``b_ih`` and ``b_hh``.
        nonlinearity: ``"tanh"`` or ``"relu"``.
        create_parameters: ``False`` for the shared definition inside a layer
            that keeps the weights itself under torch.nn's names.
    """

    gates = 1
    fused_kind = "elman"
    #: the fused backward's gradient of b_hh is also b_ih's (both are added to the same pre-activation)
    shared_bias_grad = True

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", device: Any = None, dtype: Any = None, *,
                 create_parameters: bool = True) -> None:
        super().__init__()
        if nonlinearity not in NONLINEARITIES:
            raise ValueError(f"unknown nonlinearity {nonlinearity!r}: expected 'tanh' or 'relu'")
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        self.nonlinearity = nonlinearity
        if create_parameters:
            make_params(self, self.parameter_shapes(), {"device": device, "dtype": dtype})
            self.reset_parameters()

    def parameter_shapes(self) -> dict[str, tuple[int, ...]]:
        H, I = self.hidden_size, self.input_size
        shapes = {"weight_ih": (H, I), "weight_hh": (H, H)}
        if self.bias:
            shapes.update(bias_ih=(H,), bias_hh=(H,))
        return shapes

    def step_with(self, w: tuple, xp_t: Tensor, h: Tensor,
                  recurrent_mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
        _, _, w_hh, b_hh = w
        pre = xp_t + torch.nn.functional.linear(h if recurrent_mask is None else h * recurrent_mask, w_hh, b_hh)
        h = torch.tanh(pre) if self.nonlinearity == "tanh" else torch.relu(pre)
        return h, h

    def extra_repr(self) -> str:
        nl = f", nonlinearity={self.nonlinearity}" if self.nonlinearity != "tanh" else ""  # torch.nn's repr
        return super().extra_repr() + nl

    # -- fused BPTT kernel ------------------------------------------------
    def fused_forward(self, xp: Tensor, state0: tuple[Tensor, ...], w_hh: Tensor, b_hh: Tensor | None,
                      extra: Tensor | None, batch_sizes: list[int] | None, lengths: Tensor | None,
                      noise: StepNoise | None = None):
        """``xp (T, B, H)``, ``h0 (B, H)`` -> ``out (T, B, H)``, ``(h_n,)``, saved: nothing beyond ``out``
        (with zoneout: ``H̃ (T, B, H)``, the steps' own values before zoning)."""
        (h0,) = state0
        T, B, H = xp.shape
        # both biases sit outside φ; the projection buffer is ours, so the steps run in place in it
        raw = xp if b_hh is None else xp.add_(b_hh)
        zone = noise.zoneout[0] if noise is not None and noise.zoneout is not None else None
        out = raw if zone is None else new_buffer(xp, (T, B, H), batch_sizes is not None)
        w_t = w_hh.t()
        act_ = torch.Tensor.tanh_ if self.nonlinearity == "tanh" else torch.Tensor.relu_
        hs, hr = step_views(out, batch_sizes), step_views(raw, batch_sizes)
        hp = prev_views(out, h0, batch_sizes)
        rec = rows(noise.recurrent, batch_sizes, T) if noise is not None and noise.recurrent is not None else None
        zh = step_views(zone, batch_sizes) if zone is not None else None
        for t in range(T):
            act_(hr[t].addmm_(hp[t] if rec is None else hp[t] * rec[t], w_t))
            if zh is not None:
                torch.lerp(hr[t], hp[t], zh[t], out=hs[t])
        if batch_sizes is not None:  # outputs past each sequence's end are zero
            out[~_valid_mask(batch_sizes, out)] = 0
        return out, (last_valid(out, lengths),), (() if zone is None else (raw,))

    def fused_backward(self, saved: tuple, out: Tensor, state0: tuple[Tensor, ...], dout: Tensor,
                       dfinal: tuple[Tensor | None, ...], w_hh: Tensor, extra: Tensor | None,
                       batch_sizes: list[int] | None, noise: StepNoise | None = None):
        """-> ``dXP (T, B, H)``, ``dW_hh``, ``db_hh``, ``(dh0,)``, ``None``.

        Zoneout: ``Z ⊙ dH_t`` goes straight to ``H_{t-1}``, ``(1 - Z) ⊙ dH_t`` into φ; recurrent
        dropout: ``dH_{t-1} = (da_t W_hh) ⊙ M``, ``dW_hh = Σ da_t^T (H_{t-1} ⊙ M)``.
        """
        (h0,) = state0
        T, B, H = out.shape
        rec_mask = noise.recurrent if noise is not None else None
        zone = noise.zoneout[0] if noise is not None and noise.zoneout is not None else None
        raw = saved[0] if zone is not None else out
        if self.nonlinearity == "tanh":
            deriv = 1 - raw * raw
        else:
            deriv = (raw > 0).to(out.dtype)
        if zone is not None:
            deriv = deriv * (1 - zone)   # dH_t's share that enters φ
        dpre = new_buffer(out, (T, B, H), batch_sizes is not None)
        g = dfinal[0].clone() if dfinal[0] is not None else out.new_zeros(B, H)
        gs = rows(g, batch_sizes, T)
        dos, ds, dps = step_views(dout, batch_sizes), step_views(deriv, batch_sizes), step_views(dpre, batch_sizes)
        rec = rows(rec_mask, batch_sizes, T) if rec_mask is not None else None
        if zone is not None:
            zh = step_views(zone, batch_sizes)
            skip = out.new_empty(B, H)
            sk = rows(skip, batch_sizes, T)
        for t in range(T - 1, -1, -1):
            gt = gs[t]
            gt.add_(dos[t])
            torch.mul(gt, ds[t], out=dps[t])
            if zone is not None:
                torch.mul(gt, zh[t], out=sk[t])
            torch.mm(dps[t], w_hh, out=gt)
            if rec is not None:
                gt.mul_(rec[t])
            if zone is not None:
                gt.add_(sk[t])
        dw_hh = recurrent_weight_grad(dpre, out, h0, rec_mask)
        return dpre, dw_hh, dpre.reshape(T * B, H).sum(0), (g,), None


class RNNCell(ElmanCell):
    """torch.nn's name for the Elman cell: ``RNNCell(input_size, hidden_size, bias=True,
    nonlinearity="tanh", device=None, dtype=None)``, exactly :class:`ElmanCell`."""
