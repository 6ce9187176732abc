"""Text classification files: TSV/CSV with chosen columns, label-sentence lines; errors name file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from rnnkit.data.tabular import read_delimited, read_label_sentence, read_texts, tokenize
from rnnkit.errors import RnnkitError


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def test_tsv_by_index_and_by_header_name(tmp_path: Path):
    f = write(tmp_path / "a.tsv", "good film\tpos\n\nbad plot\tneg\n")
    ex = read_delimited(f, "tsv", label_column="1", text_column="0")
    assert [(e.text, e.label) for e in ex] == [("good film", "pos"), ("bad plot", "neg")]
    assert ex[1].where == f"{f}:3"  # blank lines are skipped but counted
    h = write(tmp_path / "h.tsv", "sentence\tlabel\nit works\t1\n")
    assert read_delimited(h, "tsv", "label", "sentence", header=True)[0].label == "1"
    with pytest.raises(RnnkitError, match=r"no label column 'y' in the header; columns: sentence, label"):
        read_delimited(h, "tsv", "y", "sentence", header=True)
    with pytest.raises(RnnkitError, match="no header row"):
        read_delimited(f, "tsv", "label", "1")


def test_csv_quoting(tmp_path: Path):
    f = write(tmp_path / "a.csv", 'label,text\n0,"well, it is fine"\n1,"said ""no"""\n')
    ex = read_texts(f, "csv", "label", "text", header=True)
    assert [e.text for e in ex] == ["well, it is fine", 'said "no"']


def test_errors_name_file_and_line(tmp_path: Path):
    f = write(tmp_path / "bad.tsv", "a b\t1\nc d\t0\textra\n")
    with pytest.raises(RnnkitError, match=rf"{f}:2: expected 2 TSV columns, got 3"):
        read_delimited(f)
    f = write(tmp_path / "empty.tsv", "1\tfine\n0\t  \n")
    with pytest.raises(RnnkitError, match=rf"{f}:2: empty text in column 1"):
        read_delimited(f)
    f = write(tmp_path / "ls.txt", "1 a sentence\n0\n")
    with pytest.raises(RnnkitError, match=rf"{f}:2: empty sentence after the label '0'"):
        read_label_sentence(f)
    f = write(tmp_path / "latin.txt", "1 caf\xe9 au lait\n", "latin-1")
    with pytest.raises(RnnkitError, match=rf"{f}:1: not valid utf-8 .*--encoding"):
        read_label_sentence(f)
    assert read_label_sentence(f, encoding="latin-1")[0].text == "caf\xe9 au lait"
    with pytest.raises(RnnkitError, match="no such file"):
        read_label_sentence(tmp_path / "missing.txt")
    with pytest.raises(RnnkitError, match="the file is empty"):
        read_label_sentence(write(tmp_path / "nothing.txt", "\n\n"))


def test_real_sst2(data_dir: Path):
    ex = read_label_sentence(data_dir / "sentiment" / "stsa.binary.dev")
    assert len(ex) == 872 and {e.label for e in ex} == {"0", "1"}


def test_tokenize():
    assert tokenize("The  cat sat", "word", lowercase=True) == ["the", "cat", "sat"]
    assert tokenize("Hi  you", "char") == list("Hi you")
    with pytest.raises(RnnkitError, match="word or char"):
        tokenize("x", "bpe")


@pytest.mark.parametrize(("first", "label"), [("label\tsentence", "label"), ("stars\ttext", "stars")])
def test_a_header_row_with_few_classes_is_refused(tmp_path: Path, first: str, label: str):
    """A header read as an example would be a class of one (found by a new user: 3 classes, 'label' one)."""
    f = tmp_path / "h.tsv"
    f.write_text(first + "\n" + "".join(f"{i % 2}\tsentence number {i}\n" for i in range(40)), encoding="utf-8")
    with pytest.raises(RnnkitError, match=rf"h.tsv:1: the first row looks like a header \(label '{label}'"):
        read_delimited(f)
    assert len(read_delimited(f, "tsv", label, first.split("\t")[1], header=True)) == 40
    # a real rare class in the first row is not a header
    f.write_text("neutral\tfine\n" + "".join(f"{('pos', 'neg')[i % 2]}\ttext {i}\n" for i in range(40)),
                 encoding="utf-8")
    assert len(read_delimited(f)) == 41
