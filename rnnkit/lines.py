"""Lines of a stream (stdin) in batches as they arrive, for commands that answer each batch at once.

``for line in sys.stdin`` grouped into batches of N would wait for N lines (or the end of the input)
before the first answer; a pipe fed by hand or by a slow producer would see nothing. Here a batch is
whatever complete lines one read of the file descriptor returned (at most ``size`` of them), so the
first line is answered as soon as it arrives, and memory stays bounded by ``size`` lines and one read.
"""

from __future__ import annotations

import codecs
import os
from collections.abc import Iterable, Iterator
from typing import TextIO

READ_SIZE = 1 << 16  # bytes per read: one pipe buffer


def line_batches(stream: TextIO, size: int) -> Iterator[list[str]]:
    """Batches of at most ``size`` lines of ``stream`` (line ends removed), each yielded as soon as its lines
    have arrived. A stream without a file descriptor (a ``StringIO``) is read line by line."""
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        yield from chunks((line.rstrip("\r\n") for line in stream), size)
        return
    encoding, errors = getattr(stream, "encoding", None) or "utf-8", getattr(stream, "errors", None) or "strict"
    decoder = codecs.getincrementaldecoder(encoding)(errors)
    rest = ""
    while True:
        data = os.read(fd, READ_SIZE)
        text = rest + decoder.decode(data, final=not data)
        if not data:
            if text:
                yield [text.rstrip("\r\n")]
            return
        *complete, rest = text.split("\n")
        yield from chunks((line.rstrip("\r") for line in complete), size)


def chunks(lines: Iterable[str], size: int) -> Iterator[list[str]]:
    """``lines`` in lists of ``size`` (the last one shorter)."""
    batch: list[str] = []
    for line in lines:
        batch.append(line)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
