"""Labelled texts for classification: TSV / CSV files with chosen columns, and ``label sentence`` lines.

- ``tsv``: tab-separated, no quoting (a tab never occurs inside a field).
- ``csv``: comma-separated with the usual double-quote quoting (Python's ``csv`` module, Excel dialect).
- ``label-sentence``: one example per line, the label, one space, then the sentence (the format of
  Kim 2014's SST-2 / MR / TREC files: ``1 a stirring , funny ...``).

Columns are chosen by 0-based index, or by name when the file has a header row. Every row must
have the header's (or the first row's) number of columns; blank lines are skipped. Problems are
:class:`~rnnkit.errors.RnnkitError` naming ``file:line``: a row with the wrong number of columns,
an empty text, a missing label, undecodable bytes.
"""

from __future__ import annotations

import csv
import dataclasses
from collections.abc import Iterator
from pathlib import Path

from rnnkit.errors import RnnkitError, not_a_file

FORMATS = ("tsv", "csv", "label-sentence")


@dataclasses.dataclass(frozen=True)
class TextExample:
    """One labelled text; ``where`` is ``file:line`` for messages."""

    text: str
    label: str
    where: str


def _lines(path: Path, encoding: str) -> Iterator[tuple[int, str]]:
    """``(line number, line without its end)``; undecodable bytes are an error naming the line."""
    if not path.is_file():
        raise not_a_file(path)
    with path.open("rb") as f:
        for no, raw in enumerate(f, 1):
            try:
                line = raw.decode(encoding)
            except UnicodeDecodeError as e:
                raise RnnkitError(f"{path}:{no}: not valid {encoding} (byte {raw[e.start]:#04x} at column "
                                  f"{e.start + 1}); pass --encoding, e.g. latin-1") from None
            except LookupError:
                raise RnnkitError(f"unknown text encoding {encoding!r}") from None
            if no == 1 and line.startswith("\ufeff"):  # a byte order mark is not part of the first field
                line = line[1:]
            yield no, line.rstrip("\r\n")


def _column(spec: str, header: list[str] | None, what: str, path: Path) -> int:
    """The 0-based index of column ``spec``: a number, or a name from the header row."""
    if spec.strip().isdigit():
        return int(spec)
    if header is None:
        raise RnnkitError(f"{path}: {what} column {spec!r} is a name, but the file has no header row; "
                          f"pass --header, or give the column as a 0-based index")
    names = [h.strip() for h in header]
    if spec not in names:
        raise RnnkitError(f"{path}:1: no {what} column {spec!r} in the header; columns: {', '.join(names)}")
    return names.index(spec)


def _check_closed_quotes(path: Path, numbered: list[tuple[int, str]], start: int, end: int) -> None:
    """The csv module reads an unterminated quote as a field that runs to the end of the file (and then
    the file has "too few examples"): name the line where that quote opened instead."""
    if start >= end:
        return
    try:
        for _ in csv.reader((line for _, line in numbered[start - 1:]), strict=True):
            pass
    except csv.Error as e:
        if "unexpected end of data" in str(e):
            raise RnnkitError(f"{path}:{start}: a quote opened on this line is never closed, so lines {start}-{end} "
                              f"would be one field; close it, or double a quote inside a field (\"\")") from None


def read_delimited(path: str | Path, fmt: str = "tsv", label_column: str = "0", text_column: str = "1",
                   header: bool = False, encoding: str = "utf-8") -> list[TextExample]:
    """The examples of a TSV (``fmt="tsv"``) or CSV (``"csv"``) file.

    ``label_column`` / ``text_column``: 0-based indices, or names from the header row (``header=True``).
    """
    if fmt not in ("tsv", "csv"):
        raise RnnkitError(f"unknown delimited format {fmt!r}: expected tsv or csv")
    path = Path(path)
    numbered = list(_lines(path, encoding))
    if fmt == "tsv":
        reader = csv.reader((line for _, line in numbered), delimiter="\t", quoting=csv.QUOTE_NONE)
    else:
        reader = csv.reader(line for _, line in numbered)
    rows: list[tuple[int, list[str]]] = []
    try:
        for row in reader:
            rows.append((reader.line_num, row))  # the line where the row ends
    except csv.Error as e:
        raise RnnkitError(f"{path}:{reader.line_num}: malformed {fmt.upper()} ({e})") from None
    if fmt == "csv" and rows:
        _check_closed_quotes(path, numbered, rows[-2][0] + 1 if len(rows) > 1 else 1, rows[-1][0])
    rows = [(no, r) for no, r in rows if r and any(f.strip() for f in r)]
    if not rows:
        raise RnnkitError(f"{path}: no examples (the file is empty)")
    names = rows[0][1] if header else None
    if header:
        rows = rows[1:]
    li = _column(label_column, names, "label", path)
    ti = _column(text_column, names, "text", path)
    width = len(names) if names is not None else len(rows[0][1]) if rows else 0
    if max(li, ti) >= width:
        raise RnnkitError(f"{path}: the file has {width} columns; label column {li} and text column {ti} "
                          f"(0-based) don't both exist")
    if li == ti:
        raise RnnkitError(f"{path}: the label and text columns are the same column ({li})")
    out = []
    for no, row in rows:
        if len(row) != width:
            raise RnnkitError(f"{path}:{no}: expected {width} {fmt.upper()} columns, got {len(row)}")
        text, label = row[ti].strip(), row[li].strip()
        if not text:
            raise RnnkitError(f"{path}:{no}: empty text in column {ti}")
        if not label:
            raise RnnkitError(f"{path}:{no}: empty label in column {li}")
        out.append(TextExample(text, label, f"{path}:{no}"))
    if not out:
        raise RnnkitError(f"{path}: no examples after the header row")
    _check_layout(path, [r for _, r in rows], li, ti, header)
    return out


# a label column with more distinct values than this fraction of the rows (of a file this long) is
# not one: a class per row or nearly so means the columns (or a header row) were read wrongly
LABELS_PER_ROW = 0.5
LAYOUT_MIN_ROWS = 20


HEADER_WORDS = {"label", "labels", "class", "classes", "category", "target", "sentiment", "y", "tag", "polarity"}


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _check_header_row(path: Path, rows: list[list[str]], li: int, ti: int) -> None:
    """Refuse a header row read as an example: its label occurs nowhere else in the column, and it is
    a column name (``label``, ``class``, ...) or a word where every other label is a number. It would
    otherwise become a class of its own with one example."""
    first = rows[0][li].strip()
    rest = [r[li].strip() for r in rows[1:]]
    if first in rest:
        return
    if first.lower() in HEADER_WORDS or (not _number(first) and all(_number(v) for v in rest)):
        raise RnnkitError(f"{path}:1: the first row looks like a header (label {first!r} occurs in no other row): "
                          f"pass --header --label-column {first} --text-column {rows[0][ti].strip()}")


def _check_layout(path: Path, rows: list[list[str]], li: int, ti: int, header: bool) -> None:
    """Refuse a file whose label column looks like text, with the layout that fits it: which column
    has few distinct values (the labels), which the longest ones (the texts), and whether the first
    row is a header (its values occur nowhere else in their columns). A classifier trained on the
    wrong column would otherwise train silently to nothing."""
    n = len(rows)
    distinct = [len({r[c].strip() for r in rows}) for c in range(len(rows[0]))]
    if not header and n >= LAYOUT_MIN_ROWS:
        _check_header_row(path, rows, li, ti)
    if n < LAYOUT_MIN_ROWS or distinct[li] <= LABELS_PER_ROW * n:
        return
    body = rows if header else rows[1:]
    values = [{r[c].strip() for r in body} for c in range(len(rows[0]))]
    labels = min(range(len(values)), key=lambda c: len(values[c]))
    length = [sum(len(r[c]) for r in body) for c in range(len(values))]
    texts = max((c for c in range(len(values)) if c != labels), key=lambda c: length[c], default=None)
    msg = (f"{path}: the label column {li} has {distinct[li]} distinct values in {n} rows, so it holds no class "
           f"labels")
    if texts is None or len(values[labels]) > LABELS_PER_ROW * len(body):
        raise RnnkitError(f"{msg}; choose the columns with --label-column and --text-column")
    first = [f.strip() for f in rows[0]]
    if not header and first[labels] not in values[labels] and first[texts] not in values[texts]:
        raise RnnkitError(f"{msg}; the first row looks like a header: pass --header --label-column "
                          f"{first[labels]} --text-column {first[texts]}")
    raise RnnkitError(f"{msg}; column {labels} looks like labels: pass --label-column {labels} --text-column {texts}")


def read_label_sentence(path: str | Path, encoding: str = "utf-8") -> list[TextExample]:
    """The examples of a ``label sentence`` file: the first space separates the label from the text."""
    path = Path(path)
    out = []
    for no, line in _lines(path, encoding):
        if not line.strip():
            continue
        label, _, text = line.strip().partition(" ")
        if not text.strip():
            raise RnnkitError(f"{path}:{no}: empty sentence after the label {label!r} (expected 'label sentence')")
        out.append(TextExample(text.strip(), label, f"{path}:{no}"))
    if not out:
        raise RnnkitError(f"{path}: no examples (the file is empty)")
    return out


def read_texts(path: str | Path, fmt: str, label_column: str = "0", text_column: str = "1", header: bool = False,
               encoding: str = "utf-8") -> list[TextExample]:
    """The examples of ``path`` in format ``fmt`` (one of ``tsv``, ``csv``, ``label-sentence``)."""
    if fmt == "label-sentence":
        return read_label_sentence(path, encoding)
    if fmt in ("tsv", "csv"):
        return read_delimited(path, fmt, label_column, text_column, header, encoding)
    raise RnnkitError(f"unknown text format {fmt!r}: expected one of {', '.join(FORMATS)}")


def tokenize(text: str, level: str, lowercase: bool = False) -> list[str]:
    """The tokens of ``text``: whitespace-separated words (``level="word"``) or characters (``"char"``)."""
    if lowercase:
        text = text.lower()
    if level == "word":
        return text.split()
    if level == "char":
        return list(" ".join(text.split()))  # runs of whitespace count as one space
    raise RnnkitError(f"unknown token level {level!r}: expected word or char")
