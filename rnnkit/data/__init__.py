"""Reading data: text files, vocabularies; batches as streams (truncated BPTT) or whole lines (full BPTT)."""

from rnnkit.data.lines import IGNORE, LineBatches, line_sequences, pad_batch
from rnnkit.data.streams import StreamBatches, batchify
from rnnkit.data.text import read_text
from rnnkit.data.vocab import EOS, UNK, Vocab

__all__ = ["EOS", "IGNORE", "UNK", "LineBatches", "StreamBatches", "Vocab", "batchify", "line_sequences", "pad_batch",
           "read_text"]
