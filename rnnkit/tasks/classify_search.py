"""``rnnkit train classify --auto SECONDS``: a small search over sizes and learning rates before the run.

Each candidate (the defaults; half the hidden size; half and 2.5 times the learning rate) trains
on the run's own training split for ``SECONDS / 4`` (its cosine schedule follows that time, so
every candidate finishes its decay) and is scored on the validation split: accuracy, ties going
to the lower loss, of its final evaluation. The test set is never read by a candidate. The run
itself then trains the winner with the full budget. Candidates live in ``RUN/auto/<name>``; the
scores and the choice are written to ``RUN/auto.json`` and printed.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any


def candidates(model: Any, train: Any) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """``(name, model changes, train changes)`` of every candidate, the given options first."""
    return [
        ("given", {}, {}),
        (f"hidden-{max(1, model.hidden_size // 2)}", {"hidden_size": max(1, model.hidden_size // 2)}, {}),
        (f"lr-{train.lr * 0.5:g}", {}, {"lr": train.lr * 0.5}),
        (f"lr-{train.lr * 2.5:g}", {}, {"lr": train.lr * 2.5}),
    ]


def search(run_dir: Path, configs: dict[str, Any], seconds: float, fit: Callable[..., dict[str, Any]],
           say: Callable[..., Any]) -> dict[str, Any]:
    """Train every candidate with ``fit(run_dir, configs)`` for its share of ``seconds``; returns the configs of
    the winner (``auto`` off) and writes ``run_dir/auto.json``."""
    data, model, train = configs["data"], configs["model"], configs["train"]
    options = candidates(model, train)
    share = seconds / len(options)
    scores = []
    for name, model_changes, train_changes in options:
        trial = {**configs,
                 "data": dataclasses.replace(data, test=None, auto=0.0),
                 "model": dataclasses.replace(model, **model_changes),
                 "train": dataclasses.replace(train, max_time=share, progress=False, **train_changes)}
        (run_dir / "auto" / name).mkdir(parents=True, exist_ok=True)
        summary = fit(run_dir / "auto" / name, trial)
        last = summary.get("last", {})
        scores.append({"name": name, "model": model_changes, "train": train_changes, "valid_acc": last.get("acc"),
                       "valid_loss": last.get("loss"), "steps": summary.get("steps"),
                       "seconds": round(summary.get("seconds", 0.0), 1)})
        say(f"auto: {name}: validation accuracy {last.get('acc', float('nan')):.4f}, loss "
            f"{last.get('loss', float('nan')):.4f} after {summary.get('steps')} steps")
    best = max(range(len(scores)), key=lambda i: (scores[i]["valid_acc"] or 0.0, -(scores[i]["valid_loss"] or 0.0)))
    name, model_changes, train_changes = options[best]
    (run_dir / "auto.json").write_text(json.dumps({"seconds": seconds, "candidates": scores, "chosen": name},
                                                  indent=1) + "\n", encoding="utf-8")
    say(f"auto: chose {name} (scores in {run_dir / 'auto.json'})")
    return {**configs, "data": dataclasses.replace(data, auto=0.0),
            "model": dataclasses.replace(model, **model_changes), "train": dataclasses.replace(train, **train_changes)}
