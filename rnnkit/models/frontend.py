"""What a feature-sequence classifier does before its recurrent layers: input normalisation and a conv front end.

Normalisation of feature inputs ``x (B, T, I)`` (``lengths`` say which steps are real):

- ``global``: ``(x - mu) / sigma`` per feature, with the training set's statistics (buffers).
- ``series``: every series and channel standardised by its own mean ``m`` and spread ``s`` over
  its real steps (the usual z-normalisation of the UCR archive, so an offset or a gain between
  recordings does not matter), plus ``m`` and ``log s`` of every channel as ``2 I`` more input
  features, constant over time and standardised with training statistics: level and scale may
  still carry the class, so they are kept, just not mixed into the shape.
- ``none``: the values as they are.

The conv front end (:class:`ConvFrontEnd`) follows the fully convolutional blocks of FCN and
LSTM-FCN (Wang et al. 2017; Karim et al. 2017): ``Conv1d -> BatchNorm -> ReLU`` blocks with
kernels 7, 5, 3, of which the first ``downsample`` have stride 2, so a long series reaches the
recurrent layers ``2^downsample`` times shorter: an RNN learns poorly through hundreds of steps
from few examples, while convolutions find local shapes wherever they occur. The batch
normalisation counts only real steps (:class:`MaskedBatchNorm1d`) and padded steps are zeroed
after every block, so padding never changes a sequence's result.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from rnnkit.data.batching import length_mask

NORMALIZE = ("global", "series", "none")
KERNELS = (7, 5, 3)  # FCN's 8, 5, 3, odd so that "same" padding is symmetric
MAX_DOWNSAMPLE = 5
TARGET_STEPS = 48  # the front end shortens a series to about this many steps (see plan_downsample)


def plan_downsample(length: float, target: int = TARGET_STEPS) -> int:
    """Stride-2 blocks that bring a series of ``length`` steps near ``target`` steps: ``ceil(log2(length /
    target))``, in ``[0, MAX_DOWNSAMPLE]``."""
    if length <= target:
        return 0
    return min(MAX_DOWNSAMPLE, math.ceil(math.log2(length / target)))


def series_stats(x: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
    """Per-series, per-channel mean and standard deviation ``(B, I)`` over the real steps of ``x (B, T, I)``."""
    mask = length_mask(lengths.to(x.device), x.shape[1]).unsqueeze(-1).to(x.dtype)  # (B, T, 1)
    n = lengths.to(x.device, x.dtype).clamp(min=1).unsqueeze(-1)
    mean = (x * mask).sum(1) / n
    var = (((x - mean.unsqueeze(1)) * mask) ** 2).sum(1) / n
    return mean, var.sqrt()


def series_extras(mean: Tensor, std: Tensor) -> Tensor:
    """The ``2 I`` level and scale features of ``series`` normalisation: ``[m, log s]`` (``log`` floored)."""
    return torch.cat([mean, torch.log(std.clamp(min=1e-8))], dim=-1)


def series_extra_stats(items: list[Tensor]) -> tuple[Tensor, Tensor]:
    """Mean and spread ``(2 I,)`` of :func:`series_extras` over training series ``(T_i, I)`` (for standardising).

    A level or scale that hardly varies between series (data already z-normalised, as most of the
    UCR archive is) gets an infinite spread, so its feature is 0: standardising it would blow
    rounding noise up to unit variance, a feature the model could only overfit to."""
    rows = []
    for x in items:
        m, s = series_stats(x.unsqueeze(0).double(), torch.tensor([x.shape[0]]))
        rows.append(series_extras(m, s)[0])
    allrows = torch.stack(rows)
    mean, std = allrows.mean(0), allrows.std(0, unbiased=False)
    I = allrows.shape[1] // 2
    overall = torch.cat(list(items)).double().std(0, unbiased=False)  # (I,): the spread of the values
    # a level constant to 1e-3 of the values' spread, a scale constant to 0.1%, carry nothing
    flat = torch.cat([std[:I] <= 1e-3 * overall, std[I:] <= 1e-3])
    return mean.float(), torch.where(flat, torch.full_like(std, math.inf), std).float()


class MaskedBatchNorm1d(nn.BatchNorm1d):
    """BatchNorm over ``(B, C, T)`` whose batch statistics count only the real steps (``mask (B, 1, T)``)."""

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:  # type: ignore[override]
        if mask is None or not self.training:
            return super().forward(x)
        m = mask.to(x.dtype)
        n = m.sum().clamp(min=1)
        mean = (x * m).sum((0, 2)) / n
        var = (((x - mean[None, :, None]) * m) ** 2).sum((0, 2)) / n
        with torch.no_grad():
            unbiased = var * n / (n - 1).clamp(min=1)
            self.running_mean.lerp_(mean.detach(), self.momentum)
            self.running_var.lerp_(unbiased.detach(), self.momentum)
            self.num_batches_tracked += 1
        y = (x - mean[None, :, None]) / torch.sqrt(var[None, :, None] + self.eps)
        return y * self.weight[None, :, None] + self.bias[None, :, None]


class ConvFrontEnd(nn.Module):
    """``forward(x (B, T, I), lengths (B,)) -> (y (B, T', F), lengths' (B,))``; see the module docstring.

    Args:
        in_size: input features ``I``.
        channels: output features ``F`` of every block.
        downsample: how many blocks (the first ones) have stride 2; blocks are ``max(3, downsample)``,
            the ones past the three kernels with kernel 3.
    """

    def __init__(self, in_size: int, channels: int, downsample: int) -> None:
        super().__init__()
        if in_size < 1 or channels < 1:
            raise ValueError(f"ConvFrontEnd: in_size and channels must be >= 1, got {in_size} and {channels}")
        if not 0 <= downsample <= MAX_DOWNSAMPLE:
            raise ValueError(f"ConvFrontEnd: downsample must be in [0, {MAX_DOWNSAMPLE}], got {downsample}")
        self.downsample = downsample
        n = max(len(KERNELS), downsample)
        self.kernels = [KERNELS[i] if i < len(KERNELS) else 3 for i in range(n)]
        self.strides = [2 if i < downsample else 1 for i in range(n)]
        self.convs = nn.ModuleList()
        self.norms = nn.ModuleList()
        size = in_size
        for k, s in zip(self.kernels, self.strides):
            self.convs.append(nn.Conv1d(size, channels, k, stride=s, padding=k // 2))
            self.norms.append(MaskedBatchNorm1d(channels))
            size = channels
        self.out_size = channels

    def out_lengths(self, lengths: Tensor) -> Tensor:
        """The real steps after every block: ``floor((L + 2 (k // 2) - k) / s) + 1``, at least 1."""
        for k, s in zip(self.kernels, self.strides):
            lengths = torch.div(lengths + 2 * (k // 2) - k, s, rounding_mode="floor") + 1
        return lengths.clamp(min=1)

    def forward(self, x: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        h = x.transpose(1, 2)  # (B, I, T)
        mask = length_mask(lengths, h.shape[2]).unsqueeze(1)
        h = h * mask.to(h.dtype)  # padding reads as zeros, as "same" padding does at the true end
        for k, s, conv, norm in zip(self.kernels, self.strides, self.convs, self.norms):
            h = conv(h)
            lengths = (torch.div(lengths + 2 * (k // 2) - k, s, rounding_mode="floor") + 1).clamp(min=1)
            mask = length_mask(lengths, h.shape[2]).unsqueeze(1)
            h = torch.relu(norm(h, mask)) * mask.to(h.dtype)
        return h.transpose(1, 2), lengths
