"""How scores are printed: an accuracy-like score (accuracy, F1, precision, recall) as a percentage
with two decimals ("acc 75.89"), whichever scale its task stores it in, so classify, tag and
``rnnkit evaluate`` print one convention. The stored numbers (metrics.jsonl, JSON output) keep the
task's scale: a task names its scores stored as fractions in ``fractions`` and those stored as
percentages in ``percents``; anything else prints with four significant digits."""

from __future__ import annotations

from collections.abc import Iterable, Mapping


def show(name: str, value: float, fractions: Iterable[str] = (), percents: Iterable[str] = ()) -> str:
    """``value`` of the score ``name`` as printed."""
    if name in tuple(fractions):
        return f"{100 * value:.2f}"
    if name in tuple(percents):
        return f"{value:.2f}"
    return f"{value:.4g}"


def show_all(metrics: Mapping[str, float], fractions: Iterable[str] = (), percents: Iterable[str] = ()) -> str:
    """``"name value | name value ..."`` of the numeric entries of ``metrics``."""
    fractions, percents = tuple(fractions), tuple(percents)
    return " | ".join(f"{k} {show(k, v, fractions, percents)}" for k, v in metrics.items()
                      if isinstance(v, (int, float)) and not isinstance(v, bool))
