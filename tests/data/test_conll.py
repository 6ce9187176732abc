"""CoNLL and CoNLL-U readers: real files, gzip, skipped lines, and errors naming file:line."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from rnnkit.data import conll
from rnnkit.errors import RnnkitError

CONLL = """-DOCSTART- -X- -X- O

EU NNP I-NP I-ORG
rejects VBZ I-VP O

Peter NNP I-NP I-PER
Blackburn NNP I-NP I-PER
"""

CONLLU = """# sent_id = 1
# text = Don't go.
1-2\tDon't\t_\t_\t_\t_\t_\t_\t_\t_
1\tDo\tdo\tAUX\tVBP\t_\t3\taux\t_\t_
2\tn't\tnot\tPART\tRB\t_\t3\tadvmod\t_\t_
3\tgo\tgo\tVERB\tVB\t_\t0\troot\t_\t_
3.1\tgone\tgo\tVERB\tVBN\t_\t_\t_\t0:root\t_
4\t.\t.\tPUNCT\t.\t_\t3\tpunct\t_\t_

"""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    if name.endswith(".gz"):
        with gzip.open(p, "wt", encoding="utf-8") as f:
            f.write(text)
    else:
        p.write_text(text, encoding="utf-8")
    return p


def test_conll_columns_docstart_and_lines(tmp_path):
    sents = conll.read_conll(_write(tmp_path, "a.conll", CONLL))
    assert [s.tokens for s in sents] == [["EU", "rejects"], ["Peter", "Blackburn"]]
    assert [s.tags for s in sents] == [["I-ORG", "O"], ["I-PER", "I-PER"]]
    assert sents[1].where(1).endswith("a.conll:7")
    assert conll.read_conll(tmp_path / "a.conll", "2")[0].tags == ["NNP", "VBZ"]
    assert conll.read_conll(tmp_path / "a.conll", "-2")[0].tags == ["I-NP", "I-VP"]


def test_conllu_skips_ranges_empty_nodes_and_comments(tmp_path):
    for name in ("a.conllu", "a.conllu.gz"):
        sents = conll.read_conllu(_write(tmp_path, name, CONLLU))
        assert sents[0].tokens == ["Do", "n't", "go", "."]
        assert sents[0].tags == ["AUX", "PART", "VERB", "PUNCT"]
        assert sents[0].lines == [4, 5, 6, 8]
    assert conll.read_conllu(tmp_path / "a.conllu", "xpos")[0].tags == ["VBP", "RB", "VB", "."]


@pytest.mark.parametrize("name, text, column, match", [
    ("bad.conll", "EU NNP I-ORG\nrejects VBZ\n", "last", r"bad.conll:2: expected 3 columns \(as on line 1\), got 2"),
    ("bad.conll", "EU NNP I-ORG\n", "7", r"bad.conll:1: tag column 7 does not exist"),
    ("bad.conll", "\n\n-DOCSTART- O\n", "last", r"bad.conll: no sentences"),
    ("bad.conllu", "# sent_id = 1\n# text = \n\n", "upos", r"bad.conllu:1: empty sentence"),
    ("bad.conllu", "1\tDo\tdo\tAUX\n", "upos", r"bad.conllu:1: expected 10 tab-separated CoNLL-U columns, got 4"),
    ("bad.conllu", "x\tDo\tdo\tAUX\tVBP\t_\t3\taux\t_\t_\n", "upos", r"bad.conllu:1: expected a word ID"),
    ("bad.conllu", "1\tDo\tdo\t_\tVBP\t_\t3\taux\t_\t_\n", "upos", r"bad.conllu:1: word 1 has no UPOS"),
])
def test_errors_name_file_and_line(tmp_path, name, text, column, match):
    p = _write(tmp_path, name, text)
    with pytest.raises(RnnkitError, match=match):
        conll.read(p, "conllu" if name.endswith(".conllu") else "conll", column)


def test_missing_and_non_utf8_files(tmp_path):
    with pytest.raises(RnnkitError, match="no such file"):
        conll.read_conll(tmp_path / "none.conll")
    (tmp_path / "latin.conll").write_bytes("caf\xe9 NN O\n".encode("latin-1"))
    with pytest.raises(RnnkitError, match="latin.conll:1: not UTF-8"):
        conll.read_conll(tmp_path / "latin.conll")


def test_real_files_have_the_published_sizes(data_dir):
    sents = conll.read_conll(data_dir / "conll2003" / "eng.testb")
    assert (len(sents), sum(len(s.tokens) for s in sents)) == (3453, 46435)
    ud = conll.read_conllu(data_dir / "ud-english-ewt" / "en_ewt-ud-test.conllu.gz")
    assert (len(ud), sum(len(s.tokens) for s in ud)) == (2077, 25094)
    assert len({t for s in ud for t in s.tags}) <= 17


@pytest.mark.parametrize("name", ["a.conllu", "a.conllu.gz", "no-extension.txt"])
def test_conllu_is_detected_without_format_conllu(tmp_path, name):
    # by its name, or (any name) by its first line: read as CoNLL columns it fails on the # sent_id comment
    sents = conll.read(_write(tmp_path, name, CONLLU), "conll", "last")
    assert sents[0].tokens == ["Do", "n't", "go", "."] and sents[0].tags == ["AUX", "PART", "VERB", "PUNCT"]
    assert conll.read(tmp_path / name, "conll", "xpos")[0].tags == ["VBP", "RB", "VB", "."]
    assert conll.read(_write(tmp_path, "b.txt", CONLL), "conll", "last")[0].tags == ["I-ORG", "O"]  # still CoNLL


def test_a_directory_says_so(tmp_path):
    with pytest.raises(RnnkitError, match=f"^{tmp_path} is a directory; expected a file$"):
        conll.read(tmp_path, "conll", "last")
