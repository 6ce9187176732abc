"""Tagging metrics: entity-level scores as conlleval counts them, in either scheme; token accuracy."""

from __future__ import annotations

import pytest

from rnnkit.data.tagschemes import convert
from rnnkit.metrics.tagging import entity_scores, token_accuracy

GOLD = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O", "B-PER"]]
PRED = [["B-PER", "I-PER", "O", "B-ORG"], ["B-ORG", "I-ORG", "B-PER"]]  # 2 of 4 predicted entities exact


def test_entity_scores_count_whole_chunks():
    s = entity_scores(GOLD, PRED)
    assert s["precision"] == pytest.approx(50.0)  # PER, PER right; ORG too long, ORG on a LOC
    assert s["recall"] == pytest.approx(50.0)
    assert s["f1"] == pytest.approx(50.0)
    assert s["per_type"]["PER"] == {"precision": 100.0, "recall": 100.0, "f1": 100.0, "support": 2}
    assert s["per_type"]["LOC"]["recall"] == 0.0 and s["per_type"]["ORG"]["precision"] == 0.0


def test_bioes_scores_equal_bio_scores():
    gold = [convert(g, "bio", "bioes") for g in GOLD]
    pred = [convert(p, "bio", "bioes") for p in PRED]
    assert entity_scores(gold, pred, "bioes") == entity_scores(GOLD, PRED, "bio")


def test_token_accuracy_and_errors():
    assert token_accuracy([["A", "B"], ["C"]], [["A", "C"], ["C"]]) == pytest.approx(200 / 3)
    with pytest.raises(ValueError, match="differs in length"):
        token_accuracy([["A", "B"]], [["A"]])
    with pytest.raises(ValueError, match="same sentences and lengths"):
        entity_scores(GOLD, PRED[:1])
