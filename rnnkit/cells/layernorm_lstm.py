"""Layer-normalised LSTM cell (Ba, Kiros & Hinton 2016, "Layer Normalization", section 3.1; as haste's).

Gate order **i, f, g, o** as :class:`~rnnkit.cells.LSTMCell`. Layer norm on the input and the
recurrent projections separately (each over its ``4H`` gate features) and on the cell state::

    LN(a; γ, β)  = γ ⊙ (a - mean(a)) / sqrt(var(a) + ε) + β          (over the last dimension)
    [i f g o]_t  = LN(X_t W_ih^T; γ_x) + LN(H_{t-1} W_hh^T; γ_h) + b   (B, 4H)
    i, f, o      = σ(i), σ(f), σ(o);   g = tanh(g)
    C_t          = f ⊙ C_{t-1} + i ⊙ g                                  (B, H)
    H_t          = o ⊙ tanh(LN(C_t; γ_c, β_c))                           (B, H)

The gate projections' shifts ``β_x, β_h`` would only add to ``b`` and are left out.
Parameters: ``weight_ih (4H, I)``, ``weight_hh (4H, H)``, ``bias (4H,)``, ``ln_ih_weight (4H,)``
(γ_x), ``ln_hh_weight (4H,)`` (γ_h), ``ln_c_weight (H,)`` (γ_c), ``ln_c_bias (H,)`` (β_c).
State: :class:`rnnkit.LSTMState` ``(h (B, H), c (B, H))``.

The input side ``LN(X W_ih^T; γ_x) + b`` is computed for all steps at once and differentiated by
autograd; the loop over time and its backward are written out. Backward of one step, with
``A_t = H_{t-1} W_hh^T`` and ``Y_t = LN(C_t; γ_c, β_c)``::

    dY_t     = dH_t ⊙ o ⊙ (1 - tanh²Y_t);     do = dH_t ⊙ tanh Y_t ⊙ o(1-o)
    dC_t    += LN_backward(dY_t; C_t, γ_c)
    di = dC_t ⊙ g ⊙ i(1-i);  df = dC_t ⊙ C_{t-1} ⊙ f(1-f);  dg = dC_t ⊙ i ⊙ (1-g²)
    dA_t     = LN_backward([di df dg do]; A_t, γ_h)
    dC_{t-1} = dC_t ⊙ f;     dH_{t-1} = dA_t W_hh
    dW_hh = Σ dA_t^T H_{t-1};  dγ_h = Σ [di df dg do] ⊙ Â_t;  dγ_c = Σ dY_t ⊙ Ĉ_t;  dβ_c = Σ dY_t

with ``LN_backward(dy; a, γ) = (γ⊙dy - mean(γ⊙dy) - â ⊙ mean(γ⊙dy ⊙ â)) / sqrt(var(a) + ε)``
(torch's layer-norm backward kernel, one call per step) and ``â`` the normalised ``a``. With
recurrent dropout ``A_t = (H_{t-1} ⊙ M) W_hh^T``; with zoneout the zoned ``C_t, H_t`` are carried
and ``tanh`` is of the new cell's own value (Krueger et al.), as for the LSTM.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from rnnkit.backends import compiled
from rnnkit.cells._buffers import last_valid, new_buffer, prev_views, previous, recurrent_weight_grad, rows, step_views
from rnnkit.cells.base import Cell, make_params
from rnnkit.cells.noise import StepNoise
from rnnkit.state import LSTMState

EPS = 1e-5
_ln_backward = torch.ops.aten.native_layer_norm_backward


def _stats(a: Tensor) -> tuple[Tensor, Tensor]:
    """``(mean, rstd)`` over the last dimension, keepdim, as torch's layer norm computes them."""
    var, mean = torch.var_mean(a, -1, keepdim=True, correction=0)
    return mean, var.add_(EPS).rsqrt_()


class LayerNormLSTMCell(Cell):
    """LSTM cell with layer norm on the input and recurrent projections and on the cell state.

    ``LayerNormLSTMCell(input_size, hidden_size, bias=True, device=None, dtype=None)``;
    ``cell(input (B, I) or (I,), hx=None) -> LSTMState(h (B, H), c (B, H))``.

    Args:
        input_size: ``I``. hidden_size: ``H``. bias: use ``b`` (the gates' shift).
        create_parameters: ``False`` for a definition without parameters of its own.
    """

    gates = 4
    fused_kind = "lnlstm"
    #: fused_forward reads its input projection and writes the gates elsewhere (no copy of it is made first)
    keeps_projection = True
    weight_names = ("weight_ih", "bias", "weight_hh", "ln_ih_weight", "ln_hh_weight", "ln_c_weight", "ln_c_bias")

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device: Any = None,
                 dtype: Any = None, *, create_parameters: bool = True) -> None:
        super().__init__()
        self.input_size, self.hidden_size, self.bias_enabled = input_size, hidden_size, bias
        if create_parameters:
            make_params(self, self.parameter_shapes(), {"device": device, "dtype": dtype})
            if not bias:
                self.register_parameter("bias", None)
            self.reset_parameters()

    def parameter_shapes(self) -> dict[str, tuple[int, ...]]:
        H, I = self.hidden_size, self.input_size
        shapes = {"weight_ih": (4 * H, I), "weight_hh": (4 * H, H), "ln_ih_weight": (4 * H,),
                  "ln_hh_weight": (4 * H,), "ln_c_weight": (H,), "ln_c_bias": (H,)}
        if self.bias_enabled:
            shapes["bias"] = (4 * H,)
        return shapes

    def reset_parameters(self) -> None:
        """Weights as torch.nn's LSTM (uniform ``±1/sqrt(H)``); gains 1, shifts 0 (layer norm's own init)."""
        bound = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0.0
        for name in ("weight_ih", "weight_hh"):
            nn.init.uniform_(getattr(self, name), -bound, bound)
        for name in ("ln_ih_weight", "ln_hh_weight", "ln_c_weight"):
            nn.init.ones_(getattr(self, name))
        nn.init.zeros_(self.ln_c_bias)
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    def initial_state(self, batch: int, *, dtype: torch.dtype | None = None, device: Any = None) -> LSTMState:
        return LSTMState(torch.zeros(batch, self.hidden_size, dtype=dtype, device=device),
                         torch.zeros(batch, self.hidden_size, dtype=dtype, device=device))

    # -- autograd equations (reference backend, standalone use) -------------
    def project_with(self, w: tuple, x: Tensor) -> Tensor:
        w_ih, b, _, g_x = w[:4]
        # b as the layer norm's shift: LN(.; γ_x) + b in one pass, no second (T, B, 4H) tensor
        return torch.nn.functional.layer_norm(torch.nn.functional.linear(x, w_ih), (w_ih.shape[0],), g_x, b, EPS)

    def step_with(self, w: tuple, xp_t: Tensor, state: tuple[Tensor, Tensor],
                  recurrent_mask: Tensor | None = None) -> tuple[Tensor, LSTMState]:
        return self.step_projected(w[2], self.fused_weights(w)[4], xp_t, state, recurrent_mask)

    def step_projected(self, w_hh: Tensor, extra: Tensor, xp_t: Tensor, state: tuple[Tensor, Tensor],
                       recurrent_mask: Tensor | None = None) -> tuple[Tensor, LSTMState]:
        """One step from the input projection ``xp_t``, the weights as :meth:`fused_weights` packs them."""
        h, c = state
        H = self.hidden_size
        g_h, g_c, b_c = extra[: 4 * H], extra[4 * H: 5 * H], extra[5 * H:]
        h_in = h if recurrent_mask is None else h * recurrent_mask
        a = torch.nn.functional.layer_norm(h_in @ w_hh.t(), (4 * H,), g_h, None, EPS)
        i, f, g, o = (xp_t + a).chunk(4, dim=-1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(torch.nn.functional.layer_norm(c, (H,), g_c, b_c, EPS))
        return h, LSTMState(h, c)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}" + ("" if self.bias_enabled else ", bias=False")

    # -- fused BPTT kernel ------------------------------------------------
    def fused_weights(self, w: tuple) -> tuple:
        """The fused loop's weights ``(None, None, W_hh, None, [γ_h γ_c β_c])`` (the input side is done)."""
        _, _, w_hh, _, g_h, g_c, b_c = w
        return None, None, w_hh, None, torch.cat([g_h, g_c, b_c])

    def fused_forward(self, xp: Tensor, state0: tuple[Tensor, ...], w_hh: Tensor, b_hh: Tensor | None,
                      extra: Tensor, batch_sizes: list[int] | None, lengths: Tensor | None,
                      noise: StepNoise | None = None):
        """``xp (T, B, 4H)`` (the input side, read only), ``(h0, c0)`` -> ``out (T, B, H)``, ``(h_n, c_n)``,
        saved: ``gates``, ``A`` (T, B, 4H), ``C̃``, ``tanh Y`` (T, B, H), the rows' layer-norm statistics
        ``[mean(A) rstd(A) mean(C̃) rstd(C̃)]`` (T, B, 4), ``C`` zoned."""
        h0, c0 = state0
        T, B, G = xp.shape
        H = G // 4
        padded = batch_sizes is not None
        if (noise is None or noise.zoneout is None) and compiled.usable(xp):   # the same loop in C++
            rec_mask = noise.recurrent if noise is not None else None
            out, cs, A, tys, gates, stats = compiled.ops().lnlstm_forward(xp, h0, c0, w_hh, extra, rec_mask, EPS,
                                                                          batch_sizes or [])
            return out, (last_valid(out, lengths), last_valid(cs, lengths)), (gates, A, cs, tys, stats)
        g_h, g_c, b_c = extra[:G], extra[G: G + H], extra[G + H:]
        # one sigmoid for all four gates: the g block pre-scaled by 2, g = tanh(a) = 2σ(2a) - 1
        gates = xp.clone()
        gates[..., 2 * H: 3 * H].mul_(2)
        g_h2 = g_h.clone()
        g_h2[2 * H: 3 * H].mul_(2)
        w_t = w_hh.t()
        A = new_buffer(xp, (T, B, G), padded)
        c_raw = new_buffer(xp, (T, B, H), padded)
        tys = new_buffer(xp, (T, B, H), padded)
        out = new_buffer(xp, (T, B, H), padded)
        zone = noise.zoneout if noise is not None else None
        cs = c_raw if zone is None else new_buffer(xp, (T, B, H), padded)
        rec = rows(noise.recurrent, batch_sizes, T) if noise is not None and noise.recurrent is not None else None
        V = lambda buf: step_views(buf, batch_sizes)  # noqa: E731
        gs, As, cr, c_now, ty, hs = V(gates), V(A), V(c_raw), V(cs), V(tys), V(out)
        i_, f_, s_g, o_ = (V(gates[..., k * H: (k + 1) * H]) for k in range(4))
        hp, cp = prev_views(out, h0, batch_sizes), prev_views(cs, c0, batch_sizes)
        if zone is not None:
            zh, zc = V(zone[0]), V(zone[1])
        shape_g, shape_h = (G,), (H,)
        for t in range(T):
            torch.mm(hp[t] if rec is None else hp[t] * rec[t], w_t, out=As[t])
            gs[t].add_(torch.native_layer_norm(As[t], shape_g, g_h2, None, EPS)[0]).sigmoid_()
            torch.mul(f_[t], cp[t], out=cr[t])
            cr[t].addcmul_(i_[t], s_g[t], value=2).sub_(i_[t])     # C̃ = f C + i (2σ(2a) - 1)
            torch.tanh(torch.native_layer_norm(cr[t], shape_h, g_c, b_c, EPS)[0], out=ty[t])
            torch.mul(o_[t], ty[t], out=hs[t])
            if zone is not None:
                torch.lerp(cr[t], cp[t], zc[t], out=c_now[t])
                torch.lerp(hs[t], hp[t], zh[t], out=hs[t])
        gates[..., 2 * H: 3 * H].mul_(2).sub_(1)   # saved as g itself
        finals = (last_valid(out, lengths), last_valid(cs, lengths))
        stats = torch.cat([*_stats(A), *_stats(c_raw)], -1)
        return out, finals, (gates, A, c_raw, tys, stats) + ((cs,) if zone is not None else ())

    def fused_backward(self, saved: tuple, out: Tensor, state0: tuple[Tensor, ...], dout: Tensor,
                       dfinal: tuple[Tensor | None, ...], w_hh: Tensor, extra: Tensor,
                       batch_sizes: list[int] | None, noise: StepNoise | None = None):
        """-> ``dXP (T, B, 4H)``, ``dW_hh``, ``None``, ``(dh0, dc0)``, ``d[γ_h γ_c β_c]``."""
        gates, A, c_raw, tys, stats = saved[:5]
        cs = saved[5] if len(saved) > 5 else c_raw
        h0, c0 = state0
        T, B, G = gates.shape
        H = G // 4
        padded = batch_sizes is not None
        g_h, g_c, b_c = extra[:G], extra[G: G + H], extra[G + H:]
        zone = noise.zoneout if noise is not None else None
        rec_mask = noise.recurrent if noise is not None else None
        if zone is None and compiled.usable(gates):   # the same loop in C++
            dh = (dfinal[0].clone() if dfinal[0] is not None else out.new_zeros(B, H)).contiguous()
            dc = (dfinal[1].clone() if dfinal[1] is not None else out.new_zeros(B, H)).contiguous()
            dgates, dA, _, dgain = compiled.ops().lnlstm_backward(gates, cs, A, tys, stats.contiguous(), c0, dout,
                                                                  dh, dc, w_hh, extra, rec_mask, batch_sizes or [])
            return (dgates, recurrent_weight_grad(dA, out, h0, rec_mask), None, (dh, dc),
                    dgain.to(gates.dtype))  # the gains' gradients, summed in the loop
        i, f, g, o = gates.view(T, B, 4, H).unbind(2)
        # the step-independent factors, for all steps at once
        k_o = torch.addcmul(o, o, o, value=-1).mul_(tys)                  # do = dH ⊙ k_o
        k_y = torch.addcmul(o, o * tys, tys, value=-1)                    # dY = dH ⊙ k_y
        k_ifg = gates.new_empty(T, B, 3, H)                               # [di df dg] = dC ⊙ k_ifg
        torch.mul(torch.addcmul(i, i, i, value=-1), g, out=k_ifg[:, :, 0])
        torch.mul(torch.addcmul(f, f, f, value=-1), previous(cs, c0), out=k_ifg[:, :, 1])
        torch.addcmul(i, i * g, g, value=-1, out=k_ifg[:, :, 2])
        # contiguous: torch's layer-norm backward reads mean and rstd as flat arrays
        mean_a, rstd_a, mean_c, rstd_c = (s.contiguous() for s in stats.split(1, -1))
        dgates = new_buffer(gates, (T, B, G), padded)
        dA = new_buffer(gates, (T, B, G), padded)
        dY = new_buffer(gates, (T, B, H), padded)
        dh = dfinal[0].clone() if dfinal[0] is not None else out.new_zeros(B, H)
        dc = dfinal[1].clone() if dfinal[1] is not None else out.new_zeros(B, H)
        dhs, dcs = rows(dh, batch_sizes, T), rows(dc, batch_sizes, T)
        dc3 = rows(dc.unsqueeze(1), batch_sizes, T)
        V = lambda buf: step_views(buf, batch_sizes)  # noqa: E731
        dos, kos, kys, kifg, fs = V(dout), V(k_o), V(k_y), V(k_ifg), V(f)
        As, crs, ma, ra, mc, rc = V(A), V(c_raw), V(mean_a), V(rstd_a), V(mean_c), V(rstd_c)
        dg_all, dAs, dYs = V(dgates), V(dA), V(dY)
        dg_o = V(dgates[..., 3 * H:])
        dg_ifg = V(dgates[..., : 3 * H].view(T, B, 3, H))
        rec = rows(rec_mask, batch_sizes, T) if rec_mask is not None else None
        if zone is not None:
            zh, zc = V(zone[0]), V(zone[1])
            kh, kc = V(1 - zone[0]), V(1 - zone[1])
            dh_skip, dc_skip = out.new_empty(B, H), out.new_empty(B, H)
            dhk, dck = rows(dh_skip, batch_sizes, T), rows(dc_skip, batch_sizes, T)
        shape_g, shape_h, mask1 = [G], [H], [True, False, False]
        for t in range(T - 1, -1, -1):
            dm = dhs[t]
            dm.add_(dos[t])
            if zone is not None:
                torch.mul(dm, zh[t], out=dhk[t])        # straight to H_{t-1}
                torch.mul(dcs[t], zc[t], out=dck[t])    # straight to C_{t-1}
                dm.mul_(kh[t])
                dcs[t].mul_(kc[t])
            torch.mul(dm, kys[t], out=dYs[t])
            torch.mul(dm, kos[t], out=dg_o[t])
            dcs[t].add_(_ln_backward(dYs[t], crs[t], shape_h, mc[t], rc[t], g_c, b_c, mask1)[0])
            torch.mul(dc3[t], kifg[t], out=dg_ifg[t])
            dcs[t].mul_(fs[t])
            dAs[t].copy_(_ln_backward(dg_all[t], As[t], shape_g, ma[t], ra[t], g_h, None, mask1)[0])
            torch.mm(dAs[t], w_hh, out=dhs[t])
            if rec is not None:
                dhs[t].mul_(rec[t])
            if zone is not None:
                dcs[t].add_(dck[t])
                dhs[t].add_(dhk[t])
        return (dgates, recurrent_weight_grad(dA, out, h0, rec_mask), None, (dh, dc),
                _gain_grads(dgates, dY, A, c_raw, (mean_a, rstd_a, mean_c, rstd_c)))


def _gain_grads(dgates: Tensor, dY: Tensor, A: Tensor, c_raw: Tensor, stats: tuple[Tensor, ...]) -> Tensor:
    """``d[γ_h γ_c β_c]``: ``Σ d[i f g o] ⊙ Â``, ``Σ dY ⊙ Ĉ``, ``Σ dY`` (``Â, Ĉ`` the normalised values;
    ``stats`` = ``(mean, rstd)`` of ``A`` then of ``C̃``, as :func:`_stats` gives them)."""
    G, H = A.shape[-1], c_raw.shape[-1]
    mean_a, rstd_a, mean_c, rstd_c = stats
    a_hat = (A - mean_a).mul_(rstd_a)
    c_hat = (c_raw - mean_c).mul_(rstd_c)
    d_gh = (dgates * a_hat).reshape(-1, G).sum(0)
    d_gc = (dY * c_hat).reshape(-1, H).sum(0)
    return torch.cat([d_gh, d_gc, dY.reshape(-1, H).sum(0)])
