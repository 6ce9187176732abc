"""read_text: every kind of bad file is a one-line error naming the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from rnnkit.data import read_text
from rnnkit.errors import RnnkitError


def test_reads_utf8_and_drops_bom(tmp_path: Path):
    p = tmp_path / "t.txt"
    p.write_bytes("\ufeffBonjour, été\n".encode())
    assert read_text(p) == "Bonjour, été\n"


@pytest.mark.parametrize("content,match", [
    (b"", "is empty"),
    (b"  \n\n", "is empty"),
    (b"ab\x00cd", "looks binary \\(NUL byte at offset 2\\)"),
    (b"line one\nli\xe9ne two\n", "not UTF-8: byte 0xe9 at line 2, column 3"),
])
def test_bad_files(tmp_path: Path, content: bytes, match: str):
    p = tmp_path / "bad.txt"
    p.write_bytes(content)
    with pytest.raises(RnnkitError, match=match) as e:
        read_text(p)
    assert str(p) in str(e.value)


def test_missing_and_directory(tmp_path: Path):
    with pytest.raises(RnnkitError, match="no such file"):
        read_text(tmp_path / "none.txt")
    with pytest.raises(RnnkitError, match="is a directory"):
        read_text(tmp_path)
