"""BiRNN: a bidirectional stack over right-padded batches that keeps torch's fastest kernels.

A bidirectional layer with ``lengths=`` must read each sequence backwards from its own last
step; torch's kernel does that through a packed sequence, whose CPU path steps cell by cell
(oneDNN takes only unpacked input: 3-5x slower for a tagger). Here each direction is a
unidirectional rnnkit layer run on unpacked input:

- forward: the padded batch as it is. Padding follows the real steps, so it never reaches them.
- backward: each sequence reversed *within its length* (:func:`reverse_within`), so that the
  padding again comes last, run forwards, and reversed back.

The outputs at the real steps are exactly those of a bidirectional layer with ``lengths``;
the outputs at padded steps are meaningless (callers mask them). :meth:`BiRNN.forward` also
returns each sequence's final states: forward after its last step, backward after its first.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rnnkit.models.lm import CELLS


def reverse_within(x: Tensor, lengths: Tensor) -> Tensor:
    """``x (B, T, F)`` with steps ``0..len-1`` of every row reversed, padded steps left in place (an involution)."""
    T = x.shape[1]
    t = torch.arange(T, device=x.device).unsqueeze(0)
    L = lengths.to(x.device).unsqueeze(1)
    idx = torch.where(t < L, L - 1 - t, t)  # (B, T)
    return x.gather(1, idx.unsqueeze(2).expand_as(x))


class BiRNN(nn.Module):
    """``forward(x (B, T, I), lengths (B,)) -> (out (B, T, 2H), final (B, 2H))``, see the module docstring.

    ``num_layers`` bidirectional layers of ``cell`` (``lstm``, ``gru``, ``rnn``); ``dropout`` between layers.
    """

    def __init__(self, cell: str, input_size: int, hidden_size: int, num_layers: int = 1, dropout: float = 0.0,
                 backend: str = "auto") -> None:
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"BiRNN: unknown cell {cell!r}: expected one of {', '.join(CELLS)}")
        if num_layers < 1:
            raise ValueError(f"BiRNN: num_layers must be >= 1, got {num_layers}")
        self.hidden_size, self.num_layers = hidden_size, num_layers
        sizes = [input_size] + [2 * hidden_size] * (num_layers - 1)
        self.fwd = nn.ModuleList(CELLS[cell](n, hidden_size, batch_first=True, backend=backend) for n in sizes)
        self.bwd = nn.ModuleList(CELLS[cell](n, hidden_size, batch_first=True, backend=backend) for n in sizes)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        last = (lengths.to(x.device) - 1).view(-1, 1, 1)
        for k, (f, b) in enumerate(zip(self.fwd, self.bwd)):
            if k:
                x = self.drop(x)
            out_f, _ = f(x)
            out_r, _ = b(reverse_within(x, lengths))
            x = torch.cat([out_f, reverse_within(out_r, lengths)], dim=-1)
        H = self.hidden_size
        # forward final state: at the last real step; backward: the reversed run's last real step
        final = torch.cat([out_f.gather(1, last.expand(-1, 1, H)), out_r.gather(1, last.expand(-1, 1, H))], -1)
        return x, final.squeeze(1)
