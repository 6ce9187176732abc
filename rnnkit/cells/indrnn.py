"""Independently recurrent cell, IndRNN (Li, Li, Cook, Zhu & Gao 2018, "Independently Recurrent Neural
Network (IndRNN): Building A Longer and Deeper RNN").

Each unit sees only its own past: the recurrent weight is a vector ``u (H,)``, not a matrix::

    H_t = φ(X_t W_ih^T + b + u ⊙ H_{t-1}),    φ = relu (the paper's) or tanh          (B, H)

Because ``∂H_t/∂H_{t-1} = diag(φ'(a_t) ⊙ u)``, a unit's gradient over ``T`` steps is a product of
scalars, so keeping ``|u| <= recurrent_max`` (the paper takes ``2^{1/T}`` for ReLU, or 1) bounds
it; with ``recurrent_max`` set the forward uses ``u`` clamped to ``[-recurrent_max, recurrent_max]``
(the clamp's gradient is zero outside, so an optimizer step cannot push it further out). One gate
block (G = 1). Parameters: ``weight_ih (H, I)``, ``bias_ih (H,)``, ``weight_hh (H,)`` (``u``).
State: ``h (B, H)``.

Backward of one step, with ``a_t`` the pre-activation::

    da_t     = dH_t ⊙ φ'(a_t)                 relu: [H_t > 0];  tanh: 1 - H_t²
    dH_{t-1} = da_t ⊙ u                       (+ the output gradient at t-1)
    du       = Σ_t Σ_b da_t ⊙ H_{t-1},   db = Σ da_t,   dX_t = da_t W_ih

Recurrent dropout multiplies ``H_{t-1}`` by its mask where it meets ``u``; zoneout carries ``Z ⊙ dH_t``
straight to ``H_{t-1}``, as in :class:`~rnnkit.cells.ElmanCell`.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from rnnkit.backends import compiled
from rnnkit.cells._buffers import last_valid, new_buffer, prev_views, previous, rows, step_views
from rnnkit.cells.base import Cell, make_params
from rnnkit.cells.noise import StepNoise

NONLINEARITIES = ("relu", "tanh")


class IndRNNCell(Cell):
    """IndRNN cell ``H_t = φ(X_t W_ih^T + b + u ⊙ H_{t-1})``.

    ``IndRNNCell(input_size, hidden_size, bias=True, nonlinearity="relu", device=None, dtype=None, *,
    recurrent_max=None)``; ``cell(input (B, I) or (I,), hx=None) -> h (B, H)``.

    Args:
        input_size: ``I``. hidden_size: ``H``. bias: use ``b``.
        nonlinearity: ``"relu"`` (Li et al.) or ``"tanh"``.
        recurrent_max: when set, ``u`` is clamped to ``[-recurrent_max, recurrent_max]`` in the forward.
        create_parameters: ``False`` for a definition without parameters of its own.
    """

    gates = 1
    fused_kind = "indrnn"
    weight_names = ("weight_ih", "bias_ih", "weight_hh", "bias_hh")

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "relu",
                 device: Any = None, dtype: Any = None, *, recurrent_max: float | None = None,
                 create_parameters: bool = True) -> None:
        super().__init__()
        if nonlinearity not in NONLINEARITIES:
            raise ValueError(f"IndRNNCell: unknown nonlinearity {nonlinearity!r}: expected 'relu' or 'tanh'")
        if recurrent_max is not None and not (isinstance(recurrent_max, (int, float)) and recurrent_max > 0):
            raise ValueError(f"IndRNNCell: recurrent_max must be a positive number or None, got {recurrent_max!r}")
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        self.nonlinearity, self.recurrent_max = nonlinearity, recurrent_max
        if create_parameters:
            make_params(self, self.parameter_shapes(), {"device": device, "dtype": dtype})
            self.reset_parameters()

    def parameter_shapes(self) -> dict[str, tuple[int, ...]]:
        H, I = self.hidden_size, self.input_size
        shapes = {"weight_ih": (H, I), "weight_hh": (H,)}
        if self.bias:
            shapes["bias_ih"] = (H,)
        return shapes

    def reset_parameters(self) -> None:
        """``W_ih`` uniform ``±1/sqrt(H)`` as torch.nn; ``u`` uniform in ``(0, 1)`` (Li et al.: every unit
        starts with a memory between none and full; within ``recurrent_max`` when set); ``b`` zero."""
        bound = 1.0 / self.hidden_size ** 0.5 if self.hidden_size > 0 else 0.0
        nn.init.uniform_(self.weight_ih, -bound, bound)
        nn.init.uniform_(self.weight_hh, 0.0, min(1.0, self.recurrent_max or 1.0))
        if self.bias_ih is not None:
            nn.init.zeros_(self.bias_ih)

    def _u(self, u: Tensor) -> Tensor:
        return u if self.recurrent_max is None else u.clamp(-self.recurrent_max, self.recurrent_max)

    def step_with(self, w: tuple, xp_t: Tensor, h: Tensor,
                  recurrent_mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
        pre = xp_t + self._u(w[2]) * (h if recurrent_mask is None else h * recurrent_mask)
        h = torch.relu(pre) if self.nonlinearity == "relu" else torch.tanh(pre)
        return h, h

    def step_projected(self, w_hh: Tensor, extra: Tensor | None, xp_t: Tensor, h: Tensor,
                       recurrent_mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """One step from the input projection, ``u`` already clamped (:meth:`fused_weights`)."""
        pre = xp_t + w_hh * (h if recurrent_mask is None else h * recurrent_mask)
        h = torch.relu(pre) if self.nonlinearity == "relu" else torch.tanh(pre)
        return h, h

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False")
        s += "" if self.nonlinearity == "relu" else f", nonlinearity={self.nonlinearity}"
        return s + ("" if self.recurrent_max is None else f", recurrent_max={self.recurrent_max}")

    # -- fused BPTT kernel ------------------------------------------------
    def fused_weights(self, w: tuple) -> tuple:
        """``(None, None, u clamped, None, None)``: the input projection is done outside by autograd
        (with the clamp, which autograd differentiates too)."""
        return None, None, self._u(w[2]), None, None

    def fused_forward(self, xp: Tensor, state0: tuple[Tensor, ...], u: Tensor, b_hh: Tensor | None,
                      extra: Tensor | None, batch_sizes: list[int] | None, lengths: Tensor | None,
                      noise: StepNoise | None = None):
        """``xp (T, B, H)`` (ours, overwritten), ``h0 (B, H)`` -> ``out (T, B, H)``, ``(h_n,)``, saved:
        the steps' own values ``H̃`` with zoneout, else nothing beyond ``out``."""
        (h0,) = state0
        T, B, H = xp.shape
        padded = batch_sizes is not None
        raw = xp
        zone = noise.zoneout[0] if noise is not None and noise.zoneout is not None else None
        if zone is None and compiled.usable(xp):   # the same loop in C++
            rec_mask = noise.recurrent if noise is not None else None
            out = compiled.ops().indrnn_forward(xp, h0, u, rec_mask, batch_sizes or [], self.nonlinearity == "relu")
            return out, (last_valid(out, lengths),), ()
        out = raw if zone is None else new_buffer(xp, (T, B, H), padded)
        act_ = torch.Tensor.relu_ if self.nonlinearity == "relu" else torch.Tensor.tanh_
        hs, hr = step_views(out, batch_sizes), step_views(raw, batch_sizes)
        hp = prev_views(out, h0, batch_sizes)
        rec = rows(noise.recurrent, batch_sizes, T) if noise is not None and noise.recurrent is not None else None
        us = rows(u, None, T)
        zh = step_views(zone, batch_sizes) if zone is not None else None
        for t in range(T):
            act_(hr[t].addcmul_(hp[t] if rec is None else hp[t] * rec[t], us[t]))
            if zh is not None:
                torch.lerp(hr[t], hp[t], zh[t], out=hs[t])
        if padded:  # outputs past each sequence's end are zero
            bs = torch.tensor(batch_sizes, device=out.device)
            out[~(torch.arange(B, device=out.device).unsqueeze(0) < bs.unsqueeze(1))] = 0
        return out, (last_valid(out, lengths),), (() if zone is None else (raw,))

    def fused_backward(self, saved: tuple, out: Tensor, state0: tuple[Tensor, ...], dout: Tensor,
                       dfinal: tuple[Tensor | None, ...], u: Tensor, extra: Tensor | None,
                       batch_sizes: list[int] | None, noise: StepNoise | None = None):
        """-> ``dXP (T, B, H)``, ``du (H,)``, ``None``, ``(dh0,)``, ``None``."""
        (h0,) = state0
        T, B, H = out.shape
        rec_mask = noise.recurrent if noise is not None else None
        zone = noise.zoneout[0] if noise is not None and noise.zoneout is not None else None
        if zone is None and compiled.usable(out):   # the same loop in C++
            g = dfinal[0].clone() if dfinal[0] is not None else out.new_zeros(B, H)
            g = g.contiguous()
            dpre = compiled.ops().indrnn_backward(out, dout.contiguous(), g, u, rec_mask, batch_sizes or [],
                                                  self.nonlinearity == "relu")
            h_prev = previous(out, h0)
            if rec_mask is not None:
                h_prev = h_prev * rec_mask
            return dpre, (dpre * h_prev).reshape(T * B, H).sum(0), None, (g,), None
        raw = saved[0] if zone is not None else out
        deriv = (raw > 0).to(out.dtype) if self.nonlinearity == "relu" else 1 - raw * raw
        if zone is not None:
            deriv = deriv * (1 - zone)   # dH_t's share that enters φ
        # dH_{t-1} = da_t ⊙ u ⊙ M = dH_t ⊙ (φ' ⊙ u ⊙ M): the factor for all steps at once
        carry = deriv * u if rec_mask is None else deriv * (u * rec_mask)
        dpre = new_buffer(out, (T, B, H), batch_sizes is not None)
        g = dfinal[0].clone() if dfinal[0] is not None else out.new_zeros(B, H)
        gs = rows(g, batch_sizes, T)
        dos, ds, dps, cs = (step_views(b, batch_sizes) for b in (dout, deriv, dpre, carry))
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
            gt.mul_(cs[t])
            if zone is not None:
                gt.add_(sk[t])
        h_prev = previous(out, h0)
        if rec_mask is not None:
            h_prev = h_prev * rec_mask
        du = (dpre * h_prev).reshape(T * B, H).sum(0)
        return dpre, du, None, (g,), None
