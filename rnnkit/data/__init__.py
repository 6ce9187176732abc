"""Reading data: text files, vocabularies, and batching into streams for truncated BPTT."""

from rnnkit.data.streams import StreamBatches, batchify
from rnnkit.data.text import read_text
from rnnkit.data.vocab import EOS, UNK, Vocab

__all__ = ["EOS", "UNK", "StreamBatches", "Vocab", "batchify", "read_text"]
