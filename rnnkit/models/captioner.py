"""Captioner: a small CNN reads the image, an attention decoder writes the caption (one-to-many).

For an image ``(B, 1, Hi, Wi)``::

    F    = CNN(image)   3 conv 3x3 + batch norm + ReLU, max-pools 2x2, 2x1   (B, 2C, Hi/4, Wi/2)
    f_w  = W_f [F[:, :, 0, w]; ..; F[:, :, Hi/4 - 1, w]]   one vector per column  (B, Wi/2, H)
    K    = BiGRU(f)            H/2 units per direction, left to right and back   (B, S = Wi/2, H)
    h_0  = tanh(W_b [h_S(fwd); h_1(bwd)] + b_b)   (an LSTM decoder's c_0 = 0)   (L, B, H)
    logits_t = AttentionDecoder(y_<t, K, h_0)   see :mod:`rnnkit.models.decoder`

The recurrent pass over the columns (as in CRNN, Shi et al. 2015) tells every key where it is
and what is around it: convolutions alone see what is drawn, not where, and a caption read left
to right needs both.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import Tensor, nn

from rnnkit.config import field
from rnnkit.layers.torch_compat import GRU
from rnnkit.models.decoder import ATTENTION, CELLS, AttentionDecoder, DecoderState, Memory
from rnnkit.state import LSTMState


@dataclasses.dataclass
class CaptionerConfig:
    """The captioner's shape; saved in every checkpoint and rebuilt from it."""

    cell: str = field("gru", "recurrent cell of the decoder", choices=tuple(CELLS))
    channels: int = field(32, "channels C of the first convolutions (the last has 2C)")
    embed_size: int = field(32, "word embedding size E")
    hidden_size: int = field(128, "decoder units H")
    num_layers: int = field(1, "stacked decoder layers L")
    attention: str = field("general", "attention over the feature map: bahdanau, dot, general, or none",
                           choices=ATTENTION)
    input_feeding: bool = field(False, "feed the last attentional vector into the next decoder step")
    tie_embeddings: bool = field(False, "share the decoder's embedding and output matrices (needs E == H)")
    dropout: float = field(0.1, "dropout on embeddings, between layers and before the output layer")
    teacher_forcing: float = field(1.0, "probability of reading the gold previous word in training")
    backend: str = field("auto", "recurrent backend", choices=("auto", "native", "fused", "reference"))
    vocab_size: int = 0  # set by the task
    image_height: int = 12  # set by the task
    image_width: int = 40


class Captioner(nn.Module):
    """``forward(images (B, 1, Hi, Wi), y_in (B, T)) -> (logits (B, T, V), attention (B, T, S) or None)``."""

    def __init__(self, config: CaptionerConfig) -> None:
        super().__init__()
        c = config
        for name in ("channels", "embed_size", "hidden_size", "num_layers"):
            if getattr(c, name) < 1:
                raise ValueError(f"Captioner: {name} must be >= 1, got {getattr(c, name)}")
        if c.vocab_size < 5:
            raise ValueError(f"Captioner: vocab_size must be >= 5, got {c.vocab_size}")
        if c.image_height % 4 or c.image_width % 2:
            raise ValueError(f"Captioner: the image height must be a multiple of 4 and its width even, got "
                             f"{c.image_height}x{c.image_width}")
        if c.hidden_size < 2:
            raise ValueError(f"Captioner: hidden_size must be >= 2, got {c.hidden_size}")
        if not 0 <= c.teacher_forcing <= 1:
            raise ValueError(f"Captioner: teacher_forcing must be in [0, 1], got {c.teacher_forcing}")
        self.config = c
        C = c.channels
        self.cnn = nn.Sequential(
            nn.Conv2d(1, C, 3, padding=1), nn.BatchNorm2d(C), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(C, C, 3, padding=1), nn.BatchNorm2d(C), nn.ReLU(), nn.MaxPool2d((2, 1)),
            nn.Conv2d(C, 2 * C, 3, padding=1), nn.BatchNorm2d(2 * C), nn.ReLU())
        for m in self.cnn:
            if isinstance(m, nn.Conv2d):
                # torch's default conv init shrinks the signal layer by layer: the decoder then learns the
                # caption language first and finds no image in the features (a long plateau)
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)
        self.columns = nn.Linear(2 * C * (c.image_height // 4), c.hidden_size)
        self.reader = GRU(c.hidden_size, c.hidden_size // 2, batch_first=True, bidirectional=True)
        self.bridge = nn.Linear(2 * (c.hidden_size // 2), c.hidden_size * c.num_layers)
        self.decoder = AttentionDecoder(c.vocab_size, c.embed_size, c.hidden_size, 2 * (c.hidden_size // 2),
                                        c.num_layers, c.cell, c.attention, c.input_feeding, c.tie_embeddings,
                                        c.dropout, c.backend)

    def encode(self, images: Tensor) -> tuple[Memory, DecoderState]:
        """``images (B, 1, Hi, Wi)`` -> the decoder's memory ``(B, S, H)`` and initial state."""
        c = self.config
        if images.dim() != 4 or images.shape[1:] != (1, c.image_height, c.image_width):
            raise ValueError(f"Captioner: expected images (B, 1, {c.image_height}, {c.image_width}), "
                             f"got {tuple(images.shape)}")
        f = self.cnn(images)  # (B, 2C, Hi/4, Wi/2)
        B = images.shape[0]
        cols = torch.relu(self.columns(f.flatten(1, 2).transpose(1, 2)))  # (B, Wi/2, H): one step per column
        keys, final = self.reader(cols)
        joined = torch.cat([final[0], final[1]], dim=-1)  # both directions' final states (B, H)
        h = torch.tanh(self.bridge(joined)).view(B, c.num_layers, -1).transpose(0, 1).contiguous()
        state = LSTMState(h, torch.zeros_like(h)) if c.cell == "lstm" else h
        mask = torch.ones(B, keys.shape[1], dtype=torch.bool, device=keys.device)
        return self.decoder.memory(keys, mask), self.decoder.initial_state(state, B)

    def forward(self, images: Tensor, y_in: Tensor) -> tuple[Tensor, Tensor | None]:
        memory, state = self.encode(images)
        return self.decoder(y_in, memory, state, self.config.teacher_forcing)
