"""MusicModel: a one-to-many recurrent generator conditioned on key, metre and mode.

The condition (metre ``m``, mode ``o``, tonic ``k``; ids into their vocabularies) is embedded and
mapped to the initial state of every layer, so one input produces a whole piece::

    c      = E_m[m] + E_o[o] + E_k[k]                    (B, C)
    h_0^l  = tanh(W_h^l c + b_h^l)   (c_0^l likewise for an LSTM)      (B, H) for each layer l
    E_t    = Embed(x_t)                                  (B, T, E)
    H_t    = RNN(E_t, H_{t-1})   L stacked layers        (B, T, H)
    O_t    = Dropout(H_t) W_o + b_o                      (B, T, V)   logits of x_{t+1}

The inputs start with ``<s>``; nothing of the condition is fed as a token. Sampling
(:meth:`MusicModel.sample`) draws a batch of pieces at once, seeded, with temperature and top-p
and an optional per-piece mask of allowed tokens (the bar-full constraint).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from rnnkit.config import field
from rnnkit.layers.torch_compat import GRU, LSTM, RNN
from rnnkit.models.sampling import SampleConfig, sample_batch

CELLS = {"lstm": LSTM, "gru": GRU, "rnn": RNN}


@dataclasses.dataclass
class MusicConfig:
    """The music model's shape; saved in every checkpoint and rebuilt from it."""

    cell: str = field("lstm", "recurrent cell", choices=tuple(CELLS))
    embed_size: int = field(64, "token embedding size E")
    hidden_size: int = field(256, "hidden units per layer H")
    num_layers: int = field(2, "stacked recurrent layers L")
    dropout: float = field(0.2, "dropout on embeddings, between layers and before the output layer")
    cond_size: int = field(32, "size C of the condition embedding (metre + mode + tonic) that sets the initial state")
    backend: str = field("auto", "recurrent backend", choices=("auto", "native", "fused", "reference"))
    vocab_size: int = 0  # set from the data, not flags
    n_metres: int = 0
    n_modes: int = 0
    n_tonics: int = 0


class MusicModel(nn.Module):
    """``forward(x (B, T), cond (B, 3), lengths=None) -> (logits (B, T, V), final state)``."""

    def __init__(self, config: MusicConfig) -> None:
        super().__init__()
        c = config
        if c.vocab_size < 2:
            raise ValueError(f"MusicModel: vocab_size must be >= 2, got {c.vocab_size}")
        for name in ("embed_size", "hidden_size", "num_layers", "cond_size", "n_metres", "n_modes", "n_tonics"):
            if getattr(c, name) < 1:
                raise ValueError(f"MusicModel: {name} must be >= 1, got {getattr(c, name)}")
        if not 0 <= c.dropout < 1:
            raise ValueError(f"MusicModel: dropout must be in [0, 1), got {c.dropout}")
        if c.cell not in CELLS:
            raise ValueError(f"MusicModel: unknown cell {c.cell!r}: expected one of {', '.join(CELLS)}")
        self.config = c
        self.metre = nn.Embedding(c.n_metres, c.cond_size)
        self.mode = nn.Embedding(c.n_modes, c.cond_size)
        self.tonic = nn.Embedding(c.n_tonics, c.cond_size)
        parts = 2 if c.cell == "lstm" else 1
        self.init = nn.Linear(c.cond_size, parts * c.num_layers * c.hidden_size)
        self.embed = nn.Embedding(c.vocab_size, c.embed_size)
        self.drop = nn.Dropout(c.dropout)
        self.rnn = CELLS[c.cell](c.embed_size, c.hidden_size, c.num_layers, batch_first=True,
                                 dropout=c.dropout if c.num_layers > 1 else 0.0, backend=c.backend)
        self.out = nn.Linear(c.hidden_size, c.vocab_size)

    def initial_state(self, cond: Tensor) -> Any:
        """The state every layer starts from, given conditions ``cond`` ``(B, 3)``: metre, mode, tonic ids."""
        c = self.config
        if cond.dim() != 2 or cond.size(1) != 3:
            raise ValueError(f"cond must be (B, 3) ids of metre, mode and tonic, got shape {tuple(cond.shape)}")
        e = self.metre(cond[:, 0]) + self.mode(cond[:, 1]) + self.tonic(cond[:, 2])
        s = torch.tanh(self.init(e)).view(cond.size(0), -1, c.num_layers, c.hidden_size).permute(1, 2, 0, 3)
        return (s[0].contiguous(), s[1].contiguous()) if c.cell == "lstm" else s[0].contiguous()

    def forward(self, x: Tensor, cond: Tensor, state: Any = None, lengths: Tensor | None = None
                ) -> tuple[Tensor, Any]:
        """Logits of the next token at every step; ``state`` None starts from :meth:`initial_state`."""
        if state is None:
            state = self.initial_state(cond)
        h, state = self.rnn(self.drop(self.embed(x)), state, lengths=lengths)
        return self.out(self.drop(h)), state

    @torch.no_grad()
    def sample(self, cond: Tensor, bos: int, eos: int, max_len: int, sample: SampleConfig,
               generator: torch.Generator | None = None,
               allowed: Callable[[int, list[int]], Tensor | None] | None = None,
               banned: tuple[int, ...] = ()) -> list[list[int]]:
        """``B`` pieces of token ids (``<s>`` and ``</s>`` left out), one per row of ``cond`` ``(B, 3)``.

        Each piece stops at ``eos`` or after ``max_len`` tokens. ``allowed(row, tokens so far)`` may return a
        bool mask ``(V,)`` of the tokens that may come next (None: any); ``banned`` are never drawn.
        Runs in eval mode and restores the previous mode afterwards.
        """
        was_training = self.training
        self.eval()
        try:
            device = self.embed.weight.device
            B = cond.size(0)
            x = torch.full((B, 1), bos, dtype=torch.long, device=device)
            state = None
            out: list[list[int]] = [[] for _ in range(B)]
            done = [False] * B
            ban = torch.tensor(banned, dtype=torch.long, device=device)
            for _ in range(max_len):
                logits, state = self(x, cond.to(device), state)
                last = logits[:, -1].float()
                if banned:
                    last = last.index_fill(1, ban, float("-inf"))
                if allowed is not None:
                    for b in range(B):
                        if not done[b]:
                            mask = allowed(b, out[b])
                            if mask is not None:
                                last[b] = last[b].masked_fill(~mask.to(device), float("-inf"))
                toks = sample_batch(last, sample, generator).tolist()
                for b, t in enumerate(toks):
                    if done[b]:
                        continue
                    if t == eos:
                        done[b] = True
                    else:
                        out[b].append(t)
                if all(done):
                    break
                x = torch.tensor(toks, device=device).unsqueeze(1)
            return out
        finally:
            self.train(was_training)
