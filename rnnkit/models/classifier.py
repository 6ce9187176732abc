"""SequenceClassifier: many-to-one classification of token or feature sequences.

For a sequence ``x_1 .. x_T`` (``lengths`` says how many steps of a padded batch are real)::

    x_t = <unk> (id 0) with probability word_dropout, while training (token ids)
    E_t = Embed(x_t)  (token ids)   or   (x_t - mu) / sigma  (feature vectors)   (B, T, E|I)
    E_t = Dropout(E_t)                                                             (embed_dropout)
    H_t = RNN(E_t)    L stacked layers, D = 2 if bidirectional (BiRNN)             (B, T, D*H)
    p   = Pool(H, lengths)   last | mean | max | attention (padding-aware)         (B, D*H)
    y   = W_o Dropout(p) + b_o                                                     (B, C) logits

The feature mean ``mu`` and spread ``sigma`` (``I`` each) are buffers set by the task from the
training data (:meth:`SequenceClassifier.set_normalization`), so a saved model standardises its
inputs the way it was trained. Word dropout (Iyyer et al. 2015) trains the ``<unk>`` embedding,
which is what words never seen in training get at test time. Padding never matters: the recurrent
layer masks it (``lengths=``) and the pooling never reads it.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import Tensor, nn

from rnnkit.config import field
from rnnkit.models.birnn import BiRNN
from rnnkit.models.lm import CELLS
from rnnkit.models.pooling import MODES, Pooling

UNK_ID = 0  # the id of <unk> in the task's vocabulary (built with <unk> first)


@dataclasses.dataclass
class ClassifierConfig:
    """The classifier's shape; saved in every checkpoint and rebuilt from it."""

    cell: str = field("lstm", "recurrent cell: rnn (Elman, tanh), lstm or gru", choices=tuple(CELLS))
    embed_size: int = field(128, "token inputs: embedding size E")
    hidden_size: int = field(128, "hidden units per layer and direction H")
    num_layers: int = field(1, "stacked recurrent layers L")
    bidirectional: bool = field(True, "read each sequence in both directions (D = 2)")
    pooling: str = field("max", "how the outputs over time become one vector", choices=MODES)
    attention_size: int = field(0, "pooling attention: hidden width of the scorer (0: D*H)")
    embed_dropout: float = field(0.0, "dropout on the embeddings or input features")
    word_dropout: float = field(0.0, "token inputs: probability of replacing a token by <unk> while training")
    dropout: float = field(0.3, "dropout between recurrent layers and before the output layer")
    backend: str = field("auto", "recurrent backend", choices=("auto", "native", "fused", "reference"))
    vocab_size: int = 0  # set by the task: token inputs (0: feature inputs)
    input_size: int = 0  # set by the task: features per step I (0: token inputs)
    num_classes: int = 2  # set by the task: C


class SequenceClassifier(nn.Module):
    """``forward(x, lengths=None) -> logits (B, C)`` for token ids ``(B, T)`` or features ``(B, T, I)``.

    ``lengths`` (``(B,)``, int64) are the real steps of each padded sequence (default: all ``T``).
    """

    def __init__(self, config: ClassifierConfig) -> None:
        super().__init__()
        c = config
        for name in ("hidden_size", "num_layers", "num_classes"):
            if getattr(c, name) < 1:
                raise ValueError(f"SequenceClassifier: {name} must be >= 1, got {getattr(c, name)}")
        if c.num_classes < 2:
            raise ValueError(f"SequenceClassifier: needs at least 2 classes, got {c.num_classes}")
        if (c.input_size > 0) == (c.vocab_size > 0):
            raise ValueError(f"SequenceClassifier: exactly one of input_size (features) and vocab_size (tokens) "
                             f"must be set, got {c.input_size} and {c.vocab_size}")
        if c.cell not in CELLS:
            raise ValueError(f"SequenceClassifier: unknown cell {c.cell!r}: expected one of {', '.join(CELLS)}")
        if c.pooling not in MODES:
            raise ValueError(f"SequenceClassifier: unknown pooling {c.pooling!r}: expected one of {', '.join(MODES)}")
        for name in ("dropout", "embed_dropout", "word_dropout"):
            if not 0 <= getattr(c, name) < 1:
                raise ValueError(f"SequenceClassifier: {name} must be in [0, 1), got {getattr(c, name)}")
        if c.vocab_size and c.embed_size < 1:
            raise ValueError(f"SequenceClassifier: embed_size must be >= 1, got {c.embed_size}")
        if c.attention_size < 0:
            raise ValueError(f"SequenceClassifier: attention_size must be >= 0, got {c.attention_size}")
        self.config = c
        self.embed = nn.Embedding(c.vocab_size, c.embed_size) if c.vocab_size else None
        if not c.vocab_size:
            self.register_buffer("feature_mean", torch.zeros(c.input_size))
            self.register_buffer("feature_std", torch.ones(c.input_size))
        self.in_drop = nn.Dropout(c.embed_dropout)
        D = 2 if c.bidirectional else 1
        in_size = c.embed_size if c.vocab_size else c.input_size
        between = c.dropout if c.num_layers > 1 else 0.0
        # both directions on unpacked input (BiRNN), so torch's oneDNN LSTM kernel runs: a packed
        # sequence would take its per-step CPU path. Forwards, padding follows the real steps and
        # never reaches them, so a unidirectional layer needs no lengths at all.
        self.rnn: nn.Module = (BiRNN(c.cell, in_size, c.hidden_size, c.num_layers, between, c.backend)
                               if c.bidirectional else
                               CELLS[c.cell](in_size, c.hidden_size, c.num_layers, batch_first=True,
                                             dropout=between, backend=c.backend))
        self.pool = Pooling(c.pooling, D * c.hidden_size, D, c.attention_size)
        self.drop = nn.Dropout(c.dropout)
        self.out = nn.Linear(D * c.hidden_size, c.num_classes)

    def set_normalization(self, mean: Tensor, std: Tensor) -> None:
        """Standardise feature inputs with these per-feature statistics ``(I,)`` (zero spread counts as 1)."""
        if self.embed is not None:
            raise ValueError("SequenceClassifier: token inputs take no feature normalization")
        self.feature_mean.copy_(mean)
        self.feature_std.copy_(torch.where(std > 0, std, torch.ones_like(std)))

    def features(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        """The pooled representation ``(B, D*H)`` that the output layer reads."""
        c = self.config
        if self.embed is not None:
            if x.dim() != 2 or x.dtype != torch.long:
                raise ValueError(f"SequenceClassifier: expected token ids (B, T) of dtype int64, got "
                                 f"{tuple(x.shape)} {x.dtype}")
            if self.training and c.word_dropout > 0:
                # UNK is id 0 in every vocabulary (rnnkit.data.vocab); padding past the ends is masked anyway
                x = x.masked_fill(torch.rand(x.shape, device=x.device) < c.word_dropout, UNK_ID)
            e = self.embed(x)
        else:
            if x.dim() != 3 or x.shape[-1] != c.input_size:
                raise ValueError(f"SequenceClassifier: expected features (B, T, {c.input_size}), got {tuple(x.shape)}")
            e = (x - self.feature_mean) / self.feature_std
        B, T = x.shape[:2]
        if lengths is None:
            lengths = torch.full((B,), T, dtype=torch.long)
        elif lengths.shape != (B,):
            raise ValueError(f"SequenceClassifier: expected lengths ({B},), got {tuple(lengths.shape)}")
        elif B and (int(lengths.min()) < 1 or int(lengths.max()) > T):
            raise ValueError(f"SequenceClassifier: lengths must be in [1, {T}], got {lengths.tolist()[:8]}")
        lengths = lengths.to(x.device)
        e = self.in_drop(e)
        # outputs past each end are meaningless here; the pooling never reads them
        h, _ = self.rnn(e, lengths) if self.config.bidirectional else self.rnn(e)
        return self.pool(h, lengths)

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        return self.out(self.drop(self.features(x, lengths)))
