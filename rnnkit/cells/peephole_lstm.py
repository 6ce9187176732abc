"""LSTM with peephole connections (Gers & Schmidhuber 2000, "Recurrent nets that time and count";
Gers, Schraudolph & Schmidhuber 2002).

Gate order **i, f, g, o** as :class:`~rnnkit.cells.LSTMCell`; the input and forget gates look at the
previous cell state, the output gate at the new one, each through a diagonal weight::

    [a_i a_f a_g a_o] = X_t W_ih^T + b_ih + H_{t-1} W_hh^T + b_hh        (B, 4H)
    i = σ(a_i + p_i ⊙ C_{t-1});   f = σ(a_f + p_f ⊙ C_{t-1});   g = tanh(a_g)
    C_t = f ⊙ C_{t-1} + i ⊙ g
    o = σ(a_o + p_o ⊙ C_t);        H_t = o ⊙ tanh(C_t)                  (B, H)

Parameters: torch.nn.LSTMCell's ``weight_ih (4H, I)``, ``weight_hh (4H, H)``, ``bias_ih``, ``bias_hh``
``(4H,)``, plus ``weight_ch (3H,)`` = ``[p_i p_f p_o]`` (zero at init: the cell starts as a plain
LSTM). State: :class:`rnnkit.LSTMState` ``(h (B, H), c (B, H))``.

Backward of one step, with ``dH_t`` the total gradient reaching ``H_t`` and ``dC_t`` the carried one::

    do  = dH_t ⊙ tanh C_t ⊙ o(1-o)
    dC_t += dH_t ⊙ o ⊙ (1 - tanh²C_t) + do ⊙ p_o
    di  = dC_t ⊙ g ⊙ i(1-i);   df = dC_t ⊙ C_{t-1} ⊙ f(1-f);   dg = dC_t ⊙ i ⊙ (1-g²)
    dC_{t-1} = dC_t ⊙ f + di ⊙ p_i + df ⊙ p_f;      dH_{t-1} = [di df dg do] W_hh
    dp_i = Σ di ⊙ C_{t-1};   dp_f = Σ df ⊙ C_{t-1};   dp_o = Σ do ⊙ C_t

With zoneout the peepholes of i and f read the zoned ``C_{t-1}``, the output gate the step's own new
cell ``C̃_t`` (which ``tanh`` also reads, as for the LSTM); recurrent dropout masks ``H_{t-1}`` before
``W_hh`` only.
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


class PeepholeLSTMCell(Cell):
    """LSTM cell with peephole connections ``p_i, p_f`` (on ``C_{t-1}``) and ``p_o`` (on ``C_t``).

    ``PeepholeLSTMCell(input_size, hidden_size, bias=True, device=None, dtype=None)``;
    ``cell(input (B, I) or (I,), hx=None) -> LSTMState(h (B, H), c (B, H))``.

    Args:
        input_size: ``I``. hidden_size: ``H``. bias: use ``b_ih`` and ``b_hh``.
        create_parameters: ``False`` for a definition without parameters of its own.
    """

    gates = 4
    fused_kind = "peephole"
    #: the fused backward's gradient of b_hh is also b_ih's (both are added to the same gates)
    shared_bias_grad = True
    weight_names = ("weight_ih", "bias_ih", "weight_hh", "bias_hh", "weight_ch")

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device: Any = None,
                 dtype: Any = None, *, create_parameters: bool = True) -> None:
        super().__init__()
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        if create_parameters:
            make_params(self, self.parameter_shapes(), {"device": device, "dtype": dtype})
            self.reset_parameters()

    def parameter_shapes(self) -> dict[str, tuple[int, ...]]:
        H, I = self.hidden_size, self.input_size
        shapes = {"weight_ih": (4 * H, I), "weight_hh": (4 * H, H), "weight_ch": (3 * H,)}
        if self.bias:
            shapes.update(bias_ih=(4 * H,), bias_hh=(4 * H,))
        return shapes

    def reset_parameters(self) -> None:
        """torch.nn's LSTM init (uniform ``±1/sqrt(H)``) for the LSTM's weights, zero peepholes."""
        super().reset_parameters()
        nn.init.zeros_(self.weight_ch)

    def initial_state(self, batch: int, *, dtype: torch.dtype | None = None, device: Any = None) -> LSTMState:
        return LSTMState(torch.zeros(batch, self.hidden_size, dtype=dtype, device=device),
                         torch.zeros(batch, self.hidden_size, dtype=dtype, device=device))

    def step_with(self, w: tuple, xp_t: Tensor, state: tuple[Tensor, Tensor],
                  recurrent_mask: Tensor | None = None) -> tuple[Tensor, LSTMState]:
        _, _, w_hh, b_hh, p = w
        h, c = state
        p_i, p_f, p_o = p.chunk(3)
        a = xp_t + torch.nn.functional.linear(h if recurrent_mask is None else h * recurrent_mask, w_hh, b_hh)
        a_i, a_f, a_g, a_o = a.chunk(4, dim=-1)
        c = torch.sigmoid(a_f + p_f * c) * c + torch.sigmoid(a_i + p_i * c) * torch.tanh(a_g)
        h = torch.sigmoid(a_o + p_o * c) * torch.tanh(c)
        return h, LSTMState(h, c)

    # -- fused BPTT kernel ------------------------------------------------
    def fused_forward(self, xp: Tensor, state0: tuple[Tensor, ...], w_hh: Tensor, b_hh: Tensor | None,
                      p: Tensor, batch_sizes: list[int] | None, lengths: Tensor | None,
                      noise: StepNoise | None = None):
        """``xp (T, B, 4H)`` (ours, overwritten), ``(h0, c0)`` -> ``out (T, B, H)``, ``(h_n, c_n)``, saved:
        ``gates (T, B, 4H)`` (activated), ``cs`` (the carried cells), ``tanh C̃``, and with zoneout
        ``C̃`` and ``M = o ⊙ tanh C̃`` (the unzoned output)."""
        h0, c0 = state0
        T, B, G = xp.shape
        H = G // 4
        padded = batch_sizes is not None
        gates = xp if b_hh is None else xp.add_(b_hh)
        if (noise is None or noise.zoneout is None) and compiled.usable(xp):   # the same loop in C++
            rec_mask = noise.recurrent if noise is not None else None
            out, cs, tcs, _ = compiled.ops().lstm_forward(gates, h0, c0, w_hh, rec_mask, None, None, p,
                                                          batch_sizes or [])
            return out, (last_valid(out, lengths), last_valid(cs, lengths)), (gates, cs, tcs)
        # one sigmoid for i, f and g: the g block pre-scaled by 2, g = tanh(a) = 2σ(2a) - 1
        gates[..., 2 * H: 3 * H].mul_(2)
        w_t = w_hh.t().clone()
        w_t[:, 2 * H: 3 * H].mul_(2)
        p_if, p_o = p[: 2 * H].view(2, H), p[2 * H:]
        zone = noise.zoneout if noise is not None else None
        cs = new_buffer(xp, (T, B, H), padded)
        c_raw = cs if zone is None else new_buffer(xp, (T, B, H), padded)
        tcs = new_buffer(xp, (T, B, H), padded)
        ms = new_buffer(xp, (T, B, H), padded)
        out = ms if zone is None else new_buffer(xp, (T, B, H), padded)
        rec = rows(noise.recurrent, batch_sizes, T) if noise is not None and noise.recurrent is not None else None
        V = lambda buf: step_views(buf, batch_sizes)  # noqa: E731
        gs, c_now, cr, tc, m, hs = V(gates), V(cs), V(c_raw), V(tcs), V(ms), V(out)
        g4 = gates.view(T, B, 4, H)
        gif, g3 = V(g4[:, :, :2]), V(gates[..., : 3 * H])
        i_, f_, s_g, o_ = (V(gates[..., k * H: (k + 1) * H]) for k in range(4))
        hp, cp = prev_views(out, h0, batch_sizes), prev_views(cs, c0, batch_sizes)
        if zone is not None:
            zh, zc = V(zone[0]), V(zone[1])
        for t in range(T):
            gs[t].addmm_(hp[t] if rec is None else hp[t] * rec[t], w_t)
            gif[t].addcmul_(cp[t].unsqueeze(1), p_if)
            g3[t].sigmoid_()
            torch.mul(f_[t], cp[t], out=cr[t])
            cr[t].addcmul_(i_[t], s_g[t], value=2).sub_(i_[t])    # C̃ = f C + i (2σ(2a) - 1)
            o_[t].addcmul_(cr[t], p_o).sigmoid_()
            torch.tanh(cr[t], out=tc[t])
            torch.mul(o_[t], tc[t], out=m[t])
            if zone is not None:
                torch.lerp(cr[t], cp[t], zc[t], out=c_now[t])
                torch.lerp(m[t], hp[t], zh[t], out=hs[t])
        gates[..., 2 * H: 3 * H].mul_(2).sub_(1)   # saved as g itself
        finals = (last_valid(out, lengths), last_valid(cs, lengths))
        return out, finals, (gates, cs, tcs) + (() if zone is None else (c_raw, ms))

    def fused_backward(self, saved: tuple, out: Tensor, state0: tuple[Tensor, ...], dout: Tensor,
                       dfinal: tuple[Tensor | None, ...], w_hh: Tensor, p: Tensor,
                       batch_sizes: list[int] | None, noise: StepNoise | None = None):
        """-> ``dXP (T, B, 4H)``, ``dW_hh``, ``db_hh``, ``(dh0, dc0)``, ``d[p_i p_f p_o]``."""
        gates, cs, tcs = saved[:3]
        c_raw = saved[3] if len(saved) > 3 else cs
        zone = noise.zoneout if noise is not None else None
        rec_mask = noise.recurrent if noise is not None else None
        h0, c0 = state0
        T, B, G = gates.shape
        H = G // 4
        padded = batch_sizes is not None
        p_o = p[2 * H:]
        c_prev = previous(cs, c0)
        if zone is None and compiled.usable(gates):   # the same loop in C++
            dh = (dfinal[0].clone() if dfinal[0] is not None else out.new_zeros(B, H)).contiguous()
            dc = (dfinal[1].clone() if dfinal[1] is not None else out.new_zeros(B, H)).contiguous()
            dgates = compiled.ops().lstm_backward(gates, cs, tcs, c0, dout, dh, dc, w_hh, rec_mask, None, None, p,
                                                  batch_sizes or [])
            return (dgates, recurrent_weight_grad(dgates, out, h0, rec_mask), dgates.reshape(T * B, G).sum(0),
                    (dh, dc), _peephole_grads(dgates, c_prev, c_raw))
        i, f, g, o = gates.view(T, B, 4, H).unbind(2)
        k_o = torch.addcmul(o, o, o, value=-1).mul_(tcs)                 # do = dH ⊙ k_o
        k_c = torch.addcmul(o, o * tcs, tcs, value=-1)                   # dC += dH ⊙ k_c (+ do ⊙ p_o)
        k_ifg = gates.new_empty(T, B, 3, H)                              # [di df dg] = dC ⊙ k_ifg
        torch.mul(torch.addcmul(i, i, i, value=-1), g, out=k_ifg[:, :, 0])
        torch.mul(torch.addcmul(f, f, f, value=-1), c_prev, out=k_ifg[:, :, 1])
        torch.addcmul(i, i * g, g, value=-1, out=k_ifg[:, :, 2])
        dgates = new_buffer(gates, (T, B, G), padded)
        dh = dfinal[0].clone() if dfinal[0] is not None else out.new_zeros(B, H)
        dc = dfinal[1].clone() if dfinal[1] is not None else out.new_zeros(B, H)
        dhs, dcs = rows(dh, batch_sizes, T), rows(dc, batch_sizes, T)
        dc3 = rows(dc.unsqueeze(1), batch_sizes, T)
        V = lambda buf: step_views(buf, batch_sizes)  # noqa: E731
        dos, kos, kcs, kifg, fs = V(dout), V(k_o), V(k_c), V(k_ifg), V(f)
        dg_all, dg_o = V(dgates), V(dgates[..., 3 * H:])
        dg_ifg = V(dgates[..., : 3 * H].view(T, B, 3, H))
        dg_i, dg_f = V(dgates[..., :H]), V(dgates[..., H: 2 * H])
        p_i, p_f = p[:H], p[H: 2 * H]
        if zone is not None:
            zh, zc = V(zone[0]), V(zone[1])
            kh, kc_ = V(1 - zone[0]), V(1 - zone[1])
            dh_skip, dc_skip = out.new_empty(B, H), out.new_empty(B, H)
            dhk, dck = rows(dh_skip, batch_sizes, T), rows(dc_skip, batch_sizes, T)
        rec = rows(rec_mask, batch_sizes, T) if rec_mask is not None else None
        for t in range(T - 1, -1, -1):
            dm = dhs[t]
            dm.add_(dos[t])
            if zone is not None:
                torch.mul(dm, zh[t], out=dhk[t])       # straight to H_{t-1}
                torch.mul(dcs[t], zc[t], out=dck[t])   # straight to C_{t-1}
                dcs[t].mul_(kc_[t])
                dm.mul_(kh[t])
            torch.mul(dm, kos[t], out=dg_o[t])
            dcs[t].addcmul_(dm, kcs[t]).addcmul_(dg_o[t], p_o)
            torch.mul(dc3[t], kifg[t], out=dg_ifg[t])
            dcs[t].mul_(fs[t])
            dcs[t].addcmul_(dg_i[t], p_i).addcmul_(dg_f[t], p_f)   # the peepholes' path to C_{t-1}
            torch.mm(dg_all[t], w_hh, out=dhs[t])
            if rec is not None:
                dhs[t].mul_(rec[t])
            if zone is not None:
                dcs[t].add_(dck[t])
                dhs[t].add_(dhk[t])
        return (dgates, recurrent_weight_grad(dgates, out, h0, rec_mask), dgates.reshape(T * B, G).sum(0),
                (dh, dc), _peephole_grads(dgates, c_prev, c_raw))


def _peephole_grads(dgates: Tensor, c_prev: Tensor, c_new: Tensor) -> Tensor:
    """``d[p_i p_f p_o]``: ``Σ di ⊙ C_{t-1}``, ``Σ df ⊙ C_{t-1}``, ``Σ do ⊙ C̃_t``."""
    T, B, G = dgates.shape
    H = G // 4
    d4 = dgates.view(T, B, 4, H)
    return torch.cat([(d4[:, :, 0] * c_prev).reshape(-1, H).sum(0), (d4[:, :, 1] * c_prev).reshape(-1, H).sum(0),
                      (d4[:, :, 3] * c_new).reshape(-1, H).sum(0)])
