"""Reading a text file, with errors that say what is wrong with it and where."""

from __future__ import annotations

from pathlib import Path

from rnnkit.errors import RnnkitError


def read_text(path: str | Path, what: str = "text file") -> str:
    """The contents of a UTF-8 text file.

    Raises ``RnnkitError`` naming the file for: a missing path or a directory, an empty
    file (or one of whitespace only), a binary file (a NUL byte), and bytes that are not
    UTF-8 (with the line and column of the first bad byte).
    """
    p = Path(path)
    if not p.exists():
        raise RnnkitError(f"{what} {p}: no such file")
    if p.is_dir():
        raise RnnkitError(f"{what} {p} is a directory; expected a UTF-8 text file")
    raw = p.read_bytes()
    if not raw.strip():
        raise RnnkitError(f"{what} {p} is empty; expected UTF-8 text")
    nul = raw.find(b"\x00")
    if nul >= 0:
        raise RnnkitError(f"{what} {p} looks binary (NUL byte at offset {nul}); expected a UTF-8 text file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        col = e.start - (raw.rfind(b"\n", 0, e.start) + 1) + 1
        raise RnnkitError(f"{what} {p} is not UTF-8: byte 0x{raw[e.start]:02x} at line {line}, column {col}; "
                          f"convert it first (e.g. iconv -f latin1 -t utf-8)") from None
    return text.removeprefix("\ufeff")  # a BOM is not part of the text
