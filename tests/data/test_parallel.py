"""Reading sentence pairs and training tokenisers: bad input names the file and line."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from rnnkit.data.parallel import BOS, EOS, PAD, UNK, Codec, read_pairs, read_parallel
from rnnkit.errors import RnnkitError

pytest.importorskip("tokenizers")


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_pairs_and_parallel_files(tmp_path: Path):
    src, tgt = read_pairs(write(tmp_path / "p.tsv", "Go.\tVa !\tCC-BY attribution\nHi.\tSalut !\n"))
    assert src == ["Go.", "Hi."] and tgt == ["Va !", "Salut !"]
    assert read_pairs(tmp_path / "p.tsv", limit=1) == (["Go."], ["Va !"])
    de = tmp_path / "a.de.gz"
    de.write_bytes(gzip.compress(b"ein hund .\nzwei katzen .\n"))
    en = write(tmp_path / "a.en", "a dog .\ntwo cats .\n")
    assert read_parallel(de, en) == (["ein hund .", "zwei katzen ."], ["a dog .", "two cats ."])


def test_bad_input_is_one_line_naming_file_and_line(tmp_path: Path):
    with pytest.raises(RnnkitError, match=r"p\.tsv:2: expected 'source<TAB>target', found no tab"):
        read_pairs(write(tmp_path / "p.tsv", "Go.\tVa !\nHi. Salut !\n"))
    with pytest.raises(RnnkitError, match=r"e\.tsv:2: .* found an empty line"):
        read_pairs(write(tmp_path / "e.tsv", "Go.\tVa !\n\nHi.\tSalut\n"))
    with pytest.raises(RnnkitError, match=r"t\.tsv:1:5: the target sentence is empty"):
        read_pairs(write(tmp_path / "t.tsv", "Go.\t \n"))
    a, b = write(tmp_path / "a.txt", "one\ntwo\nthree\n"), write(tmp_path / "b.txt", "un\ndeux\n")
    with pytest.raises(RnnkitError, match=r"a\.txt has 3 lines, .*b\.txt has 2"):
        read_parallel(a, b)
    c = write(tmp_path / "c.txt", "un\n\ntrois\n")
    with pytest.raises(RnnkitError, match=r"c\.txt:2: empty line"):
        read_parallel(a, c)
    (tmp_path / "latin1.tsv").write_bytes("caf\xe9\tcafe\n".encode("latin-1"))
    with pytest.raises(RnnkitError, match=r"latin1\.tsv:1: not UTF-8"):
        read_pairs(tmp_path / "latin1.tsv")
    with pytest.raises(RnnkitError, match="no such file"):
        read_pairs(tmp_path / "missing.tsv")


def test_word_tokeniser_keeps_frequent_words_and_round_trips():
    lines = ["the dog runs .", "the cat runs .", "a bird ."]
    codec = Codec.train(lines, "word", min_freq=2)
    assert [codec.id_to_piece(i) for i in (PAD, UNK, BOS, EOS)] == ["<pad>", "<unk>", "<bos>", "<eos>"]
    ids = codec.encode_batch(["the fox runs ."])[0]
    assert ids[1] == UNK and codec.decode(ids) == "the runs ."  # unknown words are dropped from the text
    again = Codec.from_dict(codec.to_dict())
    assert again.encode_batch(lines) == codec.encode_batch(lines) and len(again) == len(codec)


def test_bpe_tokeniser_detokenises_exactly_and_splits_unseen_words():
    lines = ["Der Hund läuft schnell.", "Die Katze läuft.", "Ein Hund und eine Katze."] * 20
    codec = Codec.train(lines, "bpe", vocab_size=60)
    text = "Der Katzenhund läuft."  # a word never seen, of characters seen
    ids = codec.encode_batch([text])[0]
    assert codec.decode(ids) == text and UNK not in ids
    assert len(codec.pieces("Katzenhund")) > 1
    assert UNK in codec.encode_batch(["Der Xylophon"])[0]  # X and y never occur in training
    with pytest.raises(RnnkitError, match="unknown tokenizer"):
        Codec.train(lines, "char")
