"""GRU cell (Cho et al. 2014), torch.nn.GRU / cuDNN layout: reset applied after the matmul.

Gate order in the stacked weights: **r, z, n** (reset, update, new)::

    [xr xz xn] = X_t W_ih^T + b_ih,    [hr hz hn] = H_{t-1} W_hh^T + b_hh     (B, 3H)
    r   = σ(xr + hr)
    z   = σ(xz + hz)
    n   = tanh(xn + r ⊙ hn)              # r multiplies W_hn H_{t-1} + b_hn (cuDNN variant)
    H_t = (1 - z) ⊙ n + z ⊙ H_{t-1}

Parameters (as ``torch.nn.GRUCell``): ``weight_ih (3H, I)``, ``weight_hh (3H, H)``,
``bias_ih (3H,)``, ``bias_hh (3H,)``. State: ``h (B, H)``.

Backward of one step (BPTT), ``dH_t`` the total gradient reaching ``H_t``::

    dn_pre = dH_t ⊙ (1 - z) ⊙ (1 - n²)          (the gradient of xn)
    dz_pre = dH_t ⊙ (H_{t-1} - n) ⊙ z(1-z)
    dr_pre = dn_pre ⊙ hn ⊙ r(1-r)
    d[hr hz hn] = [dr_pre, dz_pre, dn_pre ⊙ r];   d[xr xz xn] = [dr_pre, dz_pre, dn_pre]
    dH_{t-1} = dH_t ⊙ z + d[hr hz hn] W_hh
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from rnnkit.backends import compiled
from rnnkit.cells._buffers import last_valid, new_buffer, prev_views, previous, recurrent_weight_grad, rows, step_views
from rnnkit.cells.base import Cell, make_params
from rnnkit.cells.noise import StepNoise


class GRUCell(Cell, nn.GRUCell):
    """GRU cell with gates r, z, n, reset applied after the recurrent matmul; drop-in for ``torch.nn.GRUCell``.

    ``GRUCell(input_size, hidden_size, bias=True, device=None, dtype=None)``, torch's order;
    ``cell(input (B, I) or (I,), hx=None) -> h (B, H)``. An instance of ``torch.nn.GRUCell``
    (for ``isinstance``); parameters, forward and checks are rnnkit's (:class:`Cell`).

    Args:
        input_size: ``I``. hidden_size: ``H``. bias: use ``b_ih`` and ``b_hh``.
        create_parameters: ``False`` for the shared definition inside a layer
            that keeps the weights itself under torch.nn's names.
    """

    gates = 3
    fused_kind = "gru"

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 device: Any = None, dtype: Any = None, *, create_parameters: bool = True) -> None:
        super().__init__()
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        if create_parameters:
            make_params(self, self.parameter_shapes(), {"device": device, "dtype": dtype})
            self.reset_parameters()

    def parameter_shapes(self) -> dict[str, tuple[int, ...]]:
        H, I = self.hidden_size, self.input_size
        shapes = {"weight_ih": (3 * H, I), "weight_hh": (3 * H, H)}
        if self.bias:
            shapes.update(bias_ih=(3 * H,), bias_hh=(3 * H,))
        return shapes

    def step_with(self, w: tuple, xp_t: Tensor, h: Tensor,
                  recurrent_mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
        _, _, w_hh, b_hh = w
        hp = torch.nn.functional.linear(h if recurrent_mask is None else h * recurrent_mask, w_hh, b_hh)
        xr, xz, xn = xp_t.chunk(3, dim=-1)
        hr, hz, hn = hp.chunk(3, dim=-1)
        r = torch.sigmoid(xr + hr)
        z = torch.sigmoid(xz + hz)
        n = torch.tanh(xn + r * hn)
        h = n + z * (h - n)
        return h, h

    # -- fused BPTT kernel ------------------------------------------------
    def fused_forward(self, xp: Tensor, state0: tuple[Tensor, ...], w_hh: Tensor, b_hh: Tensor | None,
                      extra: Tensor | None, batch_sizes: list[int] | None, lengths: Tensor | None,
                      noise: StepNoise | None = None):
        """``xp (T, B, 3H)``, ``h0 (B, H)`` -> ``out (T, B, H)``, ``(h_n,)``, ``(hps, rzn)`` (both ``(T, B, 3H)``).

        With zoneout ``out`` holds the zoned ``H_t = Z ⊙ H_{t-1} + (1 - Z) ⊙ H̃_t``; with recurrent
        dropout the matmul reads ``H_{t-1} ⊙ M``.
        """
        (h0,) = state0
        T, B, G = xp.shape
        H = G // 3
        padded = batch_sizes is not None
        if compiled.usable(xp):   # the same loop in C++
            hps = xp.new_zeros(T, B, G) if padded else xp.new_empty(T, B, G)   # every row written unless padded
            rec_mask = noise.recurrent if noise is not None else None
            zone = noise.zoneout[0] if noise is not None and noise.zoneout is not None else None
            out = compiled.ops().gru_forward(xp, hps, h0, w_hh, b_hh, rec_mask, batch_sizes or [], zone)
            return out, (last_valid(out, lengths),), (hps, xp)
        # H_{t-1} W_hh^T + b_hh, kept whole: hn is needed again in the backward
        hps = xp.new_empty(T, B, G)
        if b_hh is None:
            hps.zero_()
        else:
            hps.copy_(b_hh.expand(T, B, G))  # the bias lands once; each step adds its matmul in place
        rzn = xp  # activated gates, computed in place in our own projection buffer
        out = new_buffer(xp, (T, B, H), padded)
        w_t = w_hh.t()
        V = lambda buf: step_views(buf, batch_sizes)  # noqa: E731
        hp, rz, n = V(hps), V(rzn[..., : 2 * H]), V(rzn[..., 2 * H:])
        h_rz, h_n = V(hps[..., : 2 * H]), V(hps[..., 2 * H:])
        r, z = V(rzn[..., :H]), V(rzn[..., H: 2 * H])
        hs, hprev = V(out), prev_views(out, h0, batch_sizes)
        rec = rows(noise.recurrent, batch_sizes, T) if noise is not None and noise.recurrent is not None else None
        zh = V(noise.zoneout[0]) if noise is not None and noise.zoneout is not None else None
        for t in range(T):
            hp[t].addmm_(hprev[t] if rec is None else hprev[t] * rec[t], w_t)
            rz[t].add_(h_rz[t]).sigmoid_()
            n[t].addcmul_(r[t], h_n[t]).tanh_()
            torch.lerp(n[t], hprev[t], z[t], out=hs[t])   # n + z ⊙ (H_{t-1} - n)
            if zh is not None:
                torch.lerp(hs[t], hprev[t], zh[t], out=hs[t])
        return out, (last_valid(out, lengths),), (hps, rzn)

    def fused_backward(self, saved: tuple, out: Tensor, state0: tuple[Tensor, ...], dout: Tensor,
                       dfinal: tuple[Tensor | None, ...], w_hh: Tensor, extra: Tensor | None,
                       batch_sizes: list[int] | None, noise: StepNoise | None = None):
        """-> ``dXP (T, B, 3H)``, ``dW_hh``, ``db_hh``, ``(dh0,)``, ``None``.

        Zoneout: ``Z ⊙ dH_t`` goes straight to ``H_{t-1}``, ``(1 - Z) ⊙ dH_t`` into the step;
        recurrent dropout: the matmul's share of ``dH_{t-1}`` is multiplied by ``M``.
        """
        hps, rzn = saved
        rec_mask = noise.recurrent if noise is not None else None
        zone = noise.zoneout[0] if noise is not None and noise.zoneout is not None else None
        (h0,) = state0
        T, B, G = rzn.shape
        H = G // 3
        padded = batch_sizes is not None
        if compiled.usable(rzn):   # the same loop in C++
            dh = dfinal[0].clone() if dfinal[0] is not None else out.new_zeros(B, H)
            dh = dh.contiguous()
            dxp, dhp = compiled.ops().gru_backward(rzn, hps, out, h0, dout, dh, w_hh, rec_mask, batch_sizes or [],
                                                   zone)
            dw_hh = recurrent_weight_grad(dhp, out, h0, rec_mask)
            return dxp, dw_hh, dhp.reshape(T * B, G).sum(0), (dh,), None
        r, z, n = rzn.view(T, B, 3, H).unbind(2)
        hn = hps[..., 2 * H:]
        h_prev = previous(out, h0)
        # everything that does not depend on the carried gradient, for all steps at once
        k_n = (1 - z) * (1 - n * n)
        k_z = (h_prev - n) * z * (1 - z)
        k_r = hn * r * (1 - r)
        dxp = new_buffer(out, (T, B, G), padded)    # [dr_pre, dz_pre, dn_pre]
        dhp = new_buffer(out, (T, B, G), padded)    # [dr_pre, dz_pre, dn_pre ⊙ r]
        dh = dfinal[0].clone() if dfinal[0] is not None else out.new_zeros(B, H)
        dhs = rows(dh, batch_sizes, T)
        V = lambda buf: step_views(buf, batch_sizes)  # noqa: E731
        dos, kns, kzs, krs, rs, zs = V(dout), V(k_n), V(k_z), V(k_r), V(r), V(z)
        dx_n, dh_all = V(dxp[..., 2 * H:]), V(dhp)
        dh_r, dh_z, dh_n = V(dhp[..., :H]), V(dhp[..., H: 2 * H]), V(dhp[..., 2 * H:])
        rec = rows(rec_mask, batch_sizes, T) if rec_mask is not None else None
        if zone is not None:
            zh, kh = V(zone), V(1 - zone)
            skip = out.new_empty(B, H)
            sk = rows(skip, batch_sizes, T)
        if rec is not None:
            mm_buf = out.new_empty(B, H)
            mmb = rows(mm_buf, batch_sizes, T)
        for t in range(T - 1, -1, -1):
            g = dhs[t]
            g.add_(dos[t])
            if zone is not None:
                torch.mul(g, zh[t], out=sk[t])
                g.mul_(kh[t])
            torch.mul(g, kns[t], out=dx_n[t])
            torch.mul(g, kzs[t], out=dh_z[t])
            torch.mul(dx_n[t], krs[t], out=dh_r[t])
            torch.mul(dx_n[t], rs[t], out=dh_n[t])
            g.mul_(zs[t])
            if rec is None:
                g.addmm_(dh_all[t], w_hh)
            else:
                torch.mm(dh_all[t], w_hh, out=mmb[t])
                g.addcmul_(mmb[t], rec[t])
            if zone is not None:
                g.add_(sk[t])
        dxp[..., : 2 * H] = dhp[..., : 2 * H]
        dw_hh = recurrent_weight_grad(dhp, out, h0, rec_mask)
        return dxp, dw_hh, dhp.reshape(T * B, G).sum(0), (dh,), None
