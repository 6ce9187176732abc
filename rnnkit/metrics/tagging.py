"""Tagging metrics: entity-level precision / recall / F1 per type (seqeval, as conlleval), token accuracy.

Entities are compared as whole chunks: a predicted entity counts only when its type and both
boundaries match a gold one. BIOES tags are rewritten as BIO first (exactly, through the chunks),
so seqeval's default conlleval-compatible reading applies to either scheme.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rnnkit.data.tagschemes import convert
from rnnkit.errors import RnnkitError


def _seqeval() -> Any:
    try:
        from seqeval import metrics
    except ImportError:  # pragma: no cover - depends on the environment
        raise RnnkitError('entity-level scores need seqeval: pip install "rnnkit[tag]"') from None
    return metrics


def entity_scores(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]], scheme: str = "bio") -> dict[str, Any]:
    """Micro precision, recall and F1 (in %) over all entities, and per type
    ``{"precision", "recall", "f1", "per_type": {type: {"precision", "recall", "f1", "support"}}}``.

    ``gold`` and ``pred``: one tag list per sentence, written in ``scheme`` (``bio`` or ``bioes``).
    """
    if len(gold) != len(pred) or any(len(g) != len(p) for g, p in zip(gold, pred)):
        raise ValueError("entity_scores: gold and predicted tags must have the same sentences and lengths")
    if scheme == "bioes":
        gold = [convert(g, "bioes", "bio") for g in gold]
        pred = [convert(p, "bioes", "bio") for p in pred]
    elif scheme != "bio":
        raise ValueError(f"entity_scores: scheme must be bio or bioes, got {scheme!r}")
    m = _seqeval()
    gold, pred = [list(g) for g in gold], [list(p) for p in pred]
    report = m.classification_report(gold, pred, output_dict=True, zero_division=0)
    # plain floats: numpy scalars would not pass a weights-only checkpoint load
    per_type = {k: {"precision": float(100 * v["precision"]), "recall": float(100 * v["recall"]),
                    "f1": float(100 * v["f1-score"]), "support": int(v["support"])}
                for k, v in report.items() if not k.endswith(" avg")}
    return {"precision": float(100 * m.precision_score(gold, pred, zero_division=0)),
            "recall": float(100 * m.recall_score(gold, pred, zero_division=0)),
            "f1": float(100 * m.f1_score(gold, pred, zero_division=0)), "per_type": per_type}


def token_accuracy(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> float:
    """The fraction (in %) of words whose predicted tag equals the gold one."""
    total = correct = 0
    for g, p in zip(gold, pred, strict=True):
        if len(g) != len(p):
            raise ValueError("token_accuracy: a predicted sentence differs in length from its gold one")
        total += len(g)
        correct += sum(a == b for a, b in zip(g, p))
    if not total:
        raise ValueError("token_accuracy: no words to score")
    return 100 * correct / total
