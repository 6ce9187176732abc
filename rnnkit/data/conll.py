"""Readers of tagged sentences: CoNLL-2003 style columns and CoNLL-U; plain or gzip-compressed.

- **CoNLL columns** (CoNLL-2003 NER): one token per line, columns separated by whitespace
  (``EU NNP I-NP I-ORG``), every line of a file with the same number of columns; a blank line
  ends a sentence; ``-DOCSTART-`` lines separate documents and are skipped.
- **CoNLL-U** (Universal Dependencies): 10 tab-separated columns ``ID FORM LEMMA UPOS XPOS FEATS
  HEAD DEPREL DEPS MISC``; ``#`` comment lines; multiword-token ranges (ID ``1-2``) and empty
  nodes (ID ``1.1``) are skipped, so the tokens are the syntactic words.

Files ending in ``.gz`` (or starting with gzip's magic bytes) are read through gzip. Every
problem is a one-line :class:`RnnkitError` naming ``file:line``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gzip
from collections.abc import Iterator
from pathlib import Path

from rnnkit.errors import RnnkitError, not_a_file

FORMATS = ("conll", "conllu")
CONLLU_COLUMNS = {"upos": 3, "xpos": 4}  # 0-based column of the tag
DOCSTART = "-DOCSTART-"


@dataclasses.dataclass
class Sentence:
    """A tagged sentence and where it came from: ``lines[i]`` is the line of token ``i`` in ``path``."""

    tokens: list[str]
    tags: list[str]
    path: str
    lines: list[int]

    def where(self, i: int = 0) -> str:
        """``file:line`` of token ``i``."""
        return f"{self.path}:{self.lines[i]}"


def _lines(path: str | Path) -> Iterator[tuple[int, str]]:
    """``(line number, line without its newline)``, through gzip when the file is compressed."""
    p = Path(path)
    if not p.is_file():
        raise not_a_file(p)
    with open(p, "rb") as f:
        gz = f.read(2) == b"\x1f\x8b"
    try:
        # bytes decoded line by line: a decoding error then names its line and column (a text stream's
        # offset is into whichever chunk it was reading)
        with gzip.open(p, "rb") if gz else open(p, "rb") as f:
            for n, raw in enumerate(f, 1):
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError as e:
                    raise RnnkitError(f"{p}:{n}: not UTF-8 text ({e.reason}: byte {raw[e.start]:#04x} at column "
                                      f"{e.start + 1})") from None
                if n == 1 and line.startswith("\ufeff"):  # a byte order mark is not part of the first token
                    line = line[1:]
                yield n, line.rstrip("\r\n")
    except (OSError, EOFError) as e:  # a truncated or corrupt gzip file
        raise RnnkitError(f"{p}: cannot be read ({e})") from None


def _column(spec: str, n: int, where: str) -> int:
    """0-based index of column ``spec`` (``last``, ``1``..``n``, or ``-1``..``-n`` from the end) among ``n``."""
    if spec == "last":
        return n - 1
    try:
        k = int(spec)
    except ValueError:
        raise RnnkitError(f"tag column {spec!r}: expected 'last' or a column number") from None
    if 1 <= k <= n:
        return k - 1
    if -n <= k <= -1:
        return n + k
    raise RnnkitError(f"{where}: tag column {spec} does not exist in a line of {n} columns (columns are numbered "
                      f"1..{n}, or -1 for the last)")


def read_conll(path: str | Path, tag_column: str = "last") -> list[Sentence]:
    """The sentences of a CoNLL column file; the tags from ``tag_column`` (``last``, 1-based, or negative)."""
    out: list[Sentence] = []
    tokens: list[str] = []
    tags: list[str] = []
    lines: list[int] = []
    width = first = col = 0

    def flush() -> None:
        if tokens:
            out.append(Sentence(list(tokens), list(tags), str(path), list(lines)))
            tokens.clear(), tags.clear(), lines.clear()

    for n, line in _lines(path):
        cols = line.split()
        if not cols:
            flush()
            continue
        if cols[0] == DOCSTART:
            flush()
            continue
        if not width:
            width, first = len(cols), n
            if width < 2:
                raise RnnkitError(f"{path}:{n}: expected a token and at least one tag column, got 1 column")
            col = _column(tag_column, width, f"{path}:{n}")
        elif len(cols) != width:
            raise RnnkitError(f"{path}:{n}: expected {width} columns (as on line {first}), got {len(cols)}: "
                              f"{line[:60]!r}")
        tokens.append(cols[0])
        tags.append(cols[col])
        lines.append(n)
    flush()
    if not out:
        raise RnnkitError(f"{path}: no sentences (expected token lines with columns, blank lines between sentences)")
    return out


def read_conllu(path: str | Path, column: str = "upos") -> list[Sentence]:
    """The sentences of a CoNLL-U file with the tags of ``column`` (``upos`` or ``xpos``)."""
    if column not in CONLLU_COLUMNS:
        raise RnnkitError(f"CoNLL-U tag column {column!r}: expected one of {', '.join(CONLLU_COLUMNS)}")
    col = CONLLU_COLUMNS[column]
    out: list[Sentence] = []
    tokens: list[str] = []
    tags: list[str] = []
    lines: list[int] = []
    start = 0  # first line of the current sentence (comments included)

    def flush(n: int) -> None:
        if tokens:
            out.append(Sentence(list(tokens), list(tags), str(path), list(lines)))
            tokens.clear(), tags.clear(), lines.clear()
        elif start:
            raise RnnkitError(f"{path}:{start}: empty sentence (lines {start}-{n - 1} hold no word lines)")

    for n, line in _lines(path):
        if not line.strip():
            flush(n)
            start = 0
            continue
        start = start or n
        if line.startswith("#"):
            continue
        cols = line.split("\t")
        if len(cols) != 10:
            raise RnnkitError(f"{path}:{n}: expected 10 tab-separated CoNLL-U columns, got {len(cols)}: {line[:60]!r}")
        ident = cols[0]
        if "-" in ident or "." in ident:
            continue  # a multiword-token range or an empty node: not a syntactic word
        if not ident.isdigit():
            raise RnnkitError(f"{path}:{n}: expected a word ID (1, 2, ...; or a range 1-2, an empty node 1.1), "
                              f"got {ident!r}")
        if cols[1] == "" or cols[col] in ("", "_"):
            raise RnnkitError(f"{path}:{n}: word {ident} has no {'form' if cols[1] == '' else column.upper()}")
        tokens.append(cols[1])
        tags.append(cols[col])
        lines.append(n)
    flush(n + 1 if start else 0)
    if not out:
        raise RnnkitError(f"{path}: no sentences (expected CoNLL-U word lines)")
    return out


def looks_like_conllu(path: str | Path) -> bool:
    """Whether ``path`` is CoNLL-U: named ``*.conllu`` / ``*.conllu.gz``, or its first line is a
    ``# sent_id`` / ``# text`` comment or a 10-column word line numbered from 1 (a CoNLL-2003 file
    has neither); a file that can't be read is left to the reader's error."""
    name = Path(path).name.lower()
    if name.endswith((".conllu", ".conllu.gz")):
        return True
    with contextlib.suppress(RnnkitError):
        for _, line in _lines(path):
            if line.strip():
                cols = line.split("\t")
                return line.startswith(("# sent_id", "# text", "# newdoc")) or (len(cols) == 10 and cols[0] == "1")
    return False


def read(path: str | Path, fmt: str, tag_column: str) -> list[Sentence]:
    """Sentences of ``path`` in ``fmt`` (``conll``: ``tag_column`` as in :func:`read_conll`;
    ``conllu``: ``upos``/``xpos``). A ``conll`` path that is CoNLL-U (:func:`looks_like_conllu`) is read
    as CoNLL-U: as CoNLL columns it would fail on its first comment line."""
    if fmt == "conll" and looks_like_conllu(path):
        fmt = "conllu"
        tag_column = "upos" if tag_column == "last" else tag_column
    if fmt == "conll":
        return read_conll(path, tag_column)
    if fmt == "conllu":
        return read_conllu(path, tag_column)
    raise RnnkitError(f"unknown format {fmt!r}: expected one of {', '.join(FORMATS)}")
