"""Seq2Seq: a (bi)directional recurrent encoder and an attention decoder (many-to-many, unequal lengths).

For source ids ``x_1 .. x_S`` ``(B, S)`` with ``lengths`` and target ids ``y_1 .. y_T``::

    K_s      = BiRNN(Embed(x_s))       H/2 units per direction, padding masked    (B, S, H)
    h_0      = tanh(W_b [h_S(fwd); h_1(bwd)] + b_b)   per layer (c_0 alike, LSTM) (L, B, H)
    logits_t = AttentionDecoder(y_<t, K, h_0)         see :mod:`rnnkit.models.decoder`   (B, T, V)

The decoder starts from the encoder's final states (both directions, through the bridge
``W_b``) and attends over all encoder outputs; padded source steps get attention weight 0, so
a sentence's translation does not depend on what it is batched with.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch
from torch import Tensor, nn

from rnnkit.config import field
from rnnkit.data.batching import length_mask
from rnnkit.models.decoder import ATTENTION, CELLS, AttentionDecoder, DecoderState, Memory


@dataclasses.dataclass
class Seq2SeqConfig:
    """The encoder-decoder's shape; saved in every checkpoint and rebuilt from it."""

    cell: str = field("lstm", "recurrent cell of encoder and decoder", choices=tuple(CELLS))
    embed_size: int = field(256, "token embedding size E (source and target)")
    hidden_size: int = field(256, "decoder units H; a bidirectional encoder has H/2 per direction")
    num_layers: int = field(1, "stacked layers L in the encoder and in the decoder")
    bidirectional: bool = field(True, "bidirectional encoder")
    attention: str = field("general", "attention score: bahdanau (additive), dot or general (Luong), or none",
                           choices=ATTENTION)
    input_feeding: bool = field(False, "feed the last attentional vector into the next decoder step (Luong)")
    tie_embeddings: bool = field(False, "share the decoder's embedding and output matrices (needs E == H)")
    dropout: float = field(0.2, "dropout on embeddings, between layers and before the output layer")
    teacher_forcing: float = field(1.0, "probability of reading the gold previous token in training "
                                        "(below 1 the decoder steps through time: slower)")
    backend: str = field("auto", "recurrent backend", choices=("auto", "native", "fused", "reference"))
    src_vocab: int = 0  # set by the task from its tokenizers
    tgt_vocab: int = 0


def bridge_states(final: Any, layers: int, directions: int) -> Any:
    """Encoder final states ``(L*D, B, Hd)`` (or an LSTM's ``(h, c)``) -> ``(L, B, D*Hd)`` per tensor."""
    def join(t: Tensor) -> Tensor:
        L_D, B, Hd = t.shape
        return t.view(layers, directions, B, Hd).permute(0, 2, 1, 3).reshape(layers, B, directions * Hd)

    return tuple(join(t) for t in final) if isinstance(final, tuple) else join(final)


class Seq2Seq(nn.Module):
    """``forward(src (B, S), src_lengths (B,), y_in (B, T)) -> (logits (B, T, V), attention (B, T, S) or None)``."""

    def __init__(self, config: Seq2SeqConfig) -> None:
        super().__init__()
        c = config
        for name in ("src_vocab", "tgt_vocab"):
            if getattr(c, name) < 4:
                raise ValueError(f"Seq2Seq: {name} must be >= 4 (the special tokens), got {getattr(c, name)}")
        for name in ("embed_size", "hidden_size", "num_layers"):
            if getattr(c, name) < 1:
                raise ValueError(f"Seq2Seq: {name} must be >= 1, got {getattr(c, name)}")
        if c.bidirectional and c.hidden_size % 2:
            raise ValueError(f"Seq2Seq: a bidirectional encoder needs an even hidden_size, got {c.hidden_size}")
        if not 0 <= c.teacher_forcing <= 1:
            raise ValueError(f"Seq2Seq: teacher_forcing must be in [0, 1], got {c.teacher_forcing}")
        if c.cell not in CELLS:
            raise ValueError(f"Seq2Seq: unknown cell {c.cell!r}: expected one of {', '.join(CELLS)}")
        self.config = c
        D = 2 if c.bidirectional else 1
        self.src_embed = nn.Embedding(c.src_vocab, c.embed_size)
        self.drop = nn.Dropout(c.dropout)
        self.encoder = CELLS[c.cell](c.embed_size, c.hidden_size // D, c.num_layers, batch_first=True,
                                     bidirectional=c.bidirectional, dropout=c.dropout if c.num_layers > 1 else 0.0,
                                     backend=c.backend)
        self.bridge_h = nn.Linear(c.hidden_size, c.hidden_size)
        self.bridge_c = nn.Linear(c.hidden_size, c.hidden_size) if c.cell == "lstm" else None
        self.decoder = AttentionDecoder(c.tgt_vocab, c.embed_size, c.hidden_size, c.hidden_size, c.num_layers,
                                        c.cell, c.attention, c.input_feeding, c.tie_embeddings, c.dropout, c.backend)

    def encode(self, src: Tensor, lengths: Tensor) -> tuple[Memory, DecoderState]:
        """``src (B, S)``, ``lengths (B,)`` -> the decoder's memory ``(B, S, H)`` and its initial state."""
        if src.dim() != 2 or src.dtype != torch.long:
            raise ValueError(f"Seq2Seq: expected source ids (B, S) of dtype int64, got {tuple(src.shape)} {src.dtype}")
        c = self.config
        keys, final = self.encoder(self.drop(self.src_embed(src)), lengths=lengths)
        joined = bridge_states(final, c.num_layers, 2 if c.bidirectional else 1)
        if self.bridge_c is not None:
            h, cell = joined
            state = type(final)(torch.tanh(self.bridge_h(h)), self.bridge_c(cell))
        else:
            state = torch.tanh(self.bridge_h(joined))
        mask = length_mask(lengths.to(src.device), src.shape[1])
        return self.decoder.memory(keys, mask), self.decoder.initial_state(state, src.shape[0])

    def forward(self, src: Tensor, src_lengths: Tensor, y_in: Tensor) -> tuple[Tensor, Tensor | None]:
        memory, state = self.encode(src, src_lengths)
        return self.decoder(y_in, memory, state, self.config.teacher_forcing)
