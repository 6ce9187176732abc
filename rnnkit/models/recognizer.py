"""SpeechRecognizer: log-mel frames in, per-frame symbol posteriors out, trained with CTC.

For features ``(B, T, I)`` (log-mel, 10 ms frames) with lengths ``(B,)``::

    z     = (x - mu) / sigma            mu, sigma per channel, from the training set    (B, T, I)
    z     = SpecAugment(z)              training only, optional: time and channel masks  (B, T, I)
    s_j   = W_s [z_{kj}; ..; z_{kj+k-1}] + b_s   k frames stacked (zeros past the end)  (B, T' = ceil(T/k), P)
    h     = RNN(s)                      stacked LSTM/GRU of rnnkit.layers, (bi)directional (B, T', H or 2H)
    log p = log_softmax(W_o h + b_o)    symbols plus the blank (id 0)                   (B, T', V)

Trained with ``torch.nn.functional.ctc_loss`` (Graves et al. 2006): the sum over every alignment of
the transcript to the T' frames, so no frame-level labels are needed. Stacking k frames (20-40 ms
per step) shortens the recurrence k times, as in Sak et al. 2015's low-frame-rate models.

Normalisation by fixed training statistics (not per utterance) and stacking without overlap keep a
unidirectional model streamable: :meth:`SpeechRecognizer.stream` consumes feature frames as they
arrive, carrying the stacking remainder and the recurrent state, and gives the same posteriors as
the whole utterance at once.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.config import field
from rnnkit.models.birnn import BiRNN
from rnnkit.models.lm import CELLS


@dataclasses.dataclass
class RecognizerConfig:
    """The recogniser's shape; saved in every checkpoint and rebuilt from it."""

    cell: str = field("lstm", "recurrent cell", choices=("lstm", "gru"))
    hidden_size: int = field(128, "units H per direction")
    num_layers: int = field(2, "stacked recurrent layers")
    normalise: str = field("auto", "features normalised by the training set's statistics per channel (global: "
                           "streamable) or by each utterance's own (utterance: cepstral mean and variance "
                           "normalisation, offline only); auto: utterance for a bidirectional model, else global",
                           choices=("auto", "global", "utterance"))
    bidirectional: bool = field(True, "read each utterance both ways (offline only; --no-bidirectional streams)")
    stack: int = field(3, "feature frames stacked into one recurrent step (10 ms each)")
    proj_size: int = field(128, "size P of the stacked frames' projection")
    dropout: float = field(0.15, "dropout between layers and before the output layer")
    time_masks: int = field(2, "SpecAugment: time masks per training utterance (0: off)")
    time_mask_frames: int = field(8, "SpecAugment: the longest time mask (frames)")
    freq_masks: int = field(2, "SpecAugment: channel masks per training utterance (0: off)")
    freq_mask_channels: int = field(6, "SpecAugment: the widest channel mask")
    backend: str = field("auto", "recurrent backend", choices=("auto", "native", "fused", "reference"))
    input_size: int = 40  # set by the task: features per frame
    vocab_size: int = 0  # set by the task: symbols + the blank


class SpeechRecognizer(nn.Module):
    """``forward(x (B, T, I), lengths (B,)) -> (log_probs (B, T', V), out_lengths (B,))``."""

    def __init__(self, config: RecognizerConfig) -> None:
        super().__init__()
        c = config
        for name in ("hidden_size", "num_layers", "stack", "proj_size", "input_size"):
            if getattr(c, name) < 1:
                raise ValueError(f"SpeechRecognizer: {name} must be >= 1, got {getattr(c, name)}")
        if c.vocab_size < 2:
            raise ValueError(f"SpeechRecognizer: vocab_size must be >= 2 (a symbol and the blank), got {c.vocab_size}")
        if not 0 <= c.dropout < 1:
            raise ValueError(f"SpeechRecognizer: dropout must be in [0, 1), got {c.dropout}")
        self.config = c
        self.register_buffer("mean", torch.zeros(c.input_size))
        self.register_buffer("std", torch.ones(c.input_size))
        self.proj = nn.Linear(c.stack * c.input_size, c.proj_size)
        if c.bidirectional:
            self.rnn: nn.Module = BiRNN(c.cell, c.proj_size, c.hidden_size, c.num_layers, c.dropout, c.backend)
        else:
            self.rnn = CELLS[c.cell](c.proj_size, c.hidden_size, c.num_layers, batch_first=True,
                                     dropout=c.dropout if c.num_layers > 1 else 0.0, backend=c.backend)
        self.drop = nn.Dropout(c.dropout)
        self.out = nn.Linear(c.hidden_size * (2 if c.bidirectional else 1), c.vocab_size)

    @property
    def normalisation(self) -> str:
        """``global`` or ``utterance``: what ``--normalise`` means for this model (``auto`` resolved)."""
        c = self.config
        return c.normalise if c.normalise != "auto" else "utterance" if c.bidirectional else "global"

    def set_normalisation(self, mean: Tensor, std: Tensor) -> None:
        """The per-channel statistics of the training features (std floored so a flat channel stays finite)."""
        self.mean.copy_(mean)
        self.std.copy_(std.clamp(min=1e-3))

    def out_lengths(self, lengths: Tensor) -> Tensor:
        return torch.div(lengths + self.config.stack - 1, self.config.stack, rounding_mode="floor")

    def _front(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        """Normalised (augmented in training) frames, stacked and projected: ``(B, T, I) -> (B, T', P)``."""
        k = self.config.stack
        z = (x - self.mean) / self.std
        if self.normalisation == "utterance":
            z = _per_utterance(z, lengths)
        if lengths is not None:
            # padding is 0 after normalisation, as the end of a lone utterance is padded: a batch's padding
            # shares a stacked step with an utterance's last frames, and must not change them
            z = z * (torch.arange(z.shape[1], device=z.device) < lengths.to(z.device)[:, None]).unsqueeze(-1)
        if self.training:
            z = self._spec_augment(z)
        B, T, I = z.shape
        pad = (-T) % k
        if pad:
            z = F.pad(z, (0, 0, 0, pad))  # zeros are the training mean after normalisation
        return self.proj(z.reshape(B, (T + pad) // k, k * I))

    def _spec_augment(self, z: Tensor) -> Tensor:
        """Park et al. 2019's time and frequency masks (set to 0, the mean), drawn per utterance."""
        c = self.config
        B, T, I = z.shape
        keep = torch.ones_like(z)
        for b in range(B):
            for _ in range(c.time_masks):
                w = int(torch.randint(c.time_mask_frames + 1, ()))
                t0 = int(torch.randint(max(1, T - w), ()))
                keep[b, t0 : t0 + w] = 0
            for _ in range(c.freq_masks):
                w = int(torch.randint(c.freq_mask_channels + 1, ()))
                f0 = int(torch.randint(max(1, I - w), ()))
                keep[b, :, f0 : f0 + w] = 0
        return z * keep

    def forward(self, x: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        s = self._front(x, lengths)
        out_lengths = self.out_lengths(lengths.to(s.device))
        if self.config.bidirectional:
            h, _ = self.rnn(s, out_lengths)
        else:
            h, _ = self.rnn(s)  # causal: padding after an utterance never reaches its real steps
        return F.log_softmax(self.out(self.drop(h)).float(), dim=-1), out_lengths

    def stream(self) -> RecognizerStream:
        """A stream over one utterance (unidirectional models only; eval mode)."""
        if self.config.bidirectional:
            raise ValueError("a bidirectional recogniser needs the whole utterance: train with --no-bidirectional "
                             "to stream")
        if self.normalisation != "global":
            raise ValueError("per-utterance normalisation needs the whole utterance: train with --normalise global "
                             "to stream")
        return RecognizerStream(self)


def _per_utterance(z: Tensor, lengths: Tensor | None) -> Tensor:
    """``z (B, T, I)`` with each utterance's mean and standard deviation over its real frames removed."""
    B, T, _ = z.shape
    if lengths is None:
        lengths = torch.full((B,), T)
    mask = (torch.arange(T, device=z.device) < lengths.to(z.device)[:, None]).unsqueeze(-1).to(z.dtype)
    n = mask.sum(1, keepdim=True).clamp(min=1)
    mean = (z * mask).sum(1, keepdim=True) / n
    var = ((z - mean) ** 2 * mask).sum(1, keepdim=True) / n
    return (z - mean) / (var + 1e-5).sqrt()


class RecognizerStream:
    """Feature frames in as they arrive, posteriors of every completed stacked step out.

    ``push(frames (n, I)) -> log_probs (m, V)``; ``finish() -> log_probs`` of the last partial stack
    (zero-padded as :meth:`SpeechRecognizer.forward` pads it). Concatenated, they equal the offline
    forward of the whole utterance.
    """

    def __init__(self, model: SpeechRecognizer) -> None:
        self.model = model
        self.pending = torch.zeros(0, model.config.input_size)
        self.state: Any = None
        self.steps = 0

    @torch.no_grad()
    def _run(self, frames: Tensor) -> Tensor:
        m = self.model
        k = m.config.stack
        z = (frames - m.mean) / m.std
        s = m.proj(z.reshape(1, frames.shape[0] // k, k * frames.shape[1]))
        h, self.state = m.rnn(s, self.state)
        self.steps += s.shape[1]
        return F.log_softmax(m.out(h).float(), dim=-1)[0]

    def push(self, frames: Tensor) -> Tensor:
        k = self.model.config.stack
        self.pending = torch.cat([self.pending, frames.to(self.pending.dtype)])
        full = self.pending.shape[0] // k * k
        if not full:
            return torch.zeros(0, self.model.config.vocab_size)
        ready, self.pending = self.pending[:full], self.pending[full:]
        return self._run(ready)

    def finish(self) -> Tensor:
        if not self.pending.shape[0]:
            return torch.zeros(0, self.model.config.vocab_size)
        k = self.model.config.stack
        m = self.model
        # pad in the normalised space, as forward does: a raw frame equal to the mean normalises to 0
        pad = m.mean.expand(k - self.pending.shape[0], -1)
        last, self.pending = torch.cat([self.pending, pad]), self.pending[:0]
        return self._run(last)
