"""Forecaster: an encoder RNN over a context window, then a Gaussian forecast for each of H steps.

For a context of ``L`` steps with ``I`` features each (the scaled target, past-only covariates,
calendar features) and ``K`` known-future features for each of the ``H`` forecast steps::

    h_t  = RNN(x_t, h_{t-1})                    (B, L, D)    encoder, D hidden units
    e    = h_L                                  (B, D)       the context, summarised
    direct:  o_k = W_k [e ; f_k] + b_k          (B, H, 2)    one head per step k = 1..H
    autoregressive:
             g_k = RNN([y_{k-1} ; f_k], g_{k-1}), g_0 = the encoder's state, y_0 = 0    (B, H, D)
             o_k = W [g_k ; f_k] + b            (B, H, 2)    one shared head
    mu_k = o_k[0],  sigma_k = softplus(o_k[1]) + 1e-3           (B, H)

The loss is the Gaussian negative log-likelihood of the targets (DeepAR's, without sampling).
The mean's output weights start at zero, so an untrained network forecasts ``mu = 0``: exactly the
task's base forecast (the smoothed level and season, or the last value); training learns the
correction, and a model stopped early stays close to that base.
The autoregressive decoder is fed the previous target during training (teacher forcing) and its
own mean forecast when predicting, so its intervals leave out the compounding of earlier errors;
the direct heads need no feedback. Everything is in the task's scaled units.
"""

from __future__ import annotations

import dataclasses
import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.config import field
from rnnkit.models.lm import CELL_HELP, CELLS

MIN_SCALE = 1e-3  # a floor on sigma: the likelihood of a zero-width forecast is unbounded


@dataclasses.dataclass
class ForecasterConfig:
    """The model's shape; saved in every checkpoint and rebuilt from it."""

    cell: str = field("lstm", CELL_HELP,
                      choices=tuple(CELLS))
    hidden_size: int = field(64, "hidden units per layer D")
    num_layers: int = field(1, "stacked recurrent layers")
    dropout: float = field(0.1, "dropout on the encoder's summary (and between layers)")
    decoder: str = field("direct", "multi-step output: direct (one head per step) or autoregressive (a decoder "
                         "RNN fed its previous value)", choices=("direct", "autoregressive"))
    backend: str = field("auto", "recurrent backend", choices=("auto", "native", "fused", "reference"))
    input_size: int = 1  # set by the task: features per context step
    known_size: int = 0  # set by the task: known-future features per forecast step
    out_steps: int = 1  # set by the task: forecast steps H (the horizon)


class Forecaster(nn.Module):
    """``forward(context (B, L, I), known (B, H, K), teacher (B, H) | None) -> (mu, sigma)``, each (B, H)."""

    def __init__(self, config: ForecasterConfig) -> None:
        super().__init__()
        c = config
        for name in ("hidden_size", "num_layers", "input_size", "out_steps"):
            if getattr(c, name) < 1:
                raise ValueError(f"Forecaster: {name} must be >= 1, got {getattr(c, name)}")
        if not 0 <= c.dropout < 1:
            raise ValueError(f"Forecaster: dropout must be in [0, 1), got {c.dropout}")
        if c.cell not in CELLS:
            raise ValueError(f"Forecaster: unknown cell {c.cell!r}: expected one of {', '.join(CELLS)}")
        if c.decoder not in ("direct", "autoregressive"):
            raise ValueError(f"Forecaster: decoder must be direct or autoregressive, got {c.decoder!r}")
        self.config = c
        self.encoder = CELLS[c.cell](c.input_size, c.hidden_size, c.num_layers, batch_first=True,
                                     dropout=c.dropout if c.num_layers > 1 else 0.0, backend=c.backend)
        self.drop = nn.Dropout(c.dropout)
        width = c.hidden_size + c.known_size
        if c.decoder == "direct":
            bound = 1 / math.sqrt(width)
            w = torch.empty(c.out_steps, width, 2).uniform_(-bound, bound)
            w[..., 0] = 0.0  # mu = 0 at the start: the base forecast (module docstring)
            self.head_w = nn.Parameter(w)
            self.head_b = nn.Parameter(torch.zeros(c.out_steps, 2))
        else:
            self.decoder = CELLS[c.cell](1 + c.known_size, c.hidden_size, c.num_layers, batch_first=True,
                                         dropout=c.dropout if c.num_layers > 1 else 0.0, backend=c.backend)
            self.head = nn.Linear(width, 2)
            with torch.no_grad():
                self.head.weight[0].zero_()
                self.head.bias[0] = 0.0

    def forward(self, context: Tensor, known: Tensor, teacher: Tensor | None = None) -> tuple[Tensor, Tensor]:
        c = self.config
        B = context.shape[0]
        if context.dim() != 3 or context.shape[-1] != c.input_size:
            raise ValueError(f"Forecaster: expected a context (B, L, {c.input_size}), got {tuple(context.shape)}")
        if known.shape != (B, c.out_steps, c.known_size):
            raise ValueError(f"Forecaster: expected known-future features {(B, c.out_steps, c.known_size)}, "
                             f"got {tuple(known.shape)}")
        out, state = self.encoder(context)
        if c.decoder == "direct":
            e = self.drop(out[:, -1])
            feats = torch.cat([e[:, None, :].expand(B, c.out_steps, c.hidden_size), known], dim=-1)
            o = torch.einsum("bhf,hfo->bho", feats, self.head_w) + self.head_b
        elif teacher is not None:
            # teacher forcing: step k sees the true target of step k - 1 (0, the base forecast, first)
            prev = torch.cat([teacher.new_zeros(B, 1), teacher[:, :-1]], dim=1)
            g, _ = self.decoder(torch.cat([prev[..., None], known], dim=-1), state)
            o = self.head(torch.cat([self.drop(g), known], dim=-1))
        else:
            prev, outs = context.new_zeros(B), []
            for k in range(c.out_steps):
                g, state = self.decoder(torch.cat([prev[:, None, None], known[:, k : k + 1]], dim=-1), state)
                ok = self.head(torch.cat([g[:, 0], known[:, k]], dim=-1))
                outs.append(ok)
                prev = ok[:, 0]
            o = torch.stack(outs, dim=1)
        return o[..., 0], F.softplus(o[..., 1]) + MIN_SCALE


def gaussian_nll(mu: Tensor, sigma: Tensor, y: Tensor) -> Tensor:
    """Mean negative log-likelihood of ``y`` under ``N(mu, sigma^2)``, all (B, H)."""
    return (torch.log(sigma) + 0.5 * ((y - mu) / sigma) ** 2).mean() + 0.5 * math.log(2 * math.pi)
