"""SequenceTagger: one tag per word (many-to-many, aligned), a BiLSTM (any cell) with a softmax or CRF output.

For the words of a sentence ``w_1 .. w_T``::

    x_t = [ Embed(w_t) ; Casing(w_t) ; CharBiLSTM(chars of w_t) ]   (B, T, E + Ec + 2 Hc)
    h_t = BiRNN(dropout(x))_t  (rnnkit.models.birnn)                  (B, T, 2 H)
    e_t = Linear(dropout(h_t))                                        (B, T, K)   emissions
    softmax: p(y_t) = softmax(e_t);  CRF: p(y | x) over whole sequences (rnnkit.models.crf)

Loss: the negative log-likelihood per word (CRF: of the whole gold sequence, divided by the
number of words; softmax: the mean cross-entropy), padding excluded. Decoding: argmax per word,
or Viterbi under the BIO/BIOES constraints, which never gives an illegal sequence.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.config import field
from rnnkit.data.batching import length_mask
from rnnkit.models.birnn import BiRNN
from rnnkit.models.charfeatures import CASING, CharEncoder
from rnnkit.models.crf import CRF
from rnnkit.models.lm import CELLS


@dataclasses.dataclass
class TaggerConfig:
    """The tagger's shape; saved in every checkpoint and rebuilt from it."""

    cell: str = field("lstm", "recurrent cell over the words", choices=tuple(CELLS))
    hidden_size: int = field(200, "hidden units per direction H")
    num_layers: int = field(1, "stacked bidirectional layers")
    word_embed_size: int = field(100, "word embedding size E")
    char_features: bool = field(True, "character BiLSTM features per word (Lample et al. 2016)")
    char_embed_size: int = field(25, "character embedding size Ec")
    char_hidden_size: int = field(25, "character LSTM units per direction Hc")
    casing_size: int = field(8, "casing-class embedding size (0: no casing feature)")
    dropout: float = field(0.5, "dropout on the word features and on the BiRNN outputs")
    crf: bool = field(True, "CRF output layer (else a softmax per word)")
    backend: str = field("auto", "recurrent backend", choices=("auto", "native", "fused", "reference"))
    vocab_size: int = 0  # set by the task: words (ids 0 padding, 1 <unk>)
    num_chars: int = 0  # set by the task: characters (0 padding, 1 unknown)
    num_tags: int = 0  # set by the task


class TaggerBatch(NamedTuple):
    """One padded batch. ``B`` sentences of at most ``T`` words; ``U`` distinct words of at most ``C`` chars."""

    words: Tensor  # (B, T) word ids, 0 at padding
    casing: Tensor  # (B, T) casing classes, 0 at padding
    chars: Tensor  # (U, C) character ids of the distinct words, 0 at padding
    char_lengths: Tensor  # (U,)
    word_index: Tensor  # (B, T) index into U, 0 at padding
    lengths: Tensor  # (B,)
    tags: Tensor  # (B, T) tag ids (0 at padding); empty (B, 0) when unknown (prediction)

    def to(self, device: torch.device) -> TaggerBatch:
        return TaggerBatch(*(t.to(device) for t in self))


class SequenceTagger(nn.Module):
    """``emissions(batch) -> (B, T, K)``, ``loss(batch)``, ``decode(batch) -> (B, T)``; see the module docstring.

    ``constraints``: ``(start_ok (K,), trans_ok (K, K), end_ok (K,))`` bool tensors for the CRF
    (none: unconstrained). They are buffers, saved and loaded with the weights.
    """

    def __init__(self, config: TaggerConfig, constraints: tuple[Tensor, Tensor, Tensor] | None = None) -> None:
        super().__init__()
        c = config
        for name in ("hidden_size", "num_layers", "word_embed_size", "vocab_size", "num_tags"):
            if getattr(c, name) < 1:
                raise ValueError(f"SequenceTagger: {name} must be >= 1, got {getattr(c, name)}")
        if c.char_features and min(c.char_embed_size, c.char_hidden_size, c.num_chars) < 1:
            raise ValueError("SequenceTagger: char_embed_size, char_hidden_size and num_chars must be >= 1 with "
                             "char_features")
        if c.casing_size < 0:
            raise ValueError(f"SequenceTagger: casing_size must be >= 0, got {c.casing_size}")
        if not 0 <= c.dropout < 1:
            raise ValueError(f"SequenceTagger: dropout must be in [0, 1), got {c.dropout}")
        if c.cell not in CELLS:
            raise ValueError(f"SequenceTagger: unknown cell {c.cell!r}: expected one of {', '.join(CELLS)}")
        self.config = c
        self.embed = nn.Embedding(c.vocab_size, c.word_embed_size, padding_idx=0)
        size = c.word_embed_size
        self.casing = nn.Embedding(len(CASING), c.casing_size, padding_idx=0) if c.casing_size else None
        size += c.casing_size
        self.chars = CharEncoder(c.num_chars, c.char_embed_size, c.char_hidden_size, c.backend) \
            if c.char_features else None
        size += self.chars.output_size if self.chars is not None else 0
        self.drop = nn.Dropout(c.dropout)
        self.rnn = BiRNN(c.cell, size, c.hidden_size, c.num_layers, c.dropout, c.backend)
        self.out = nn.Linear(2 * c.hidden_size, c.num_tags)
        self.crf = CRF(c.num_tags, *(constraints or (None, None, None))) if c.crf else None
        # embeddings of unit variance per vector (Lample et al.), not N(0, 1) per component: the
        # recurrent layer sees inputs of the size its own uniform(-1/sqrt(H), ..) init expects
        for emb in (self.embed, self.casing, self.chars.embed if self.chars is not None else None):
            if emb is not None:
                bound = (3.0 / emb.embedding_dim) ** 0.5
                nn.init.uniform_(emb.weight, -bound, bound)
                with torch.no_grad():
                    emb.weight[0].zero_()  # padding

    def emissions(self, b: TaggerBatch) -> Tensor:
        """Scores per word and tag ``(B, T, K)``."""
        parts = [self.embed(b.words)]
        if self.casing is not None:
            parts.append(self.casing(b.casing))
        if self.chars is not None:
            per_word = self.chars(b.chars, b.char_lengths)  # (U, 2 Hc): each distinct word once
            parts.append(per_word[b.word_index])
        x = self.drop(torch.cat(parts, dim=-1))
        h, _ = self.rnn(x, b.lengths)
        return self.out(self.drop(h))

    def nll(self, emissions: Tensor, b: TaggerBatch) -> Tensor:
        """Summed negative log-likelihood of the gold tags of every sentence ``(B,)`` (CRF: of the sequence,
        softmax: the sum of the words' cross-entropies)."""
        mask = length_mask(b.lengths.to(emissions.device), emissions.shape[1])
        emissions = emissions.float()
        if self.crf is not None:
            return -self.crf.log_likelihood(emissions, b.tags, mask)
        ce = F.cross_entropy(emissions.transpose(1, 2), b.tags, reduction="none")  # (B, T)
        return (ce * mask).sum(1)

    def loss(self, b: TaggerBatch) -> Tensor:
        """The mean negative log-likelihood per word (module docstring)."""
        return self.nll(self.emissions(b), b).sum() / b.lengths.sum()

    def forward(self, b: TaggerBatch) -> Tensor:
        """The training loss (:meth:`loss`): what a DDP wrapper calls."""
        return self.loss(b)

    def decode_emissions(self, emissions: Tensor, lengths: Tensor) -> Tensor:
        """Best tags ``(B, T)`` (0 at padding): Viterbi with a CRF, else the argmax per word."""
        mask = length_mask(lengths.to(emissions.device), emissions.shape[1])
        if self.crf is not None:
            return self.crf.decode(emissions.float(), mask)
        return emissions.argmax(-1).masked_fill(~mask, 0)

    @torch.no_grad()
    def decode(self, b: TaggerBatch) -> Tensor:
        return self.decode_emissions(self.emissions(b), b.lengths)
