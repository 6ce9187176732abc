"""LSTM cell (Hochreiter & Schmidhuber 1997, with forget gate), torch.nn.LSTM layout.

Gate order in the stacked weights: **i, f, g, o** (input, forget, cell candidate, output)::

    [i f g o]_t = X_t W_ih^T + b_ih + H_{t-1} W_hh^T + b_hh        (B, 4H)
    i, f, o     = σ(i), σ(f), σ(o);   g = tanh(g)
    C_t         = f ⊙ C_{t-1} + i ⊙ g                              (B, H)
    M_t         = o ⊙ tanh(C_t)                                     (B, H)
    H_t         = M_t W_hr^T   if proj_size > 0 (B, P)   else  M_t

Parameters (as ``torch.nn.LSTMCell``/``LSTM``): ``weight_ih (4H, I)``,
``weight_hh (4H, O)``, ``bias_ih (4H,)``, ``bias_hh (4H,)``, and with
``proj_size = P > 0`` ``weight_hr (P, H)``; ``O = P`` if projected else ``H``.
State: :class:`rnnkit.LSTMState` ``(h (B, O), c (B, H))``.

Backward of one step (BPTT). With ``dH_t`` the total gradient reaching ``H_t``
and ``dC_t`` the one carried from step t+1::

    dM_t     = dH_t W_hr  (or dH_t)            dW_hr += dH_t^T M_t
    dC_t    += dM_t ⊙ o ⊙ (1 - tanh²C_t)
    do       = dM_t ⊙ tanh C_t ⊙ o(1-o)
    di       = dC_t ⊙ g ⊙ i(1-i);   df = dC_t ⊙ C_{t-1} ⊙ f(1-f);   dg = dC_t ⊙ i ⊙ (1-g²)
    dC_{t-1} = dC_t ⊙ f;   dH_{t-1} = [di df dg do] W_hh

The fused kernel evaluates g = tanh(a) as 2σ(2a) - 1 (the same function; one sigmoid
then covers all four gates of a step); the difference is rounding, ~1e-7 in float32.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from rnnkit.backends import compiled
from rnnkit.cells._buffers import last_valid, new_buffer, prev_views, previous, recurrent_weight_grad, rows, step_views
from rnnkit.cells.base import Cell, make_params
from rnnkit.cells.noise import StepNoise
from rnnkit.state import LSTMState


class LSTMCell(Cell, nn.LSTMCell):
    """LSTM cell with gates i, f, g, o and an optional output projection; drop-in for ``torch.nn.LSTMCell``.

    ``LSTMCell(input_size, hidden_size, bias=True, device=None, dtype=None, *, proj_size=0)``,
    torch's order; ``cell(input (B, I) or (I,), hx=None) -> LSTMState(h (B, O), c (B, H))``
    (a tuple, as torch returns). An instance of ``torch.nn.LSTMCell`` (for ``isinstance``);
    parameters, forward and checks are rnnkit's (:class:`Cell`). ``proj_size`` is rnnkit's
    addition (torch.nn.LSTMCell has none): with it ``weight_hh`` is ``(4H, P)``.

    Args:
        input_size: ``I``. hidden_size: ``H``. bias: use ``b_ih`` and ``b_hh``.
        proj_size: ``P``; when > 0 the hidden output is ``M_t W_hr^T``.
        create_parameters: ``False`` for the shared definition inside a layer
            that keeps the weights itself under torch.nn's names.
    """

    gates = 4
    fused_kind = "lstm"
    #: the fused backward's gradient of b_hh is also b_ih's (both are added to the same gates)
    shared_bias_grad = True
    weight_names = ("weight_ih", "bias_ih", "weight_hh", "bias_hh", "weight_hr")

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device: Any = None,
                 dtype: Any = None, *, proj_size: int = 0, create_parameters: bool = True) -> None:
        super().__init__()
        if proj_size < 0:
            raise ValueError(f"proj_size must be >= 0, got {proj_size}")
        if proj_size >= hidden_size and proj_size > 0:
            raise ValueError(f"proj_size ({proj_size}) must be smaller than hidden_size ({hidden_size})")
        self.input_size, self.hidden_size, self.bias, self.proj_size = input_size, hidden_size, bias, proj_size
        if create_parameters:
            make_params(self, self.parameter_shapes(), {"device": device, "dtype": dtype})
            self.reset_parameters()

    @property
    def output_size(self) -> int:
        return self.proj_size or self.hidden_size

    def parameter_shapes(self) -> dict[str, tuple[int, ...]]:
        H, I, O = self.hidden_size, self.input_size, self.output_size
        shapes = {"weight_ih": (4 * H, I), "weight_hh": (4 * H, O)}
        if self.bias:
            shapes.update(bias_ih=(4 * H,), bias_hh=(4 * H,))
        if self.proj_size:
            shapes["weight_hr"] = (self.proj_size, H)
        return shapes

    def initial_state(self, batch: int, *, dtype: torch.dtype | None = None,
                      device: Any = None) -> LSTMState:
        return LSTMState(torch.zeros(batch, self.output_size, dtype=dtype, device=device),
                         torch.zeros(batch, self.hidden_size, dtype=dtype, device=device))

    def step_with(self, w: tuple, xp_t: Tensor, state: tuple[Tensor, Tensor],
                  recurrent_mask: Tensor | None = None) -> tuple[Tensor, LSTMState]:
        _, _, w_hh, b_hh, w_hr = w
        h, c = state
        h_in = h if recurrent_mask is None else h * recurrent_mask
        gates = xp_t + torch.nn.functional.linear(h_in, w_hh, b_hh)
        i, f, g, o = gates.chunk(4, dim=-1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        if w_hr is not None:
            h = h @ w_hr.t()
        return h, LSTMState(h, c)

    def extra_repr(self) -> str:
        proj = f", proj_size={self.proj_size}" if self.proj_size else ""
        return super().extra_repr() + proj

    # -- fused BPTT kernel ------------------------------------------------
    def fused_forward(self, xp: Tensor, state0: tuple[Tensor, ...], w_hh: Tensor, b_hh: Tensor | None,
                      w_hr: Tensor | None, batch_sizes: list[int] | None, lengths: Tensor | None,
                      noise: StepNoise | None = None):
        """``xp (T, B, 4H)``, ``(h0 (B, O), c0 (B, H))`` -> ``out (T, B, O)``, ``(h_n, c_n)``, saved.

        saved: ``gates (T, B, 4H)``, ``cs``, ``tanh(cs)`` and, with a projection, ``M (T, B, H)``
        (without one ``M`` is ``out`` itself). With zoneout ``cs`` holds the zoned cells and
        ``tanh`` is of the cell's own new value ``C̃_t`` (Krueger et al.: ``M_t = o ⊙ tanh C̃_t``);
        without a projection ``M`` is then kept separately from the zoned ``out``.
        """
        h0, c0 = state0
        if w_hr is None and compiled.usable(xp):   # the same loop in C++
            gates = xp if b_hh is None else xp.add_(b_hh)
            rec_mask = noise.recurrent if noise is not None else None
            zh, zc = noise.zoneout if noise is not None and noise.zoneout is not None else (None, None)
            out, cs, tcs, ms = compiled.ops().lstm_forward(gates, h0, c0, w_hh, rec_mask, zh, zc, None,
                                                           batch_sizes or [])
            saved = (gates, cs, tcs) + (() if zh is None else (ms,))
            return out, (last_valid(out, lengths), last_valid(cs, lengths)), saved
        T, B, G = xp.shape
        H = G // 4
        padded = batch_sizes is not None
        # The gates are computed in place in the projection buffer (ours, not the caller's):
        # no per-step copy, no second (T, B, 4H) buffer. One sigmoid covers all four gates:
        # the g block is pre-scaled by 2 and g = tanh(a) = 2σ(2a) - 1 (an elementwise op on a
        # strided gate slice costs 2-3x one on the whole contiguous row, and tanh > sigmoid).
        gates = xp if b_hh is None else xp.add_(b_hh)
        gates[..., 2 * H: 3 * H].mul_(2)
        w_t = w_hh.t().clone()
        w_t[:, 2 * H: 3 * H].mul_(2)
        cs = new_buffer(xp, (T, B, H), padded)
        tcs = new_buffer(xp, (T, B, H), padded)
        ms = new_buffer(xp, (T, B, H), padded)
        out = new_buffer(xp, (T, B, w_hr.shape[0]), padded) if w_hr is not None else ms
        w_rt = w_hr.t() if w_hr is not None else None
        V = lambda buf: step_views(buf, batch_sizes)  # noqa: E731
        zone = noise.zoneout if noise is not None else None
        rec = rows(noise.recurrent, batch_sizes, T) if noise is not None and noise.recurrent is not None else None
        if zone is not None and w_hr is None:
            out = new_buffer(xp, (T, B, H), padded)       # the zoned H_t; ms keeps M_t
        gs, c_now, tc, m, hs = V(gates), V(cs), V(tcs), V(ms), V(out)
        i_, f_, s_g, o_ = (V(gates[..., k * H: (k + 1) * H]) for k in range(4))
        hp, cp = prev_views(out, h0, batch_sizes), prev_views(cs, c0, batch_sizes)
        if zone is not None:
            zh, zc = V(zone[0]), V(zone[1])
            c_new = xp.new_empty(B, H)
            cn = rows(c_new, batch_sizes, T)
        for t in range(T):
            gs[t].addmm_(hp[t] if rec is None else hp[t] * rec[t], w_t).sigmoid_()
            c_t = c_now[t] if zone is None else cn[t]
            torch.mul(f_[t], cp[t], out=c_t)
            c_t.addcmul_(i_[t], s_g[t], value=2).sub_(i_[t])    # C = f C + i (2σ(2a) - 1)
            torch.tanh(c_t, out=tc[t])
            torch.mul(o_[t], tc[t], out=m[t])
            if w_rt is not None:
                torch.mm(m[t], w_rt, out=hs[t])
            if zone is not None:
                torch.lerp(c_t, cp[t], zc[t], out=c_now[t])    # C_t = Z ⊙ C_{t-1} + (1 - Z) ⊙ C̃_t
                torch.lerp(hs[t] if w_rt is not None else m[t], hp[t], zh[t], out=hs[t])
        gates[..., 2 * H: 3 * H].mul_(2).sub_(1)   # saved as g itself: the backward reads tanh(a)
        finals = (last_valid(out, lengths), last_valid(cs, lengths))
        keep_m = w_hr is not None or zone is not None
        return out, finals, (gates, cs, tcs) + ((ms,) if keep_m else ())

    def fused_backward(self, saved: tuple, out: Tensor, state0: tuple[Tensor, ...], dout: Tensor,
                       dfinal: tuple[Tensor | None, ...], w_hh: Tensor, w_hr: Tensor | None,
                       batch_sizes: list[int] | None, noise: StepNoise | None = None):
        """-> ``dXP (T, B, 4H)``, ``dW_hh``, ``db_hh``, ``(dh0, dc0)``, ``dW_hr``.

        With zoneout, ``dH_t`` splits into ``Z ⊙ dH_t`` carried straight to ``H_{t-1}`` and
        ``(1 - Z) ⊙ dH_t`` into the step (the same for ``C``); with recurrent dropout
        ``dH_{t-1} = (d[i f g o] W_hh) ⊙ M`` and ``dW_hh = Σ d[i f g o]^T (H_{t-1} ⊙ M)``.
        """
        gates, cs, tcs = saved[:3]
        ms = saved[3] if len(saved) > 3 else out
        zone = noise.zoneout if noise is not None else None
        rec_mask = noise.recurrent if noise is not None else None
        h0, c0 = state0
        T, B, G = gates.shape
        H, O = G // 4, out.shape[-1]
        padded = batch_sizes is not None
        if w_hr is None and compiled.usable(gates):   # the same loop in C++
            dh = dfinal[0].clone() if dfinal[0] is not None else out.new_zeros(B, O)
            dc = dfinal[1].clone() if dfinal[1] is not None else out.new_zeros(B, H)
            dh, dc = dh.contiguous(), dc.contiguous()   # updated in place to the gradients of (h0, c0)
            zh, zc = zone if zone is not None else (None, None)
            dgates = compiled.ops().lstm_backward(gates, cs, tcs, c0, dout, dh, dc, w_hh, rec_mask, zh, zc, None,
                                                  batch_sizes or [])
            dw_hh = recurrent_weight_grad(dgates, out, h0, rec_mask)
            return dgates, dw_hh, dgates.reshape(T * B, G).sum(0), (dh, dc), None
        i, f, g, o = gates.view(T, B, 4, H).unbind(2)
        # everything that does not depend on the carried gradient, for all steps at once,
        # in as few full-size passes as possible (x(1-x) = x - x·x as one addcmul)
        k_o = torch.addcmul(o, o, o, value=-1).mul_(tcs)                 # do = dM ⊙ k_o
        k_c = torch.addcmul(o, o * tcs, tcs, value=-1)                   # dC += dM ⊙ k_c
        k_ifg = gates.new_empty(T, B, 3, H)                              # [di df dg] = dC ⊙ k_ifg
        torch.mul(torch.addcmul(i, i, i, value=-1), g, out=k_ifg[:, :, 0])
        torch.mul(torch.addcmul(f, f, f, value=-1), previous(cs, c0), out=k_ifg[:, :, 1])
        torch.addcmul(i, i * g, g, value=-1, out=k_ifg[:, :, 2])
        dgates = new_buffer(gates, (T, B, G), padded)
        dh = dfinal[0].clone() if dfinal[0] is not None else out.new_zeros(B, O)
        dc = dfinal[1].clone() if dfinal[1] is not None else out.new_zeros(B, H)
        dhs, dcs = rows(dh, batch_sizes, T), rows(dc, batch_sizes, T)
        dc3 = rows(dc.unsqueeze(1), batch_sizes, T)
        V = lambda buf: step_views(buf, batch_sizes)  # noqa: E731
        dos, kos, kcs, kifg, fs = V(dout), V(k_o), V(k_c), V(k_ifg), V(f)
        dg_all = V(dgates)
        dg_o = V(dgates[..., 3 * H:])
        dg_ifg = V(dgates[..., : 3 * H].view(T, B, 3, H))
        if w_hr is not None:
            dh_total = new_buffer(out, (T, B, O), padded)   # kept for dW_hr
            dht = V(dh_total)
            dm_buf = out.new_empty(B, H)
            dms = rows(dm_buf, batch_sizes, T)
        if zone is not None:
            zh, zc = V(zone[0]), V(zone[1])
            kh, kc_ = V(1 - zone[0]), V(1 - zone[1])
            dh_skip, dc_skip = out.new_empty(B, O), out.new_empty(B, H)
            dhk, dck = rows(dh_skip, batch_sizes, T), rows(dc_skip, batch_sizes, T)
        rec = rows(rec_mask, batch_sizes, T) if rec_mask is not None else None
        for t in range(T - 1, -1, -1):
            if zone is not None:
                dhs[t].add_(dos[t])
                torch.mul(dhs[t], zh[t], out=dhk[t])       # straight to H_{t-1}
                torch.mul(dcs[t], zc[t], out=dck[t])       # straight to C_{t-1}
                dcs[t].mul_(kc_[t])
            if w_hr is not None:
                if zone is None:
                    torch.add(dhs[t], dos[t], out=dht[t])
                else:
                    torch.mul(dhs[t], kh[t], out=dht[t])
                dm = dms[t]
                torch.mm(dht[t], w_hr, out=dm)
            else:
                dm = dhs[t]
                if zone is None:
                    dm.add_(dos[t])
                else:
                    dm.mul_(kh[t])
            dcs[t].addcmul_(dm, kcs[t])
            torch.mul(dm, kos[t], out=dg_o[t])
            torch.mul(dc3[t], kifg[t], out=dg_ifg[t])
            dcs[t].mul_(fs[t])
            torch.mm(dg_all[t], w_hh, out=dhs[t])
            if rec is not None:
                dhs[t].mul_(rec[t])
            if zone is not None:
                dcs[t].add_(dck[t])
                dhs[t].add_(dhk[t])
        flat = dgates.reshape(T * B, G)
        dw_hh = recurrent_weight_grad(dgates, out, h0, rec_mask)
        dw_hr = None
        if w_hr is not None:
            dw_hr = dh_total.reshape(T * B, O).t().mm(ms.reshape(T * B, H))
        return dgates, dw_hh, flat.sum(0), (dh, dc), dw_hr
