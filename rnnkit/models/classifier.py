"""SequenceClassifier: many-to-one classification of token or feature sequences.

For a sequence ``x_1 .. x_T`` (``lengths`` says how many steps of a padded batch are real)::

    x_t = <unk> (id 0) with probability word_dropout, while training (token ids)
    E_t = Embed(x_t)  (token ids)   or   Normalize(x)_t  (feature vectors)          (B, T, E|I')
    E_t = Dropout(E_t)                                                             (embed_dropout)
    G_t = ConvFrontEnd(E)   feature inputs with frontend="conv": T' = T / 2^k      (B, T', F)
    H_t = RNN(E_t or G_t)    L stacked layers, D = 2 if bidirectional (BiRNN)      (B, T', D*H)
    p   = Pool(H, lengths)   last | mean | max | attention (padding-aware)         (B, D*H)
          [p ; mean_t G_t]   with the front end, as LSTM-FCN joins its two branches (B, D*H + F)
    y   = W_o Dropout(p) + b_o                                                     (B, C) logits

``Normalize`` is ``normalize="global"``: ``(x_t - mu) / sigma`` with the training set's feature
mean ``mu`` and spread ``sigma`` (``I`` each); or ``"series"``: each series standardised by its
own statistics, with its level and log-scale as ``2 I`` extra features standardised by training
statistics (:mod:`rnnkit.models.frontend`). The statistics are buffers set by the task from the
training data (:meth:`SequenceClassifier.set_normalization`), so a saved model standardises its
inputs the way it was trained. ``"auto"`` in a config is for the task to resolve from the data; a
model built with it (or from a checkpoint older than these fields) uses ``global`` and no front end.
Word dropout (Iyyer et al. 2015) trains the ``<unk>`` embedding,
which is what words never seen in training get at test time. Padding never matters: the recurrent
layer masks it (``lengths=``) and the pooling never reads it.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import Tensor, nn

from rnnkit.config import field
from rnnkit.models import frontend as fe
from rnnkit.models.birnn import BiRNN
from rnnkit.models.frontend import ConvFrontEnd
from rnnkit.models.lm import CELL_HELP, CELLS
from rnnkit.models.pooling import MODES, Pooling

UNK_ID = 0  # the id of <unk> in the task's vocabulary (built with <unk> first)


@dataclasses.dataclass
class ClassifierConfig:
    """The classifier's shape; saved in every checkpoint and rebuilt from it."""

    cell: str = field("lstm", CELL_HELP,
                      choices=tuple(CELLS))
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
    normalize: str = field("auto", "feature inputs: standardise with the training set's per-feature statistics "
                           "(global), or each series by its own, keeping its level and scale as extra features "
                           "(series); auto: series for .ts data, global otherwise", choices=("auto", *fe.NORMALIZE))
    frontend: str = field("auto", "feature inputs: strided conv blocks (LSTM-FCN style) before the recurrent "
                          "layers, or none; auto: conv when the median training length is above "
                          f"{fe.TARGET_STEPS} steps", choices=("auto", "conv", "none"))
    frontend_channels: int = field(64, "conv front end: channels F of every block")
    downsample: int = field(-1, "conv front end: stride-2 blocks k, the recurrent layers see T / 2^k steps "
                            f"(-1: from the median training length, towards {fe.TARGET_STEPS} steps)")
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
        if c.frontend_channels < 1:
            raise ValueError(f"SequenceClassifier: frontend_channels must be >= 1, got {c.frontend_channels}")
        self.config = c
        self.embed = nn.Embedding(c.vocab_size, c.embed_size) if c.vocab_size else None
        # "auto" is the task's to resolve from the data; unresolved it means what it meant before it existed
        self.normalize = "global" if c.normalize == "auto" else c.normalize
        use_conv = c.frontend == "conv" and not c.vocab_size
        in_size = c.embed_size if c.vocab_size else c.input_size
        if not c.vocab_size:
            self.register_buffer("feature_mean", torch.zeros(c.input_size))
            self.register_buffer("feature_std", torch.ones(c.input_size))
            if self.normalize == "series":
                self.register_buffer("extra_mean", torch.zeros(2 * c.input_size))
                self.register_buffer("extra_std", torch.ones(2 * c.input_size))
                in_size = 3 * c.input_size
        self.in_drop = nn.Dropout(c.embed_dropout)
        self.frontend = ConvFrontEnd(in_size, c.frontend_channels, max(0, c.downsample)) if use_conv else None
        if self.frontend is not None:
            in_size = self.frontend.out_size
        D = 2 if c.bidirectional else 1
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
        self.out = nn.Linear(D * c.hidden_size + (self.frontend.out_size if self.frontend is not None else 0),
                             c.num_classes)

    def set_normalization(self, mean: Tensor, std: Tensor, extra_mean: Tensor | None = None,
                          extra_std: Tensor | None = None) -> None:
        """Standardise feature inputs with these per-feature statistics ``(I,)`` (zero spread counts as 1);
        ``normalize="series"`` also takes those of the ``2 I`` level and log-scale features
        (:func:`rnnkit.models.frontend.series_extra_stats`)."""
        if self.embed is not None:
            raise ValueError("SequenceClassifier: token inputs take no feature normalization")
        self.feature_mean.copy_(mean)
        self.feature_std.copy_(torch.where(std > 0, std, torch.ones_like(std)))
        if self.normalize == "series":
            if extra_mean is None or extra_std is None:
                raise ValueError("SequenceClassifier: normalize='series' needs the statistics of the level and "
                                 "scale features too")
            self.extra_mean.copy_(extra_mean)
            # zero spread counts as 1; an infinite one (a constant feature, see series_extra_stats) zeroes it
            self.extra_std.copy_(torch.where(extra_std > 0, extra_std, torch.ones_like(extra_std)))

    def _normalize(self, x: Tensor, lengths: Tensor) -> Tensor:
        if self.normalize == "global":
            return (x - self.feature_mean) / self.feature_std
        if self.normalize == "none":
            return x
        mean, std = fe.series_stats(x, lengths)
        z = (x - mean.unsqueeze(1)) / torch.where(std > 0, std, torch.ones_like(std)).unsqueeze(1)
        extra = (fe.series_extras(mean, std) - self.extra_mean) / self.extra_std
        return torch.cat([z, extra.unsqueeze(1).expand(-1, x.shape[1], -1)], dim=-1)

    def features(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        """The pooled representation ``(B, D*H)`` (``(B, D*H + F)`` with the conv front end) that the output layer
        reads."""
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
        B, T = x.shape[:2]
        if lengths is None:
            lengths = torch.full((B,), T, dtype=torch.long)
        elif lengths.shape != (B,):
            raise ValueError(f"SequenceClassifier: expected lengths ({B},), got {tuple(lengths.shape)}")
        elif B and (int(lengths.min()) < 1 or int(lengths.max()) > T):
            raise ValueError(f"SequenceClassifier: lengths must be in [1, {T}], got {lengths.tolist()[:8]}")
        lengths = lengths.to(x.device)
        return self.pooled(e if self.embed is not None else x, lengths)

    def pooled(self, e: Tensor, lengths: Tensor) -> Tensor:
        """:meth:`features` after the checks, from embeddings ``(B, T, E)`` or raw features ``(B, T, I)`` and
        ``lengths (B,)`` on their device: tensor operations only, so tracing and export capture all of it."""
        if self.embed is None:
            e = self._normalize(e, lengths)
        e = self.in_drop(e)
        conv = None
        if self.frontend is not None:
            e, lengths = self.frontend(e, lengths)
            conv = e
        # outputs past each end are meaningless here; the pooling never reads them
        h, _ = self.rnn(e, lengths) if self.config.bidirectional else self.rnn(e)
        pooled = self.pool(h, lengths)
        if conv is None:
            return pooled
        # the front end's global average (the FCN branch of LSTM-FCN): padding is zero, so sum / length
        gap = conv.sum(1) / lengths.unsqueeze(1).to(conv.dtype)
        return torch.cat([pooled, gap], dim=1)

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        return self.out(self.drop(self.features(x, lengths)))

    def forward_unchecked(self, x: Tensor, lengths: Tensor) -> Tensor:
        """:meth:`forward` in eval mode without the input checks (they read tensor values in Python, which a
        trace would freeze): token ids ``(B, T)`` or features ``(B, T, I)``, ``lengths (B,)`` on their device.
        What an exported graph of the whole classifier should run."""
        return self.out(self.pooled(self.embed(x) if self.embed is not None else x, lengths))
