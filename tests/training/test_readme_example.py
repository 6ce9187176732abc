"""The README's "Using the Trainer with your own model" example, run as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

README = Path(__file__).resolve().parents[2] / "README.md"
SECTION = "## Using the Trainer with your own model"

pytestmark = pytest.mark.usefixtures("one_thread")


def example() -> str:
    text = README.read_text(encoding="utf-8")
    assert SECTION in text
    section = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert len(blocks) == 1
    return blocks[0]


def test_the_example_trains_and_its_best_pt_loads(tmp_path: Path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # the example writes runs/sign
    scope: dict = {"__name__": "readme_example"}
    exec(compile(example(), str(README), "exec"), scope)
    run = tmp_path / "runs" / "sign"
    assert sorted(p.name for p in run.iterdir() if p.suffix == ".pt") == ["best.pt", "last.pt"]
    assert {"metrics.jsonl", "curves.png"} <= {p.name for p in run.iterdir()}
    best = scope["summary"]["best"]
    assert scope["summary"]["select"] == "acc" and best["acc"] > 0.8  # chance is about 0.5
    assert "'acc'" in capsys.readouterr().out
    # the loaded model is best.pt's: it scores what the summary says on the validation data
    with torch.no_grad():
        again = scope["SignTask"]().evaluate(scope["model"].eval())
    assert again["acc"] == pytest.approx(best["acc"])
