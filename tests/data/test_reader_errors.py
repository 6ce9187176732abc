"""Reader inputs that used to give a traceback, a wrong label or a misleading message: one line, naming the line."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from rnnkit.data import audio, conll, parallel, tabular
from rnnkit.data.ucr import read_ts
from rnnkit.errors import RnnkitError

HEAD = "@problemName toy\n@univariate false\n@dimensions 2\n@equalLength false\n@classLabel true a b\n@data\n"


def ts(tmp_path: Path, text: str, bom: bool = False) -> Path:
    f = tmp_path / "toy.ts"
    f.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return f


@pytest.mark.parametrize(("text", "match"), [
    ("@problemName toy\n@classLabel\n@data\n1,2:3,4:a\n", r"toy.ts:2: @classLabel without a value"),
    ("@problemName toy\n@timeStamps\n@data\n1,2:3,4:a\n", r"toy.ts:2: @timeStamps without a value"),
    ("@problemName toy\n@\n@data\n", r"toy.ts:2: a '@' line without a header name"),
    (HEAD + "1,2:3,4:a\n1,inf:3,4:b\n", r"toy.ts:8: channel 1, value 2: 'inf' is not a finite number"),
    (HEAD + "1,2:3,-1e999:a\n", r"toy.ts:7: channel 2, value 2: '-1e999' is not a finite number"),
])
def test_ts_header_and_value_errors(tmp_path: Path, text: str, match: str):
    with pytest.raises(RnnkitError, match=match):
        read_ts(ts(tmp_path, text))


def test_a_bom_is_not_part_of_any_reader_s_first_field(tmp_path: Path):
    assert read_ts(ts(tmp_path, HEAD + "1,2:3,4:a\n5,6:7,8:b\n", bom=True)).labels == ["a", "b"]
    tsv = tmp_path / "sst.tsv"
    tsv.write_bytes(b"\xef\xbb\xbf1\ta fine film\n0\ta dull plot\n1\tgood\n")
    assert [e.label for e in tabular.read_texts(tsv, "tsv")] == ["1", "0", "1"]
    ls = tmp_path / "sst.txt"
    ls.write_bytes(b"\xef\xbb\xbf1 a fine film\n0 a dull plot\n")
    assert [e.label for e in tabular.read_texts(ls, "label-sentence")] == ["1", "0"]
    co = tmp_path / "x.conll"
    co.write_bytes(b"\xef\xbb\xbf( O\nEU B-ORG\n\nPeter B-PER\n")
    assert [s.tokens[0] for s in conll.read_conll(co)] == ["(", "Peter"]
    pairs = tmp_path / "p.tsv"
    pairs.write_bytes(b"\xef\xbb\xbfein Haus\ta house\n")
    assert parallel.read_pairs(pairs) == (["ein Haus"], ["a house"])


def test_csv_unterminated_quote_names_the_line_it_opened(tmp_path: Path):
    f = tmp_path / "d.csv"
    f.write_text("label,text\n1,fine\n0,\"no closing quote\n1,swallowed\n0,too\n", encoding="utf-8")
    with pytest.raises(RnnkitError, match=r"d.csv:3: a quote opened on this line is never closed, so lines 3-5"):
        tabular.read_texts(f, "csv", header=True, label_column="label", text_column="text")
    f.write_text("label,text\n1,\"a field\nover two lines\"\n0,fine\n", encoding="utf-8")  # legal: kept
    assert len(tabular.read_texts(f, "csv", header=True, label_column="label", text_column="text")) == 2


def test_conll_decoding_error_names_line_and_column(tmp_path: Path):
    body = b"EU B-ORG\nrejects O\n\n" * 3000 + b"Ger\xe9man B-MISC\n"  # well past the first read chunk
    for name, data in (("x.conll", body), ("x.conll.gz", gzip.compress(body))):
        f = tmp_path / name
        f.write_bytes(data)
        with pytest.raises(RnnkitError, match=rf"{name}:9001: not UTF-8 text .*byte 0xe9 at column 4"):
            conll.read_conll(f)


def test_an_empty_or_cut_wav_says_so(tmp_path: Path):
    empty = tmp_path / "e.wav"
    empty.write_bytes(b"")
    with pytest.raises(RnnkitError, match=r"e.wav: not a PCM WAV file \(the file is empty\)"):
        audio.read_wav(empty)
    with pytest.raises(RnnkitError, match=r"cut.wav: not a PCM WAV file \(its header is cut short\)"):
        audio.read_wav(b"RIFF\x24\x00", name="cut.wav")
