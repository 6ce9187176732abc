"""``rnnkit inspect RUN --text FILE``: the unit view over any text."""

from __future__ import annotations

import re
from pathlib import Path

from rnnkit.cli import main
from tests.conftest import one_line_error


def test_inspect_writes_the_units_over_a_text(tiny_runs: dict[str, Path], tmp_path: Path, capsys):
    text = tmp_path / "code.py"
    text.write_text('def f(x):\n    return g("a", (x + 1))\n' * 30, encoding="utf-8")
    out = tmp_path / "units.html"
    assert main(["inspect", str(tiny_runs["lm"]), "--text", str(text), "--out", str(out)]) == 0
    html = out.read_text(encoding="utf-8")
    assert re.findall(r'<section id="([^"]+)"', html) == ["units", "saturation"]
    props = re.findall(r"<tr><td>([a-z -]+)</td><td>", html.split("best unit per property")[1])
    # code has quotes, parentheses and indentation: every property varies, so every one is ranked
    assert set(props) == {"inside quotes", "inside parentheses", "position in line", "after a line break",
                          "indentation depth", "all-caps line"} - {"all-caps line"}
    assert main(["inspect", str(tiny_runs["lm"]), "--text", str(text)]) == 0
    assert (tiny_runs["lm"] / "inspect.html").is_file()


def test_inspect_refuses_other_runs_and_empty_texts(tiny_runs: dict[str, Path], tmp_path: Path, capsys):
    text = tmp_path / "t.txt"
    text.write_text("hello\n", encoding="utf-8")
    assert "copy" in one_line_error(capsys, ["inspect", str(tiny_runs["copy"]), "--text", str(text)])
    empty = tmp_path / "empty.txt"
    empty.write_text("x", encoding="utf-8")
    assert "fewer than 2" in one_line_error(capsys, ["inspect", str(tiny_runs["lm"]), "--text", str(empty)])


def test_a_word_level_model_is_shown_word_by_word(tmp_path: Path, capsys):
    from tests.diagnostics.report.conftest import _texts

    files = _texts(tmp_path)
    run = tmp_path / "words"
    assert main(["train", "lm", "--data", str(files["train"]), "--valid", str(files["valid"]), "--level",
                 "word", "--hidden-size", "8", "--embed-size", "8", "--num-layers", "1", "--cell", "gru",
                 "--batch-size", "4", "--bptt", "8", "--max-steps", "4", "--eval-every", "2", "--no-progress",
                 "--threads", "1", "--out", str(run)]) == 0
    html = (run / "report.html").read_text(encoding="utf-8")
    assert "nothing: every view could be built" in html
    assert re.search(r'<h3 class="unit">layer 0 h\[\d+\]', html) and "<td>reset</td>" in html
    passage = html.split('<section id="surprise">')[1].split('<div class="text">')[1].split("</div>")[0]
    assert "</span> <span" in passage or "> <" in passage  # words are separated by spaces
