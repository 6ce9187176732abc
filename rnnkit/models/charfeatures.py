"""Word features from spelling: a character BiLSTM per word (Lample et al. 2016) and the casing class.

The character encoder reads each *distinct* word of a batch once: the ``U`` unique words are
one padded batch ``(U, C)`` for a bidirectional LSTM over characters, and every token picks its
word's vector by index. A word's vector is the final forward state (after the last character)
concatenated with the final backward state (after the first), from :class:`rnnkit.models.birnn.BiRNN`::

    chars (U, C) -> Embed (U, C, Ec) -> BiLSTM -> [h_fwd_last ; h_bwd_first]  (U, 2 Hc)
    tokens: index (B, T) into U -> (B, T, 2 Hc)

Casing (:func:`casing`) keeps what lowercased word embeddings lose: capitals, digits.
"""

from __future__ import annotations

from torch import Tensor, nn

from rnnkit.models.birnn import BiRNN

CASING = ("pad", "lower", "upper", "title", "mixed", "numeric", "has_digit", "other")


def casing(word: str) -> int:
    """The casing class of ``word``: an index into :data:`CASING` (never 0, which is padding)."""
    if word.isdigit():
        return CASING.index("numeric")
    if any(c.isdigit() for c in word):
        return CASING.index("has_digit")
    if word.islower():
        return CASING.index("lower")
    if word.isupper():
        return CASING.index("upper")
    if word[:1].isupper() and word[1:].islower():
        return CASING.index("title")
    if any(c.isupper() for c in word):
        return CASING.index("mixed")
    return CASING.index("other")


class CharEncoder(nn.Module):
    """``forward(chars (U, C), lengths (U,)) -> (U, 2 Hc)``: one vector per distinct word (module docstring)."""

    def __init__(self, num_chars: int, embed_size: int = 25, hidden_size: int = 25, backend: str = "auto") -> None:
        super().__init__()
        if min(num_chars, embed_size, hidden_size) < 1:
            raise ValueError(f"CharEncoder: num_chars, embed_size and hidden_size must be >= 1, got "
                             f"{num_chars}, {embed_size}, {hidden_size}")
        self.embed = nn.Embedding(num_chars, embed_size, padding_idx=0)
        self.rnn = BiRNN("lstm", embed_size, hidden_size, backend=backend)
        self.output_size = 2 * hidden_size

    def forward(self, chars: Tensor, lengths: Tensor) -> Tensor:
        return self.rnn(self.embed(chars), lengths)[1]  # the states at each word's two ends
