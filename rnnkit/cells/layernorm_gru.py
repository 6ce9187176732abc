"""Layer-normalised GRU cell (Ba, Kiros & Hinton 2016, "Layer Normalization"; the layout of haste's
LayerNormGRU).

Gate order **r, z, n** as :class:`~rnnkit.cells.GRUCell` (reset applied after the recurrent matmul).
Layer norm on the input and the recurrent projections separately, each over its ``3H`` features::

    LN(a; γ)       = γ ⊙ (a - mean(a)) / sqrt(var(a) + ε)                     (over the last dimension)
    [xr xz xn]     = LN(X_t W_ih^T; γ_x) + b_ih                                 (B, 3H)
    [hr hz hn]     = LN(H_{t-1} W_hh^T; γ_h) + b_hh                             (B, 3H)
    r = σ(xr + hr);   z = σ(xz + hz);   n = tanh(xn + r ⊙ hn)
    H_t            = (1 - z) ⊙ n + z ⊙ H_{t-1}                                  (B, H)

Parameters: ``weight_ih (3H, I)``, ``weight_hh (3H, H)``, ``bias_ih (3H,)``, ``bias_hh (3H,)``,
``ln_ih_weight (3H,)`` (γ_x), ``ln_hh_weight (3H,)`` (γ_h). State: ``h (B, H)``.

The input side is computed for all steps at once and differentiated by autograd; the loop over time
and its backward are written out. Backward of one step, with ``A_t = H_{t-1} W_hh^T`` and
``Â_t = LN(A_t; γ_h) + b_hh``::

    dn_pre = dH_t ⊙ (1 - z) ⊙ (1 - n²);   dz_pre = dH_t ⊙ (H_{t-1} - n) ⊙ z(1-z)
    dr_pre = dn_pre ⊙ Ân ⊙ r(1-r)
    dÂ_t = [dr_pre, dz_pre, dn_pre ⊙ r];   d[xr xz xn] = [dr_pre, dz_pre, dn_pre]
    dA_t = LN_backward(dÂ_t; A_t, γ_h);      dH_{t-1} = dH_t ⊙ z + dA_t W_hh
    dW_hh = Σ dA_t^T H_{t-1};   dγ_h = Σ dÂ_t ⊙ (A_t normalised);   db_hh = Σ dÂ_t

(``LN_backward`` is torch's layer-norm backward kernel, one call per step, as in
:mod:`rnnkit.cells.layernorm_lstm`.) Recurrent dropout masks ``H_{t-1}`` before ``W_hh`` only (not
on the ``z ⊙ H_{t-1}`` path); zoneout carries ``Z ⊙ dH_t`` straight to ``H_{t-1}``.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from rnnkit.backends import compiled
from rnnkit.cells._buffers import last_valid, new_buffer, prev_views, previous, recurrent_weight_grad, rows, step_views
from rnnkit.cells.base import Cell, make_params
from rnnkit.cells.layernorm_lstm import EPS, _ln_backward, _stats
from rnnkit.cells.noise import StepNoise


class LayerNormGRUCell(Cell):
    """GRU cell with layer norm on the input and the recurrent projections.

    ``LayerNormGRUCell(input_size, hidden_size, bias=True, device=None, dtype=None)``;
    ``cell(input (B, I) or (I,), hx=None) -> h (B, H)``.

    Args:
        input_size: ``I``. hidden_size: ``H``. bias: use ``b_ih`` and ``b_hh``.
        create_parameters: ``False`` for a definition without parameters of its own.
    """

    gates = 3
    fused_kind = "lngru"
    weight_names = ("weight_ih", "bias_ih", "weight_hh", "bias_hh", "ln_ih_weight", "ln_hh_weight")

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device: Any = None,
                 dtype: Any = None, *, create_parameters: bool = True) -> None:
        super().__init__()
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        if create_parameters:
            make_params(self, self.parameter_shapes(), {"device": device, "dtype": dtype})
            self.reset_parameters()

    def parameter_shapes(self) -> dict[str, tuple[int, ...]]:
        H, I = self.hidden_size, self.input_size
        shapes = {"weight_ih": (3 * H, I), "weight_hh": (3 * H, H), "ln_ih_weight": (3 * H,),
                  "ln_hh_weight": (3 * H,)}
        if self.bias:
            shapes.update(bias_ih=(3 * H,), bias_hh=(3 * H,))
        return shapes

    def reset_parameters(self) -> None:
        """Weights as torch.nn's GRU (uniform ``±1/sqrt(H)``); gains 1, biases 0 (layer norm's own init)."""
        bound = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0.0
        nn.init.uniform_(self.weight_ih, -bound, bound)
        nn.init.uniform_(self.weight_hh, -bound, bound)
        nn.init.ones_(self.ln_ih_weight)
        nn.init.ones_(self.ln_hh_weight)
        for name in ("bias_ih", "bias_hh"):
            if getattr(self, name) is not None:
                nn.init.zeros_(getattr(self, name))

    # -- autograd equations (reference backend, standalone use) -------------
    def project_with(self, w: tuple, x: Tensor) -> Tensor:
        w_ih, b_ih, _, _, g_x, _ = w
        # b_ih as the layer norm's shift: LN(.; γ_x) + b_ih in one pass
        return torch.nn.functional.layer_norm(torch.nn.functional.linear(x, w_ih), (w_ih.shape[0],), g_x, b_ih, EPS)

    def step_with(self, w: tuple, xp_t: Tensor, h: Tensor,
                  recurrent_mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
        return self.step_projected(w[2], self.fused_weights(w)[4], xp_t, h, recurrent_mask)

    def step_projected(self, w_hh: Tensor, extra: Tensor, xp_t: Tensor, h: Tensor,
                       recurrent_mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """One step from the input projection ``xp_t``, ``extra = [γ_h b_hh]`` as :meth:`fused_weights`."""
        G = w_hh.shape[0]
        h_in = h if recurrent_mask is None else h * recurrent_mask
        hp = torch.nn.functional.layer_norm(h_in @ w_hh.t(), (G,), extra[:G], extra[G:], EPS)
        xr, xz, xn = xp_t.chunk(3, dim=-1)
        hr, hz, hn = hp.chunk(3, dim=-1)
        r, z = torch.sigmoid(xr + hr), torch.sigmoid(xz + hz)
        n = torch.tanh(xn + r * hn)
        h = n + z * (h - n)
        return h, h

    # -- fused BPTT kernel ------------------------------------------------
    def fused_weights(self, w: tuple) -> tuple:
        """``(None, None, W_hh, None, [γ_h b_hh])``: the input side is done outside by autograd."""
        _, _, w_hh, b_hh, _, g_h = w
        return None, None, w_hh, None, torch.cat([g_h, b_hh if b_hh is not None else torch.zeros_like(g_h)])

    def fused_forward(self, xp: Tensor, state0: tuple[Tensor, ...], w_hh: Tensor, b_hh: Tensor | None,
                      extra: Tensor, batch_sizes: list[int] | None, lengths: Tensor | None,
                      noise: StepNoise | None = None):
        """``xp (T, B, 3H)`` (the input side, ours to overwrite), ``h0`` -> ``out (T, B, H)``, ``(h_n,)``,
        saved: ``gates`` ``[r z n] (T, B, 3H)``, ``A`` and ``Â`` ``(T, B, 3H)``, with zoneout ``H̃``."""
        (h0,) = state0
        T, B, G = xp.shape
        H = G // 3
        padded = batch_sizes is not None
        if (noise is None or noise.zoneout is None) and compiled.usable(xp):   # the same loop in C++
            rec_mask = noise.recurrent if noise is not None else None
            out, A, Ah = compiled.ops().lngru_forward(xp, h0, w_hh, extra, rec_mask, EPS, batch_sizes or [])
            return out, (last_valid(out, lengths),), (xp, A, Ah)
        g_h, b = extra[:G], extra[G:]
        w_t = w_hh.t()
        A = new_buffer(xp, (T, B, G), padded)
        Ah = new_buffer(xp, (T, B, G), padded)
        out = new_buffer(xp, (T, B, H), padded)
        zone = noise.zoneout[0] if noise is not None and noise.zoneout is not None else None
        raw = out if zone is None else new_buffer(xp, (T, B, H), padded)
        rec = rows(noise.recurrent, batch_sizes, T) if noise is not None and noise.recurrent is not None else None
        V = lambda buf: step_views(buf, batch_sizes)  # noqa: E731
        As, Ahs, hs, hr = V(A), V(Ah), V(out), V(raw)
        grz, r_, z_, n_ = V(xp[..., : 2 * H]), V(xp[..., :H]), V(xp[..., H: 2 * H]), V(xp[..., 2 * H:])
        ahrz, ahn = V(Ah[..., : 2 * H]), V(Ah[..., 2 * H:])
        hp = prev_views(out, h0, batch_sizes)
        zh = V(zone) if zone is not None else None
        shape_g = (G,)
        for t in range(T):
            torch.mm(hp[t] if rec is None else hp[t] * rec[t], w_t, out=As[t])
            Ahs[t].copy_(torch.native_layer_norm(As[t], shape_g, g_h, b, EPS)[0])
            grz[t].add_(ahrz[t]).sigmoid_()                      # r, z
            n_[t].addcmul_(r_[t], ahn[t]).tanh_()                # n = tanh(xn + r ⊙ hn)
            torch.sub(hp[t], n_[t], out=hr[t])
            hr[t].mul_(z_[t]).add_(n_[t])                        # H̃ = n + z (H_{t-1} - n)
            if zh is not None:
                torch.lerp(hr[t], hp[t], zh[t], out=hs[t])
        return out, (last_valid(out, lengths),), (xp, A, Ah) + (() if zone is None else (raw,))

    def fused_backward(self, saved: tuple, out: Tensor, state0: tuple[Tensor, ...], dout: Tensor,
                       dfinal: tuple[Tensor | None, ...], w_hh: Tensor, extra: Tensor,
                       batch_sizes: list[int] | None, noise: StepNoise | None = None):
        """-> ``dXP (T, B, 3H)``, ``dW_hh``, ``None``, ``(dh0,)``, ``d[γ_h b_hh]``."""
        gates, A, Ah = saved[:3]
        (h0,) = state0
        T, B, G = gates.shape
        H = G // 3
        padded = batch_sizes is not None
        g_h = extra[:G]
        zone = noise.zoneout[0] if noise is not None and noise.zoneout is not None else None
        rec_mask = noise.recurrent if noise is not None else None
        if zone is None and compiled.usable(gates):   # the same loop in C++
            dh = (dfinal[0].clone() if dfinal[0] is not None else out.new_zeros(B, H)).contiguous()
            dxp, dA, _, dgain = compiled.ops().lngru_backward(gates, A, Ah, out, h0, dout, dh, w_hh, extra, rec_mask,
                                                              EPS, batch_sizes or [])
            return (dxp, recurrent_weight_grad(dA, out, h0, rec_mask), None, (dh,),
                    dgain.to(gates.dtype))  # the gains' gradients, summed in the loop
        r, z, n = gates.view(T, B, 3, H).unbind(2)
        h_prev = previous(out, h0)
        # the step-independent factors, for all steps at once
        k_n = torch.addcmul(1 - z, (1 - z) * n, n, value=-1)       # dn_pre = dH ⊙ (1-z)(1-n²)
        k_z = (h_prev - n).mul_(torch.addcmul(z, z, z, value=-1))   # dz_pre = dH ⊙ (H_{t-1}-n) z(1-z)
        k_r = torch.addcmul(r, r, r, value=-1).mul_(Ah[..., 2 * H:])  # dr_pre = dn_pre ⊙ k_r
        if zone is not None:
            keep = 1 - zone
            k_n, k_z, k_z_skip = k_n * keep, k_z * keep, z * keep + zone   # dH_{t-1} gets dH ⊙ (z(1-Z) + Z)
        else:
            k_z_skip = z
        mean_a, rstd_a = _stats(A)
        dxp = new_buffer(gates, (T, B, G), padded)
        dAh = new_buffer(gates, (T, B, G), padded)
        dA = new_buffer(gates, (T, B, G), padded)
        dh = dfinal[0].clone() if dfinal[0] is not None else out.new_zeros(B, H)
        dhs = rows(dh, batch_sizes, T)
        V = lambda buf: step_views(buf, batch_sizes)  # noqa: E731
        dos, kns, kzs, krs, ks, rs = V(dout), V(k_n), V(k_z), V(k_r), V(k_z_skip), V(r)
        As, ma, ra = V(A), V(mean_a), V(rstd_a)
        dx_r, dx_z, dx_n = V(dxp[..., :H]), V(dxp[..., H: 2 * H]), V(dxp[..., 2 * H:])
        dah_rz, dah_n, dAhs, dAs = V(dAh[..., : 2 * H]), V(dAh[..., 2 * H:]), V(dAh), V(dA)
        dx_rz = V(dxp[..., : 2 * H])
        rec = rows(rec_mask, batch_sizes, T) if rec_mask is not None else None
        skip = out.new_empty(B, H)
        sk = rows(skip, batch_sizes, T)
        shape_g, mask1 = [G], [True, False, False]
        for t in range(T - 1, -1, -1):
            d = dhs[t]
            d.add_(dos[t])
            torch.mul(d, kns[t], out=dx_n[t])
            torch.mul(d, kzs[t], out=dx_z[t])
            torch.mul(dx_n[t], krs[t], out=dx_r[t])
            dah_rz[t].copy_(dx_rz[t])
            torch.mul(dx_n[t], rs[t], out=dah_n[t])
            torch.mul(d, ks[t], out=sk[t])
            dAs[t].copy_(_ln_backward(dAhs[t], As[t], shape_g, ma[t], ra[t], g_h, None, mask1)[0])
            torch.mm(dAs[t], w_hh, out=d)
            if rec is not None:
                d.mul_(rec[t])
            d.add_(sk[t])
        return dxp, recurrent_weight_grad(dA, out, h0, rec_mask), None, (dh,), _gain_grads(dAh, A, mean_a, rstd_a)


def _gain_grads(dAh: Tensor, A: Tensor, mean_a: Tensor, rstd_a: Tensor) -> Tensor:
    """``d[γ_h b_hh]``: ``Σ dÂ ⊙ (A normalised)``, ``Σ dÂ`` (``mean_a, rstd_a`` as :func:`_stats` gives them)."""
    G = A.shape[-1]
    a_hat = (A - mean_a).mul_(rstd_a)
    return torch.cat([(dAh * a_hat).reshape(-1, G).sum(0), dAh.reshape(-1, G).sum(0)])
