"""LanguageModel: embedding -> stacked RNN/LSTM/GRU -> dropout -> output layer.

For tokens ``x_1 .. x_T`` (ids, shape ``(B, T)``)::

    E_t = Embed(x_t)                                  (B, T, E)
    H_t = RNN(E_t, H_{t-1})   L stacked layers        (B, T, H)
    O_t = Dropout(H_t) W_o + b_o                      (B, T, V)   logits of x_{t+1}

Dropout applies to the embeddings, between layers and before the output layer
(Zaremba et al. 2014). With ``tie_weights`` the output matrix ``W_o`` is the embedding
matrix (Press & Wolf 2017); that needs ``embed_size == hidden_size``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import torch
from torch import Tensor, nn

from rnnkit.config import field
from rnnkit.layers.torch_compat import GRU, LSTM, RNN
from rnnkit.layers.variants import IndRNN, LayerNormGRU, LayerNormLSTM, MinGRU, PeepholeLSTM
from rnnkit.models.sampling import SampleConfig, sample_next
from rnnkit.state import detach_state

#: the recurrent layers a task's ``--cell`` names (the variants run on rnnkit's fused loop; ``mingru`` as a
#: parallel scan over time)
CELLS = {"lstm": LSTM, "gru": GRU, "rnn": RNN, "lnlstm": LayerNormLSTM, "lngru": LayerNormGRU,
         "peephole": PeepholeLSTM, "indrnn": IndRNN, "mingru": MinGRU}
#: ``--cell``'s help, one text for every task
CELL_HELP = ("recurrent cell: rnn (Elman, tanh), lstm, gru, lnlstm/lngru (layer-normalised LSTM/GRU), "
             "peephole (LSTM with peepholes), indrnn (IndRNN, ReLU) or mingru (minGRU, parallel scan)")


@dataclasses.dataclass
class LMConfig:
    """The language model's shape; saved in every checkpoint and rebuilt from it."""

    cell: str = field("lstm", CELL_HELP, choices=tuple(CELLS))
    embed_size: int = field(128, "token embedding size E")
    hidden_size: int = field(512, "hidden units per layer H")
    num_layers: int = field(2, "stacked recurrent layers L")
    dropout: float = field(0.1, "dropout on embeddings, between layers and before the output layer")
    tie_weights: bool = field(False, "share the embedding and output matrices (needs embed_size == hidden_size)")
    init_range: float = field(0.0, "if > 0, initialise every weight uniformly in [-r, r] (Zaremba et al.)")
    recurrent_dropout: float = field(0.0, "variational dropout on the hidden state entering W_hh (one mask per "
                                              "sequence, Gal & Ghahramani 2016)")
    zoneout: float = field(0.0, "each state unit keeps its previous value with this probability (Krueger et al.)")
    weight_drop: float = field(0.0, "DropConnect on the recurrent weights W_hh, one mask per batch (AWD-LSTM)")
    backend: str = field("auto", "recurrent backend", choices=("auto", "native", "fused", "reference"))
    vocab_size: int = 0  # set from the data's vocabulary, not a flag


class LanguageModel(nn.Module):
    """Predicts the next token at every step. ``forward(x (B, T), state) -> (logits (B, T, V), state)``."""

    def __init__(self, config: LMConfig) -> None:
        super().__init__()
        c = config
        if c.vocab_size < 2:
            raise ValueError(f"LanguageModel: vocab_size must be >= 2, got {c.vocab_size}")
        for name in ("embed_size", "hidden_size", "num_layers"):
            if getattr(c, name) < 1:
                raise ValueError(f"LanguageModel: {name} must be >= 1, got {getattr(c, name)}")
        if c.init_range < 0:
            raise ValueError(f"LanguageModel: init_range must be >= 0, got {c.init_range}")
        if not 0 <= c.dropout < 1:
            raise ValueError(f"LanguageModel: dropout must be in [0, 1), got {c.dropout}")
        if c.cell not in CELLS:
            raise ValueError(f"LanguageModel: unknown cell {c.cell!r}: expected one of {', '.join(CELLS)}")
        if c.tie_weights and c.embed_size != c.hidden_size:
            raise ValueError(f"LanguageModel: tie_weights needs embed_size == hidden_size, "
                             f"got {c.embed_size} and {c.hidden_size}")
        self.config = c
        self.embed = nn.Embedding(c.vocab_size, c.embed_size)
        self.drop = nn.Dropout(c.dropout)
        self.rnn = CELLS[c.cell](c.embed_size, c.hidden_size, c.num_layers, batch_first=True,
                                 dropout=c.dropout if c.num_layers > 1 else 0.0, backend=c.backend,
                                 recurrent_dropout=c.recurrent_dropout, zoneout=c.zoneout, weight_drop=c.weight_drop)
        self.out = nn.Linear(c.hidden_size, c.vocab_size)
        if c.tie_weights:
            self.out.weight = self.embed.weight
        if c.init_range > 0:
            for p in self.parameters():
                nn.init.uniform_(p, -c.init_range, c.init_range)

    def forward(self, x: Tensor, state: Any = None, lengths: Tensor | None = None) -> tuple[Tensor, Any]:
        """``x`` ids ``(B, T)`` -> logits ``(B, T, V)`` and the final state (as the layer's).

        With ``lengths`` ``(B,)`` (padded batches) the final state is each row's at its last valid step.
        """
        h, state = self.rnn(self.drop(self.embed(x)), state, lengths=lengths)
        return self.out(self.drop(h)), state

    @torch.no_grad()
    def generate(self, prime: Tensor, length: int, sample: SampleConfig,
                 generator: torch.Generator | None = None, banned: tuple[int, ...] = (),
                 reset_at: int | None = None) -> Iterator[int]:
        """Yield ``length`` token ids, one at a time, continuing ``prime`` (ids ``(P,)``, P >= 1).

        The prime is read in one call; then each sampled token is fed back. Tokens in
        ``banned`` are never produced. After a ``reset_at`` token (the line separator of a model
        trained on whole lines) the state starts afresh, as every training line did, so each
        line is sampled whole. Runs in eval mode and restores the previous mode afterwards.
        """
        if prime.dim() != 1 or prime.numel() == 0:
            raise ValueError(f"prime must be a non-empty 1-D tensor of ids, got shape {tuple(prime.shape)}")
        was_training = self.training
        self.eval()
        try:
            device = self.embed.weight.device
            logits, state = self(prime.to(device).unsqueeze(0))
            last = logits[0, -1]
            ban = torch.tensor(banned, dtype=torch.long, device=device)
            for _ in range(length):
                if banned:
                    last = last.index_fill(0, ban, float("-inf"))
                tok = sample_next(last, sample, generator)
                yield tok
                fresh = tok == reset_at
                logits, state = self(torch.tensor([[tok]], device=device), None if fresh else detach_state(state))
                last = logits[0, -1]
        finally:
            self.train(was_training)
