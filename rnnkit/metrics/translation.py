"""Translation quality: corpus BLEU and chrF with sacrebleu, on detokenised text.

Scores are computed on the text a user would read (the decoded, detokenised output against the
reference lines as they are in the data files), with sacrebleu's default settings (BLEU: 13a
tokenisation, 4-grams, exponential smoothing off; chrF: character 6-grams, beta 2), so they are
comparable across tokenisers (word or BPE) and with published sacrebleu numbers.
"""

from __future__ import annotations

from typing import Any

from rnnkit.errors import RnnkitError


def _sacrebleu() -> Any:
    try:
        import sacrebleu
    except ImportError:
        raise RnnkitError('BLEU and chrF need sacrebleu: pip install "rnnkit[translate]"') from None
    return sacrebleu


def corpus_scores(hypotheses: list[str], references: list[str]) -> dict[str, float]:
    """``{"bleu": 0-100, "chrf": 0-100}`` of ``hypotheses`` against one reference each (same order)."""
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} references")
    sb = _sacrebleu()
    return {"bleu": float(sb.corpus_bleu(hypotheses, [references]).score),
            "chrf": float(sb.corpus_chrf(hypotheses, [references]).score)}


def exact_match(hypotheses: list[str], references: list[str]) -> float:
    """Fraction of hypotheses equal to their reference (whitespace-normalised)."""
    if not references:
        return 0.0
    return sum(" ".join(h.split()) == " ".join(r.split()) for h, r in zip(hypotheses, references)) / len(references)
