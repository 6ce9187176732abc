"""The attention decoder shared by the encoder-decoder (translation) and the captioner.

Luong et al. (2015) style: the recurrent state reads the previous token; attention (any
:mod:`~rnnkit.models.attention` score) then looks at the memory with the new hidden state::

    x_t  = Embed(y_{t-1})   [; h~_{t-1}  with input feeding]          (B, E [+ H])
    h_t  = RNN(x_t, h_{t-1})   L stacked layers                       (B, H)
    c_t, a_t = Attention(h_t, memory)                                 (B, K), (B, S)
    h~_t = tanh(W_c [c_t; h_t])      (h~_t = h_t without attention)   (B, H)
    p(y_t | y_<t, x) = softmax(W_o Dropout(h~_t))                     (B, V)

With teacher forcing (the gold previous token at every step) and no input feeding, all steps run
in one call of the recurrent layer and one batched attention: the fast path for training. Input
feeding, or a teacher-forcing ratio below 1, steps through time. Tied embeddings share ``W_o``
with the target embedding (needs ``E == H``).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import torch
from torch import Tensor, nn

from rnnkit.layers.torch_compat import GRU, LSTM, RNN
from rnnkit.models.attention import KINDS, Attention

CELLS = {"lstm": LSTM, "gru": GRU, "rnn": RNN}
ATTENTION = (*KINDS, "none")


class Memory(NamedTuple):
    """What the decoder attends to: ``keys (B, S, K)``, ``mask (B, S)`` (True at real steps), and the
    keys' query-independent score terms ``prepared`` (computed once, see :meth:`Attention.prepare`)."""

    keys: Tensor
    mask: Tensor
    prepared: Tensor | None

    def select(self, index: Tensor) -> Memory:
        """The memory of batch rows ``index`` (beams: repeat or reorder rows)."""
        return Memory(self.keys.index_select(0, index), self.mask.index_select(0, index),
                      None if self.prepared is None else self.prepared.index_select(0, index))


class DecoderState(NamedTuple):
    """``rnn``: the recurrent state (``h`` or ``(h, c)``, each ``(L, B, H)``); ``feed``: the last attentional
    vector ``h~ (B, H)`` with input feeding, else None."""

    rnn: Any
    feed: Tensor | None

    def select(self, index: Tensor) -> DecoderState:
        """The state of batch rows ``index``."""
        rnn = (type(self.rnn)(*(t.index_select(1, index) for t in self.rnn)) if isinstance(self.rnn, tuple)
               else self.rnn.index_select(1, index))
        return DecoderState(rnn, None if self.feed is None else self.feed.index_select(0, index))


class AttentionDecoder(nn.Module):
    """See the module docstring. ``forward`` scores a whole target (training); ``step`` takes one token
    (decoding)."""

    def __init__(self, vocab_size: int, embed_size: int, hidden_size: int, key_size: int, num_layers: int = 1,
                 cell: str = "lstm", attention: str = "general", input_feeding: bool = False,
                 tie_embeddings: bool = False, dropout: float = 0.0, backend: str = "auto") -> None:
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"AttentionDecoder: unknown cell {cell!r}: expected one of {', '.join(CELLS)}")
        if attention not in ATTENTION:
            raise ValueError(f"AttentionDecoder: unknown attention {attention!r}: expected one of "
                             f"{', '.join(ATTENTION)}")
        if tie_embeddings and embed_size != hidden_size:
            raise ValueError(f"AttentionDecoder: tie_embeddings needs embed_size == hidden_size, got {embed_size} "
                             f"and {hidden_size}")
        if not 0 <= dropout < 1:
            raise ValueError(f"AttentionDecoder: dropout must be in [0, 1), got {dropout}")
        self.hidden_size, self.input_feeding = hidden_size, input_feeding
        self.embed = nn.Embedding(vocab_size, embed_size)
        self.drop = nn.Dropout(dropout)
        self.rnn = CELLS[cell](embed_size + (hidden_size if input_feeding else 0), hidden_size, num_layers,
                               batch_first=True, dropout=dropout if num_layers > 1 else 0.0, backend=backend)
        self.attn = Attention(attention, hidden_size, key_size) if attention != "none" else None
        self.combine = nn.Linear(key_size + hidden_size, hidden_size) if self.attn is not None else None
        self.out = nn.Linear(hidden_size, vocab_size)
        if tie_embeddings:
            self.out.weight = self.embed.weight

    def memory(self, keys: Tensor, mask: Tensor) -> Memory:
        """Wrap encoder outputs ``keys (B, S, K)`` and their ``mask (B, S)``, with the score terms prepared."""
        return Memory(keys, mask, self.attn.prepare(keys) if self.attn is not None else None)

    def initial_state(self, rnn_state: Any, batch: int) -> DecoderState:
        feed = None
        if self.input_feeding:
            h = rnn_state[0] if isinstance(rnn_state, tuple) else rnn_state
            feed = h.new_zeros(batch, self.hidden_size)
        return DecoderState(rnn_state, feed)

    def _readout(self, h: Tensor, memory: Memory) -> tuple[Tensor, Tensor | None]:
        """``h (B, T, H)`` -> attentional vectors ``h~ (B, T, H)`` and weights ``(B, T, S)`` (None: no attention)."""
        if self.attn is None:
            return h, None
        ctx, weights = self.attn(h, memory.keys, memory.mask, memory.prepared)
        return torch.tanh(self.combine(torch.cat([ctx, h], dim=-1))), weights

    def step(self, y_prev: Tensor, memory: Memory, state: DecoderState
             ) -> tuple[Tensor, DecoderState, Tensor | None]:
        """One step: ``y_prev (B,)`` -> ``(logits (B, V), state, attention weights (B, S) or None)``."""
        x = self.drop(self.embed(y_prev)).unsqueeze(1)
        if self.input_feeding:
            x = torch.cat([x, state.feed.unsqueeze(1)], dim=-1)
        h, rnn_state = self.rnn(x, state.rnn)
        out, weights = self._readout(h, memory)
        out = out.squeeze(1)
        logits = self.out(self.drop(out))
        return (logits, DecoderState(rnn_state, out if self.input_feeding else None),
                None if weights is None else weights.squeeze(1))

    def forward(self, y_in: Tensor, memory: Memory, state: DecoderState, teacher_forcing: float = 1.0
                ) -> tuple[Tensor, Tensor | None]:
        """Score a target: ``y_in (B, T)`` (``<bos> y_1 .. y_{T-1}``) -> ``(logits (B, T, V), weights (B, T, S))``.

        ``teacher_forcing`` < 1 (training only): at each step after the first, with probability
        ``1 - teacher_forcing`` the whole batch reads its own previous prediction instead of the gold token.
        """
        use_model = self.training and teacher_forcing < 1.0
        if not (self.input_feeding or use_model):  # fast path: every step at once
            h, _ = self.rnn(self.drop(self.embed(y_in)), state.rnn)
            out, weights = self._readout(h, memory)
            return self.out(self.drop(out)), weights
        logits, all_weights = [], []
        tok = y_in[:, 0]
        for t in range(y_in.shape[1]):
            if t > 0:
                gold = not use_model or float(torch.rand(())) < teacher_forcing
                tok = y_in[:, t] if gold else logits[-1].argmax(-1).detach()
            step_logits, state, weights = self.step(tok, memory, state)
            logits.append(step_logits)
            all_weights.append(weights)
        stacked = None if all_weights[0] is None else torch.stack(all_weights, dim=1)
        return torch.stack(logits, dim=1), stacked
