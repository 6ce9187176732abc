"""`rnnkit demo`: the main job, on a short time budget."""

from __future__ import annotations

from pathlib import Path

from rnnkit.cli import main
from rnnkit.tasks.demo import corpus_text


def test_corpus_is_real_english():
    text = corpus_text()
    assert len(text) > 200_000 and " the " in text


def test_demo_runs_and_samples(tmp_path: Path, capsys):
    run = tmp_path / "demo"
    assert main(["demo", "--seconds", "3", "--out", str(run)]) == 0
    out = capsys.readouterr().out
    assert "sample before training" in out and "sample after training" in out
    assert "validation:" in out and "bits/char" in out
    # 3 s buy far fewer steps than a readable sample needs: said plainly, before the sample
    assert out.index("note: only ") < out.index("sample after training") and "rnnkit demo --seconds" in out
    assert {"corpus.txt", "config.json", "metrics.jsonl", "curves.png", "best.pt"} <= {p.name for p in run.iterdir()}
    assert main(["demo", "--seconds", "3", "--out", str(run)]) == 2  # never overwrites a run


def test_demo_options_are_checked(tmp_path: Path, capsys):
    assert main(["demo", "--seconds", "0", "--out", str(tmp_path / "d")]) == 2
    assert "--seconds must be > 0" in capsys.readouterr().err
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x.txt").write_text("x")
    assert main(["demo", "--out", str(tmp_path / "full")]) == 2
    err = capsys.readouterr().err
    assert "already holds other files" in err and "--resume" not in err


def test_budget_note_only_when_too_few_steps():
    from rnnkit.tasks.demo import budget_note

    assert budget_note({"steps": 1450, "items_per_s": 30000.0}, 100) is None
    note = budget_note({"steps": 60, "items_per_s": 1200.0}, 100)
    assert note and "only 60 training steps fitted in 100 s" in note and "--seconds 670" in note
