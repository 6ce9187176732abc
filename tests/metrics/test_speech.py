"""Word and character error rates, edit alignments and the confusion table; agreement with jiwer."""

from __future__ import annotations

import random

import pytest

from rnnkit.metrics.speech import cer, confusion, edit_ops, error_counts, format_confusion, per_group, wer

DIGITS = "zero one two three four five six seven eight nine oh".split()


def test_edit_ops_by_hand():
    ref, hyp = "one two three four five six".split(), "one too three five six seven".split()
    assert edit_ops(ref, hyp) == [("equal", "one", "one"), ("sub", "two", "too"), ("equal", "three", "three"),
                                  ("del", "four", None), ("equal", "five", "five"), ("equal", "six", "six"),
                                  ("ins", None, "seven")]
    assert edit_ops([], ["a"]) == [("ins", None, "a")]
    assert edit_ops(["a"], []) == [("del", "a", None)]
    assert edit_ops([], []) == []
    # Ties between alignments of equal cost go to the substitution, deterministically.
    assert edit_ops("one two three".split(), "one too".split()) == [("equal", "one", "one"), ("del", "two", None),
                                                                  ("sub", "three", "too")]
    # Minimal, not positional: one insertion and one deletion beat three substitutions.
    assert edit_ops("a b c".split(), "x a b".split()) == [("ins", None, "x"), ("equal", "a", "a"), ("equal", "b", "b"),
                                                          ("del", "c", None)]


def test_counts_and_rates_by_hand():
    refs, hyps = ["one two three four five six", "seven"], ["one too three five six seven", "seven"]
    assert error_counts(refs, hyps) == {"errors": 3, "subs": 1, "dels": 1, "ins": 1, "ref_tokens": 7}
    assert wer(refs, hyps) == 3 / 7
    assert wer(refs, refs) == 0.0 and cer(refs, refs) == 0.0
    assert wer(["one two three"], [""]) == 1.0 and cer(["one two"], [""]) == 1.0
    assert wer(["one"], ["one two three"]) == 2.0  # insertions can take it past 1
    # Characters: spaces count, runs of whitespace are one space.
    assert error_counts(["ab  c "], ["ab c"], unit="char") == {"errors": 0, "subs": 0, "dels": 0, "ins": 0,
                                                              "ref_tokens": 4}
    assert cer(["abc"], ["abd"]) == pytest.approx(1 / 3)


def test_empty_references_raise():
    with pytest.raises(ValueError, match="references have no words"):
        wer(["", "  "], ["one", ""])
    with pytest.raises(ValueError, match="references have no characters"):
        cer([""], ["x"])
    with pytest.raises(ValueError, match="references have no words"):
        wer([], [])
    with pytest.raises(ValueError, match="2 references but 1 hypotheses"):
        wer(["a", "b"], ["a"])
    with pytest.raises(ValueError, match="unit must be"):
        error_counts(["a"], ["a"], unit="phone")
    # An empty reference among others is fine: its hypothesis words are insertions.
    assert wer(["", "one"], ["two", "one"]) == 1.0


def _corpus(rng: random.Random, kind: str) -> tuple[list[str], list[str]]:
    def line(empty_ok: bool) -> str:
        n = rng.randint(0 if empty_ok else 1, 8)
        if kind == "digits":
            words = [rng.choice(DIGITS) for _ in range(n)]
        else:
            words = ["".join(rng.choice("abcde") for _ in range(rng.randint(1, 4))) for _ in range(n)]
        return (" " * rng.randint(1, 2)).join(words)  # runs of spaces sometimes

    refs = [line(empty_ok=False) for _ in range(rng.randint(1, 6))]
    # Hypotheses near their references (edited copies) or unrelated, sometimes empty.
    hyps = []
    for ref in refs:
        words = ref.split()
        if rng.random() < 0.7:
            for _ in range(rng.randint(0, 3)):
                op = rng.choice(["sub", "del", "ins"])
                i = rng.randint(0, max(len(words) - 1, 0))
                if op == "ins" or not words:
                    words.insert(i, rng.choice(DIGITS))
                elif op == "sub":
                    words[i] = rng.choice(DIGITS)
                else:
                    del words[i]
            hyps.append(" ".join(words))
        else:
            hyps.append(line(empty_ok=True))
    return refs, hyps


def test_agrees_with_jiwer():
    jiwer = pytest.importorskip("jiwer")
    rng = random.Random(0)
    for trial in range(200):
        refs, hyps = _corpus(rng, "digits" if trial % 2 else "strings")
        assert wer(refs, hyps) == pytest.approx(jiwer.wer(refs, hyps), abs=1e-12), (refs, hyps)
        # jiwer's cer keeps runs of spaces; on text with single spaces the two agree.
        single = [" ".join(r.split()) for r in refs], [" ".join(h.split()) for h in hyps]
        assert cer(refs, hyps) == pytest.approx(jiwer.cer(*single), abs=1e-12), (refs, hyps)
        out = jiwer.process_words(refs, hyps)
        counts = error_counts(refs, hyps)
        assert counts["errors"] == out.substitutions + out.deletions + out.insertions
        assert counts["ref_tokens"] == out.hits + out.substitutions + out.deletions


def test_confusion_sums_match_counts():
    rng = random.Random(1)
    for _ in range(50):
        refs, hyps = _corpus(rng, "digits")
        table, counts = confusion(refs, hyps), error_counts(refs, hyps)
        correct = sum(row.get(w, 0) for w, row in table.items() if w != "<ins>")
        subs = sum(n for w, row in table.items() if w != "<ins>" for h, n in row.items() if h not in (w, "<del>"))
        assert subs == counts["subs"]
        assert sum(row.get("<del>", 0) for row in table.values()) == counts["dels"]
        assert sum(table.get("<ins>", {}).values()) == counts["ins"]
        assert correct + counts["subs"] + counts["dels"] == counts["ref_tokens"]


def test_format_confusion():
    table = confusion(["one two three", "two"], ["one too", "two two"])
    text = format_confusion(table)
    lines = text.splitlines()
    assert lines[0] == "| ref \\ hyp | one | three | too | two | `<del>` |"
    assert lines[1] == "|---|---:|---:|---:|---:|---:|"
    assert lines[2] == "| one | 1 | 0 | 0 | 0 | 0 |"
    assert lines[3] == "| three | 0 | 0 | 1 | 0 | 0 |"  # the tie went to three -> too, two deleted
    assert lines[4] == "| too | 0 | 0 | 0 | 0 | 0 |"  # hypothesis words get a row too: the table is square
    assert lines[5] == "| two | 0 | 0 | 0 | 1 | 1 |"
    assert lines[-1] == "| `<ins>` | 0 | 0 | 0 | 1 |  |"
    assert format_confusion(table, labels=["two"]).splitlines()[2:] == ["| two | 1 | 1 |", "| `<ins>` | 1 |  |"]


def test_per_group():
    refs = ["one two", "three", "four five six"]
    hyps = ["one", "three", "four five six seven"]
    out = per_group(refs, hyps, ["ann", "bob", "ann"])
    assert list(out) == ["ann", "bob", "all"]
    assert out["ann"]["wer"] == 2 / 5 and out["ann"]["utterances"] == 2
    assert out["ann"]["words"] == error_counts([refs[0], refs[2]], [hyps[0], hyps[2]])
    assert out["bob"]["wer"] == 0.0 and out["bob"]["cer"] == 0.0
    assert out["all"]["wer"] == wer(refs, hyps) and out["all"]["cer"] == cer(refs, hyps)
    assert out["all"]["chars"] == error_counts(refs, hyps, unit="char")
    with pytest.raises(ValueError, match="group 'bob'"):
        per_group(["one", ""], ["one", "two"], ["ann", "bob"])
    with pytest.raises(ValueError, match='"all"'):
        per_group(["one"], ["one"], ["all"])
