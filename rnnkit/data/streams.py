"""Cutting a token stream into ``B`` parallel streams and chunks of ``K`` steps (truncated BPTT).

The text ``t_0 .. t_{N-1}`` becomes a ``(B, L)`` matrix, row ``b`` the contiguous span
``t_{bL} .. t_{bL+L-1}`` (``L = N // B``; the last ``N - BL`` tokens are left out of
training). Chunk ``j`` is the input ``x = data[:, jK : jK+K]`` and the target the same
span shifted by one. Row ``b`` of chunk ``j+1`` continues row ``b`` of chunk ``j``, so the
hidden state carries over between chunks (and is detached there: gradients flow back at
most ``K`` steps).
"""

from __future__ import annotations

from collections.abc import Iterator

from torch import Tensor

from rnnkit.errors import RnnkitError


def batchify(ids: Tensor, batch_size: int, what: str = "text") -> Tensor:
    """``(B, L)``: ``ids`` ``(N,)`` cut into ``B = batch_size`` contiguous rows of ``L = N // B``."""
    if ids.dim() != 1:
        raise ValueError(f"expected token ids of shape (N,), got {tuple(ids.shape)}")
    L = ids.numel() // batch_size
    if L < 2:
        raise RnnkitError(f"{what} is too short: {ids.numel()} tokens can't fill {batch_size} streams of "
                          f"at least 2 tokens; use a smaller --batch-size")
    return ids[: batch_size * L].view(batch_size, L)


class StreamBatches:
    """The chunks of a ``(B, L)`` stream matrix, ``K`` steps each: ``(x, y)``, both ``(B, k)``, k <= K."""

    def __init__(self, data: Tensor, bptt: int) -> None:
        if bptt < 1:
            raise RnnkitError(f"bptt must be >= 1, got {bptt}")
        self.data, self.bptt = data, bptt

    def __len__(self) -> int:
        return -(-(self.data.size(1) - 1) // self.bptt)

    def chunks(self, start: int = 0) -> Iterator[tuple[Tensor, Tensor]]:
        """Chunks ``start, start+1, ...`` (``start`` resumes mid-epoch)."""
        L = self.data.size(1)
        for j in range(start, len(self)):
            i = j * self.bptt
            k = min(self.bptt, L - 1 - i)
            yield self.data[:, i : i + k], self.data[:, i + 1 : i + 1 + k]
