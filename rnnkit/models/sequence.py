"""SequenceModel: input layer -> stacked RNN/LSTM/GRU -> output layer, read at the last step or at every step.

For inputs ``x_1 .. x_T``, feature vectors ``(B, T, I)`` or token ids ``(B, T)``::

    E_t = x_t  (features)  or  Embed(x_t)  (tokens)     (B, T, E)
    H_t = RNN(E_t, H_{t-1})   L stacked layers          (B, T, H)
    O   = H_T W_o + b_o        readout "last"           (B, O)       many-to-one
    O_t = H_t W_o + b_o        readout "all"            (B, T, O)    many-to-many, aligned

The model behind the long-range memory problems (adding: many-to-one regression; copy:
aligned many-to-many; sequential digits: many-to-one classification) and the gradient-flow
measurements, where the three cells must differ in nothing but the cell.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import Tensor, nn

from rnnkit.config import field
from rnnkit.models.lm import CELL_HELP, CELLS


@dataclasses.dataclass
class SequenceConfig:
    """The model's shape; saved in every checkpoint and rebuilt from it."""

    cell: str = field("lstm", CELL_HELP,
                      choices=tuple(CELLS))
    hidden_size: int = field(128, "hidden units per layer H")
    num_layers: int = field(1, "stacked recurrent layers L")
    dropout: float = field(0.0, "dropout between layers")
    embed_size: int = field(16, "token inputs: embedding size E")
    backend: str = field("auto", "recurrent backend", choices=("auto", "native", "fused", "reference"))
    input_size: int = 0  # set by the task: features per step, or 0 for token inputs
    vocab_size: int = 0  # set by the task: token inputs
    output_size: int = 1  # set by the task: outputs per read step
    readout: str = "last"  # set by the task: "last" (many-to-one) or "all" (many-to-many)


class SequenceModel(nn.Module):
    """``forward(x) -> (B, O)`` (readout "last") or ``(B, T, O)`` (readout "all"); see the module docstring."""

    def __init__(self, config: SequenceConfig) -> None:
        super().__init__()
        c = config
        for name in ("hidden_size", "num_layers", "output_size"):
            if getattr(c, name) < 1:
                raise ValueError(f"SequenceModel: {name} must be >= 1, got {getattr(c, name)}")
        if (c.input_size > 0) == (c.vocab_size > 0):
            raise ValueError(f"SequenceModel: exactly one of input_size (features) and vocab_size (tokens) "
                             f"must be set, got {c.input_size} and {c.vocab_size}")
        if c.readout not in ("last", "all"):
            raise ValueError(f"SequenceModel: readout must be 'last' or 'all', got {c.readout!r}")
        if c.cell not in CELLS:
            raise ValueError(f"SequenceModel: unknown cell {c.cell!r}: expected one of {', '.join(CELLS)}")
        if not 0 <= c.dropout < 1:
            raise ValueError(f"SequenceModel: dropout must be in [0, 1), got {c.dropout}")
        self.config = c
        self.embed = nn.Embedding(c.vocab_size, c.embed_size) if c.vocab_size else None
        in_size = c.embed_size if c.vocab_size else c.input_size
        self.rnn = CELLS[c.cell](in_size, c.hidden_size, c.num_layers, batch_first=True,
                                 dropout=c.dropout if c.num_layers > 1 else 0.0, backend=c.backend)
        self.out = nn.Linear(c.hidden_size, c.output_size)

    def forward(self, x: Tensor) -> Tensor:
        if self.embed is not None:
            if x.dim() != 2 or x.dtype != torch.long:
                raise ValueError(f"SequenceModel: expected token ids (B, T) of dtype int64, got {tuple(x.shape)} "
                                 f"{x.dtype}")
            x = self.embed(x)
        elif x.dim() != 3 or x.shape[-1] != self.config.input_size:
            raise ValueError(f"SequenceModel: expected features (B, T, {self.config.input_size}), "
                             f"got {tuple(x.shape)}")
        h, _ = self.rnn(x)
        return self.out(h[:, -1] if self.config.readout == "last" else h)
