"""SpeechRecognizer: log-mel frames in, per-frame symbol posteriors out, trained with CTC.

For features ``(B, T, I)`` (log-mel, 10 ms frames) with lengths ``(B,)``::

    z     = (x - mu) / sigma            mu, sigma per channel, from the training set    (B, T, I)
    z_t  -= sum_{s<=t} z_s / (N0 + t+1) running: the mean so far removed (causal CMN)   (B, T, I)
    z     = SpecAugment(z)              training only, optional: time and channel masks  (B, T, I)
    s_j   = W_s [z_{kj}; ..; z_{kj+k-1}] + b_s   k frames stacked (zeros past the end)  (B, T' = ceil(T/k), P)
    h     = RNN(s)                      stacked LSTM/GRU of rnnkit.layers, (bi)directional (B, T', D = H or 2H)
    h'_j  = sum_{i=0..L} w_i * h_{j+i}  lookahead L: row convolution (zeros past the end) (B, T', D)
    log p = log_softmax(W_o h' + b_o)   symbols plus the blank (id 0)                   (B, T', V)

Trained with ``torch.nn.functional.ctc_loss`` (Graves et al. 2006): the sum over every alignment of
the transcript to the T' frames, so no frame-level labels are needed. Stacking k frames (20-40 ms
per step) shortens the recurrence k times, as in Sak et al. 2015's low-frame-rate models.

Normalisation by fixed training statistics (``global``) or by the mean of the frames heard so far
(``running``: cepstral mean normalisation made causal, the training mean standing in for the first
``N0`` = 100 frames, 1 s, so the start of an utterance is not normalised by a handful of frames),
and stacking without overlap keep a unidirectional model streamable: :meth:`SpeechRecognizer.stream`
consumes feature frames as they arrive, carrying the running sum, the stacking remainder and the
recurrent state, and gives the same posteriors as the whole utterance at once.

``lookahead`` L > 0 is Deep Speech 2's row convolution (Amodei et al. 2016): each output step mixes
the recurrent outputs of itself and the next L steps, channel by channel (``w_i`` of size D,
starting as the identity: ``w_0 = 1``). A unidirectional model then decides each step with L steps
(L * k * 10 ms) of the future heard, at that much latency; the stream holds L steps back. By default
(``-1``) a unidirectional model has L = 5 (150 ms: on connected digits the validation WER after 8
epochs fell from 31% without it to 3.6%), a bidirectional one none.
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

AUTO_LOOKAHEAD = 5  # --lookahead auto of a unidirectional model: 150 ms at 3 frames per step


@dataclasses.dataclass
class RecognizerConfig:
    """The recogniser's shape; saved in every checkpoint and rebuilt from it."""

    cell: str = field("lstm", "recurrent cell", choices=("lstm", "gru"))
    hidden_size: int = field(128, "units H per direction")
    num_layers: int = field(2, "stacked recurrent layers")
    normalise: str = field("auto", "features normalised by the training set's statistics per channel (global: "
                           "streamable), then also by the mean of the frames so far (running: streamable) or by each "
                           "utterance's own mean and deviation (utterance: offline only); auto: utterance for a "
                           "bidirectional model, else running", choices=("auto", "global", "running", "utterance"))
    bidirectional: bool = field(True, "read each utterance both ways (offline only; --no-bidirectional streams)")
    stack: int = field(3, "feature frames stacked into one recurrent step (10 ms each)")
    proj_size: int = field(128, "size P of the stacked frames' projection")
    lookahead: int = field(-1, "recurrent steps of the future each output step sees (row convolution; latency "
                           "lookahead x stack x 10 ms; 0: none); -1: auto, 5 for a unidirectional model, 0 for a "
                           "bidirectional one")
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
        if c.lookahead < -1:
            raise ValueError(f"SpeechRecognizer: lookahead must be >= 0 (or -1: auto), got {c.lookahead}")
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
        D = c.hidden_size * (2 if c.bidirectional else 1)
        self.lookahead = c.lookahead if c.lookahead >= 0 else 0 if c.bidirectional else AUTO_LOOKAHEAD
        if self.lookahead:
            self.row = nn.Parameter(torch.cat([torch.ones(1, D), torch.zeros(self.lookahead, D)]))  # (L + 1, D)
        self.out = nn.Linear(D, c.vocab_size)

    @property
    def normalisation(self) -> str:
        """``global``, ``running`` or ``utterance``: what ``--normalise`` means for this model (``auto`` resolved)."""
        c = self.config
        return c.normalise if c.normalise != "auto" else "utterance" if c.bidirectional else "running"

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
        elif self.normalisation == "running":
            z = z - _running_mean(z, torch.zeros_like(z[:, 0]), 0)
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

    def _lookahead(self, h: Tensor) -> Tensor:
        """The row convolution over ``h (B, T' + L, D)``: ``(B, T', D)``, step j from steps j..j+L."""
        L = self.lookahead
        T = h.shape[1] - L
        return sum((self.row[i] * h[:, i : i + T] for i in range(L + 1)), torch.zeros_like(h[:, :T]))

    def _head(self, h: Tensor) -> Tensor:
        return F.log_softmax(self.out(self.drop(h)).float(), dim=-1)

    def forward(self, x: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        s = self._front(x, lengths)
        out_lengths = self.out_lengths(lengths.to(s.device))
        if self.config.bidirectional:
            h, _ = self.rnn(s, out_lengths)
        else:
            h, _ = self.rnn(s)  # causal: padding after an utterance never reaches its real steps
        if self.lookahead:
            # past an utterance's end the row convolution sees zeros, as a lone utterance's (and a stream's) end
            h = h * (torch.arange(h.shape[1], device=h.device) < out_lengths[:, None]).unsqueeze(-1).to(h.dtype)
            h = self._lookahead(F.pad(h, (0, 0, 0, self.lookahead)))
        return self._head(h), out_lengths

    def stream(self) -> RecognizerStream:
        """A stream over one utterance (unidirectional models only; eval mode)."""
        if self.config.bidirectional:
            raise ValueError("a bidirectional recogniser needs the whole utterance: train with --no-bidirectional "
                             "to stream")
        if self.normalisation == "utterance":
            raise ValueError("per-utterance normalisation needs the whole utterance: train with --normalise running "
                             "(or global) to stream")
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


RUNNING_PRIOR_FRAMES = 100  # N0: the training mean (0 after global normalisation) counts as 1 s of frames


def _running_mean(z: Tensor, total: Tensor, seen: int) -> Tensor:
    """The causal mean at every frame of ``z (B, T, I)`` after ``seen`` earlier frames summing to ``total (B, I)``:
    ``(total + sum_{s<=t} z_s) / (N0 + seen + t + 1)``, the prior mean being 0."""
    steps = torch.arange(seen + 1, seen + z.shape[1] + 1, device=z.device, dtype=z.dtype)
    return (total.unsqueeze(1) + z.cumsum(1)) / (RUNNING_PRIOR_FRAMES + steps)[:, None]


class RecognizerStream:
    """Feature frames in as they arrive, posteriors of every completed stacked step out.

    ``push(frames (n, I)) -> log_probs (m, V)``; ``finish() -> log_probs`` of the last partial stack
    (zero-padded as :meth:`SpeechRecognizer.forward` pads it) and of the ``lookahead`` steps held back.
    Concatenated, they equal the offline forward of the whole utterance.
    """

    def __init__(self, model: SpeechRecognizer) -> None:
        c = model.config
        self.model = model
        self.pending = torch.zeros(0, c.input_size)  # normalised frames not yet a whole stack
        self.total, self.seen = torch.zeros(1, c.input_size), 0  # the running normalisation's sum and count
        self.held = torch.zeros(1, 0, c.hidden_size)  # recurrent outputs waiting for their lookahead
        self.state: Any = None
        self.steps = 0

    def _normalise(self, frames: Tensor) -> Tensor:
        m = self.model
        z = (frames - m.mean) / m.std
        if m.normalisation != "running" or not frames.shape[0]:
            return z
        mean = _running_mean(z[None], self.total, self.seen)[0]
        self.total, self.seen = self.total + z.sum(0, keepdim=True), self.seen + frames.shape[0]
        return z - mean

    @torch.no_grad()
    def _run(self, z: Tensor, last: bool = False) -> Tensor:
        m = self.model
        k, L = m.config.stack, m.lookahead
        if z.shape[0]:
            s = m.proj(z.reshape(1, z.shape[0] // k, k * z.shape[1]))
            h, self.state = m.rnn(s, self.state)
            self.steps += s.shape[1]
        else:
            h = self.held[:, :0]
        if not L:
            return m._head(h)[0]
        h = torch.cat([self.held, h], 1)
        if last:
            h = F.pad(h, (0, 0, 0, L))
        ready = h.shape[1] - L
        if ready <= 0:
            self.held = h
            return torch.zeros(0, m.config.vocab_size)
        self.held = h[:, ready:]
        return m._head(m._lookahead(h))[0]

    @torch.no_grad()
    def push(self, frames: Tensor) -> Tensor:
        k = self.model.config.stack
        self.pending = torch.cat([self.pending, self._normalise(frames.to(self.pending.dtype))])
        full = self.pending.shape[0] // k * k
        if not full:
            return torch.zeros(0, self.model.config.vocab_size)
        ready, self.pending = self.pending[:full], self.pending[full:]
        return self._run(ready)

    @torch.no_grad()
    def finish(self) -> Tensor:
        k = self.model.config.stack
        last = self.pending
        if last.shape[0]:
            # zeros in the normalised space, as forward pads the last stack
            last = torch.cat([last, last.new_zeros(k - last.shape[0], last.shape[1])])
        self.pending = self.pending[:0]
        if not last.shape[0] and not self.model.lookahead:
            return torch.zeros(0, self.model.config.vocab_size)
        out = self._run(last, last=True)
        self.held = self.held[:, :0]
        return out
