"""Connected-digit composition and the protocols' splits (synthetic recordings: no data needed)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from rnnkit.data import spoken_digits as sd
from rnnkit.errors import RnnkitError


def fake_pool() -> list[sd.Recording]:
    gen = torch.Generator().manual_seed(0)
    return [sd.Recording(torch.rand(400 + 10 * i, generator=gen) - 0.5, str(d), spk, i)
            for spk in ("ann", "bob", "cy") for d in range(10) for i in range(12)]


def test_protocols_split_recordings_before_composition():
    recs = fake_pool()
    rec = sd.split_recordings(recs, "recordings")
    assert {r.index for r in rec["test"]} == set(range(5)) and {r.index for r in rec["valid"]} == set(range(5, 10))
    assert all(r.index >= 10 for r in rec["train"])
    spk = sd.split_recordings(recs, "speaker:bob")
    assert {r.speaker for r in spk["test"]} == {"bob"} and len(spk["test"]) == 120
    # validation is the next speaker, never heard in training either
    assert {r.speaker for r in spk["valid"]} == {"cy"} and {r.speaker for r in spk["train"]} == {"ann"}
    assert {r.speaker for r in sd.split_recordings(recs, "speaker:cy")["valid"]} == {"ann"}
    with pytest.raises(RnnkitError, match="no speaker 'zed'; the speakers are ann, bob, cy"):
        sd.split_recordings(recs, "speaker:zed")
    with pytest.raises(RnnkitError, match="--protocol must be recordings or speaker:NAME"):
        sd.split_recordings(recs, "random")


def test_a_named_or_no_validation_speaker():
    recs = fake_pool()
    named = sd.split_recordings(recs, "speaker:bob", "ann")
    assert {r.speaker for r in named["valid"]} == {"ann"} and {r.speaker for r in named["train"]} == {"cy"}
    # leave one speaker out: every other speaker trains; their recordings 5-9 validate, none also trains
    out = sd.split_recordings(recs, "speaker:bob", "none")
    assert {r.speaker for r in out["train"]} == {r.speaker for r in out["valid"]} == {"ann", "cy"}
    assert {r.index for r in out["valid"]} == set(range(5, 10)) and not {id(r) for r in out["train"]} & {
        id(r) for r in out["valid"]}
    assert len(out["train"]) == 2 * 10 * 7 and {r.speaker for r in out["test"]} == {"bob"}
    for bad in ("bob", "zed"):
        with pytest.raises(RnnkitError, match=f"--valid-speaker {bad}: expected next, none or a speaker other "
                                              "than the test speaker 'bob' \\(ann, cy\\)"):
            sd.split_recordings(recs, "speaker:bob", bad)
    few = [r for r in recs if not 5 <= r.index < 10]
    with pytest.raises(RnnkitError, match=r"--protocol speaker:bob: no valid recordings \(index 5-9"):
        sd.split_recordings(few, "speaker:bob", "none")


def test_composition_is_seeded_and_transcribed():
    pool = sd.split_recordings(fake_pool(), "recordings")["train"]
    a = sd.compose(pool, 20, torch.Generator().manual_seed(3), max_digits=7, noise=0.0)
    b = sd.compose(pool, 20, torch.Generator().manual_seed(3), max_digits=7, noise=0.0)
    assert [u.text for u in a] == [u.text for u in b] and all(torch.equal(x.samples, y.samples) for x, y in zip(a, b))
    for u in a:
        digits = u.text.split()
        assert 1 <= len(digits) <= 7 and all(d.isdigit() for d in digits)
        assert len(u.ends) == len(digits) and u.ends == sorted(u.ends) and u.ends[-1] < u.samples.shape[0] / 8000
        # one speaker per utterance: its recordings only
        lengths = {r.samples.shape[0] for r in pool if r.speaker == u.speaker}
        assert lengths  # every digit came from that speaker's pool
    assert len({u.speaker for u in a}) > 1


def test_transcripts_errors_name_the_line(tmp_path: Path):
    (tmp_path / "a.wav").write_bytes(b"")
    tsv = tmp_path / "t.tsv"
    tsv.write_text("a.wav\thello\nb.wav\tworld\n", encoding="utf-8")
    with pytest.raises(RnnkitError, match=r"t.tsv:2: .*b.wav: no such file"):
        sd.read_transcripts(tsv)
    tsv.write_text("a.wav hello\n", encoding="utf-8")
    with pytest.raises(RnnkitError, match=r"t.tsv:1: expected 'file.wav<TAB>transcript'"):
        sd.read_transcripts(tsv)
    tsv.write_text("a.wav\t  \n", encoding="utf-8")
    with pytest.raises(RnnkitError, match=r"t.tsv:1: the transcript of a.wav is empty"):
        sd.read_transcripts(tsv)
    tsv.write_text("\ufeffa.wav\thello   there\n", encoding="utf-8")
    assert sd.read_transcripts(tsv) == [(str(tmp_path / "a.wav"), "hello there")]


def test_speed_perturbation_changes_lengths_within_the_range():
    pool = sd.split_recordings(fake_pool(), "recordings")["train"]
    plain = sd.compose(pool, 30, torch.Generator().manual_seed(5), max_digits=1, min_digits=1, pause=(0, 0),
                       noise=0.0)
    fast = sd.compose(pool, 30, torch.Generator().manual_seed(5), max_digits=1, min_digits=1, pause=(0, 0),
                      noise=0.0, speed=0.1)
    ratios = [a.samples.shape[0] / b.samples.shape[0] for a, b in zip(fast, plain)]
    assert all(0.85 < r < 1.15 for r in ratios) and len({round(r, 3) for r in ratios}) > 3


def test_an_empty_pool_says_which_and_why():
    recs = [r for r in fake_pool() if not 5 <= r.index < 10]
    with pytest.raises(RnnkitError, match=r"--protocol recordings: no valid recordings \(index 5-9"):
        sd.split_recordings(recs, "recordings")
