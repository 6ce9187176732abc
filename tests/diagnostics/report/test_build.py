"""``rnnkit report``: written by every training, several runs on one chart, and what it says about runs it
can read only in part (an older version's, a half-written one, an unknown task's) instead of a traceback."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from rnnkit.cli import main
from rnnkit.diagnostics import report


def sections(html: str) -> list[str]:
    return re.findall(r'<section id="([^"]+)"', html)


def missing(html: str) -> str:
    body = html.split('<section id="missing">')[1].split("</section>")[0]
    return re.sub(r"\s+", " ", re.sub("<[^>]+>", " ", body))


def test_every_training_leaves_a_self_contained_report(tiny_runs: dict[str, Path]):
    for task, run in tiny_runs.items():
        html = (run / "report.html").read_text(encoding="utf-8")
        assert {"curves", "throughput", "config", "missing"} <= set(sections(html)), task
        assert "nothing: every view could be built" in html, (task, missing(html))
        # offline: nothing is fetched from anywhere
        assert not re.search(r'(src|href)="(https?:)?//', html), task


def test_language_model_report_holds_its_views(tiny_runs: dict[str, Path]):
    html = (tiny_runs["lm"] / "report.html").read_text(encoding="utf-8")
    assert [s for s in sections(html) if s in ("samples", "surprise", "units", "saturation", "gradflow")] == \
        ["samples", "surprise", "units", "saturation", "gradflow"]
    ranked = re.findall(r'<h3 class="unit">layer \d [hc]\[\d+\]: r = ([-+]\d\.\d+) with "([^"]+)"</h3>', html)
    assert len(ranked) == 6 and all(-1 <= float(r) <= 1 for r, _ in ranked)
    rs = [abs(float(r)) for r, _ in ranked]
    assert rs == sorted(rs, reverse=True)
    for t in ("0.5", "0.8", "1"):
        assert f"<tr><td>{t}</td>" in html


def test_several_runs_share_one_chart(tiny_runs: dict[str, Path], tmp_path: Path, capsys):
    out = tmp_path / "compare.html"
    assert main(["report", str(tiny_runs["adding"]), str(tiny_runs["copy"]), "--out", str(out)]) == 0
    html = out.read_text(encoding="utf-8")
    loss = html.split('<section id="curves">')[1].split("</svg>")[0]  # the first chart: the loss
    assert loss.count("<polyline") == 4  # train and valid of each run
    legend = html.split('<section id="curves">')[1].split("</div></div>")[0]
    assert "adding: train loss" in legend and "copy: valid loss" in legend
    assert {"config-0", "config-1", "gradflow-0", "gradflow-1"} <= set(sections(html))


def _copy(run: Path, tmp_path: Path, name: str) -> Path:
    dst = tmp_path / name
    shutil.copytree(run, dst)
    (dst / "report.html").unlink()
    return dst


def test_a_run_of_an_older_version(tiny_runs: dict[str, Path], tmp_path: Path, capsys):
    """No config.json (the checkpoint holds the config) and metrics without time or throughput."""
    run = _copy(tiny_runs["lm"], tmp_path, "old")
    (run / "config.json").unlink()
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    old = [{k: v for k, v in r.items() if k not in ("time", "tok_per_s")} for r in records]
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in old))
    assert main(["report", str(run)]) == 0
    html = (run / "report.html").read_text(encoding="utf-8")
    assert {"curves", "samples", "units", "config"} <= set(sections(html))
    assert "config.json is missing" in missing(html) and "not logged" in html
    assert "[model]" in html  # the config, read from the checkpoint


def test_a_half_written_run(tiny_runs: dict[str, Path], tmp_path: Path, capsys):
    """Killed before its first checkpoint, with a line of metrics.jsonl cut short."""
    run = _copy(tiny_runs["lm"], tmp_path, "half")
    for name in ("best.pt", "last.pt"):
        (run / name).unlink()
    first = (run / "metrics.jsonl").read_text().splitlines()[0]
    (run / "metrics.jsonl").write_text(first + '\n{"step": 2, "spl')
    assert main(["report", str(run)]) == 0
    html = (run / "report.html").read_text(encoding="utf-8")
    assert {"curves", "task", "config", "missing"} <= set(sections(html))
    assert "no usable checkpoint" in missing(html) and "Traceback" not in html
    # the report is no file of a run: a new run may still start there
    assert main(["train", "lm", "--out", str(run), "--data", json.loads((run / "config.json").read_text())["data"]
                 ["data"], "--max-steps", "1", "--hidden-size", "8", "--embed-size", "4", "--num-layers", "1",
                 "--bptt", "8", "--batch-size", "2", "--no-progress"]) == 0


def test_a_run_of_an_unknown_task(tiny_runs: dict[str, Path], tmp_path: Path, capsys):
    run = _copy(tiny_runs["adding"], tmp_path, "unknown")
    conf = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({**conf, "task": "juggling"}))
    assert main(["report", str(run)]) == 0
    html = (run / "report.html").read_text(encoding="utf-8")
    assert "task &#x27;juggling&#x27; is unknown" in missing(html)
    assert {"curves", "config"} <= set(sections(html)) and "gradflow" not in sections(html)


def test_a_view_that_fails_is_a_note_not_a_traceback(tiny_runs: dict[str, Path], tmp_path: Path, capsys):
    """The training text moved away: the loss view says so, the units are read over the model's sample."""
    run = _copy(tiny_runs["lm"], tmp_path, "moved")
    conf = json.loads((run / "config.json").read_text())
    conf["data"]["valid"] = str(tmp_path / "gone.txt")
    (run / "config.json").write_text(json.dumps(conf))
    assert main(["report", str(run)]) == 0
    html = (run / "report.html").read_text(encoding="utf-8")
    assert "the validation text can&#x27;t be read" in missing(html)
    assert "the model&#x27;s own sample" in html and "units" in sections(html)


def test_a_failing_report_never_fails_the_training(tmp_path: Path, capsys, monkeypatch):
    def broken(paths):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(report.build, "build_report", broken)
    run = tmp_path / "add"
    assert main(["train", "adding", "--lag", "5", "--hidden-size", "4", "--max-steps", "2", "--eval-every", "2",
                 "--valid-size", "8", "--test-size", "8", "--no-progress", "--out", str(run)]) == 0
    err = capsys.readouterr().err
    assert "warning: the report could not be written (RuntimeError: disk on fire)" in err
    assert (run / "best.pt").is_file() and not (run / "report.html").exists()


def test_report_errors_are_one_line(tmp_path: Path, capsys, tiny_runs: dict[str, Path]):
    from tests.conftest import one_line_error

    assert "nowhere: no such run directory" in one_line_error(capsys, ["report", str(tmp_path / "nowhere")])
    assert "options of rnnkit report adding" in one_line_error(capsys, ["report", str(tiny_runs["lm"]), "--lags",
                                                                        "5"])
    assert "would overwrite" in one_line_error(capsys, ["report", str(tiny_runs["lm"]), "--out",
                                                        str(tiny_runs["lm"] / "config.json")])
