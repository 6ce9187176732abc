"""BLEU, chrF and exact match on detokenised text."""

from __future__ import annotations

import pytest

from rnnkit.metrics.translation import corpus_scores, exact_match

pytest.importorskip("sacrebleu")


def test_perfect_and_partial_scores():
    refs = ["a man rides a horse on the beach .", "two dogs play in the snow ."]
    assert corpus_scores(refs, refs) == {"bleu": pytest.approx(100.0), "chrf": pytest.approx(100.0)}
    partial = corpus_scores(["a man rides a bike on the beach .", "two cats sleep ."], refs)
    assert 0 < partial["bleu"] < 100 and 0 < partial["chrf"] < 100
    assert corpus_scores(["x y z", "q"], refs)["bleu"] == pytest.approx(0.0)
    with pytest.raises(ValueError, match="1 hypotheses but 2 references"):
        corpus_scores(["a"], refs)


def test_exact_match_ignores_spacing():
    assert exact_match(["three  one", "four"], ["three one", "five"]) == 0.5
