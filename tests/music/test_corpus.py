"""Corpora: a user's folder (unreadable files named, skipped, counted; --strict), the fixed split."""

from __future__ import annotations

from pathlib import Path

import pytest

from rnnkit.errors import RnnkitError
from rnnkit.music import corpus

TUNE = "X:{n}\nT:Tune {n}\nM:2/4\nL:1/8\nK:G\n{a} cd | e2 d2 | {a} AG | G4 |]\n"
LETTERS = "DEFGABc"


def _folder(tmp_path: Path, n: int = 30) -> Path:
    d = tmp_path / "tunes"
    d.mkdir()
    text = "\n".join(TUNE.format(n=i, a=LETTERS[i % 7] + LETTERS[(i // 7) % 7]) for i in range(n))
    (d / "set.abc").write_text(text + "\n" + TUNE.format(n=99, a="DE"), encoding="utf-8")  # 99 repeats tune 0
    return d


def test_a_folder_of_abc_reads_with_duplicates_removed_and_a_fixed_split(tmp_path: Path):
    c = corpus.load(str(_folder(tmp_path)))
    assert c.kind == "folk" and len(c.pieces) == 31 and c.files == 1
    said: list[str] = []
    s = corpus.split(c, transpose=True, seed=0, say=said.append)
    assert sum(len(v) for v in s.values()) == 30 and "removed 1 duplicate" in said[0]
    again = corpus.split(c, transpose=True, seed=0)
    assert [p.tokens for p in again["test"]] == [p.tokens for p in s["test"]]
    other = corpus.split(c, transpose=True, seed=1)
    assert [p.tokens for p in other["test"]] != [p.tokens for p in s["test"]]
    keys = {k: {" ".join(p.tokens) for p in v} for k, v in s.items()}
    assert not keys["train"] & keys["test"] and not keys["valid"] & keys["test"]
    assert all(p.condition == ("2/4", "major", "C") for p in s["train"])  # G moved to C


def test_unreadable_files_are_named_skipped_and_counted(tmp_path: Path):
    d = _folder(tmp_path)
    (d / "broken.mid").write_bytes(b"MThd not really a midi file")
    said: list[str] = []
    c = corpus.load(str(d), say=said.append)
    assert len(c.skipped_files) == 1 and c.skipped_files[0][0].endswith("broken.mid") and len(c.pieces) == 31
    assert any("skipped 1 of 2 files" in s and "broken.mid" in s for s in said)
    with pytest.raises(RnnkitError, match=r"broken\.mid.*--strict"):
        corpus.load(str(d), strict=True)


def test_a_folder_without_tunes_is_a_clear_error(tmp_path: Path):
    with pytest.raises(RnnkitError, match="no .abc, .mid"):
        corpus.load(str(tmp_path))
    (tmp_path / "x.abc").write_text("X:1\nM:2/4\nL:1/8\nK:G\nGABcd | c |]\n", encoding="utf-8")
    with pytest.raises(RnnkitError, match="none of its 1 files holds a tune.*bar"):
        corpus.load(str(tmp_path))
    with pytest.raises(RnnkitError, match="not one of folk, essen, chorales"):
        corpus.load(str(tmp_path / "missing"))


def test_midi_and_musicxml_files_are_read_as_melodies(tmp_path: Path):
    from rnnkit.music.write import abc_text, parse_abc

    c = corpus.load(str(_folder(tmp_path, 2)))
    score = parse_abc(abc_text(c.pieces[1]))
    d = tmp_path / "other"
    d.mkdir()
    score.write("musicxml", fp=str(d / "t.musicxml"))
    score.write("midi", fp=str(d / "t.mid"))
    got = corpus.load(str(d))
    assert len(got.pieces) == 2 and not got.skipped_files
    for t in got.pieces:
        assert t.metre == "2/4" and [m for m, _ in t.notes()] == [m for m, _ in c.pieces[1].notes()]
