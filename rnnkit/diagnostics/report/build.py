"""``rnnkit report RUN [RUN...]``: one self-contained ``report.html`` per call.

Every section is built on its own: one that fails (a data file moved away, a checkpoint an older rnnkit
wrote) is replaced by a line in "What is missing" naming the section and the error, never a traceback,
and the rest of the page is still written.
"""

from __future__ import annotations

import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rnnkit.diagnostics.report import summary
from rnnkit.diagnostics.report.html import Section, note, page
from rnnkit.diagnostics.report.run import RunInfo, read_run
from rnnkit.diagnostics.report.textcolor import css

REPORT = "report.html"


def _views(task: str) -> Callable[[RunInfo, list[str]], list[Section]] | None:
    """The task's own views (imported only when its run is reported)."""
    if task == "lm":
        from rnnkit.diagnostics.report.lm import lm_sections

        return lm_sections
    if task == "classify":
        from rnnkit.diagnostics.report.classify import classify_sections

        return classify_sections
    if task == "tag":
        from rnnkit.diagnostics.report.tag import tag_sections

        return tag_sections
    if task in ("translate", "caption"):
        from rnnkit.diagnostics.report.seq2seq import seq2seq_sections

        return seq2seq_sections
    if task == "forecast":
        from rnnkit.diagnostics.report.forecast import forecast_sections

        return forecast_sections
    if task == "asr":
        from rnnkit.diagnostics.report.asr import asr_sections

        return asr_sections
    if task == "music":
        from rnnkit.diagnostics.report.music import music_sections

        return music_sections
    if task in ("adding", "copy", "seqdigits"):
        from rnnkit.diagnostics.report.memory import memory_sections

        return memory_sections
    return None


def _guarded(what: str, build: Callable[[], Any], notes: list[str]) -> Any:
    """``build()``, or None with a note naming ``what`` and the error's last line."""
    try:
        return build()
    except KeyboardInterrupt:
        raise
    except Exception as e:  # noqa: BLE001  (a report shows what it can: one failing view never stops the page)
        where = traceback.extract_tb(e.__traceback__)[-1]
        notes.append(f"{what} could not be built: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''} "
                     f"({Path(where.filename).name}:{where.lineno})")
        return None


def task_sections(info: RunInfo, notes: list[str]) -> list[Section]:
    """The views of ``info``'s task; empty (with a note) when there is no model or the task is unknown."""
    if info.task is None or info.ckpt is None:
        return []
    views = _views(info.task)
    if views is None:
        return []
    got = _guarded(f"the {info.task} views", lambda: views(info, notes), notes)
    return list(got or [])


def build_report(paths: Sequence[str | Path]) -> str:
    """The HTML of the report of ``paths`` (one run, or several compared)."""
    import torch

    runs = [read_run(p) for p in paths]
    notes: dict[str, list[str]] = {str(r.path): [] for r in runs}
    sections: list[Section] = []
    first = runs[0]
    with torch.random.fork_rng():  # sampling in the views never changes the caller's random state
        torch.manual_seed(0)
        # what people look at first: the curves and the task's views; the config and the details after them
        got = _guarded("the curves", lambda: summary.curves_section(runs), notes[str(first.path)])
        if got is not None:
            sections.append(got)
        for i, info in enumerate(runs):
            for s in task_sections(info, notes[str(info.path)]):
                if len(runs) > 1:
                    s = Section(f"{s.key}-{i}", f"{s.title}: {info.name}", s.body)
                sections.append(s)
        got = _guarded("the throughput", lambda: summary.throughput_section(runs), notes[str(first.path)])
        if got is not None:
            sections.append(got)
        for i, info in enumerate(runs):
            got = _guarded("the config section", lambda info=info: summary.config_section(info), notes[str(info.path)])
            if got is not None:
                if len(runs) > 1:
                    got = Section(f"config-{i}", f"Config and data: {info.name}", got.body)
                sections.append(got)
    if not any(s.key.startswith(("samples", "confusion", "entities", "outputs", "series", "speech", "music", "units",
                                 "gradflow")) for s in sections):
        sections.insert(1, Section("task", "Task views", note("no task views: " + "; ".join(
            f"{r.name}: " + ("no usable checkpoint" if r.ckpt is None else f"task {r.task!r} has none")
            for r in runs))))
    sections.append(summary.missing_section(runs, notes))
    title = f"rnnkit report: {', '.join(r.name for r in runs)}"
    tasks = ", ".join(sorted({r.task or "unknown task" for r in runs}))
    lacking = sum(len(r.missing) + len(notes[str(r.path)]) for r in runs)
    subtitle = f"{tasks}; written {time.strftime('%Y-%m-%d %H:%M:%S')}" + (
        f"; {lacking} thing{'s' if lacking > 1 else ''} could not be shown (see What is missing)" if lacking else "")
    return page(title, sections, subtitle).replace(
        "</head>", css() + "</head>", 1)


def _check_run_dir(path: Path) -> None:
    """A one-line error for a path that is not a run: missing, a file, or a directory holding none of a
    run's files (naming the runs inside it, when it is their parent: an easy slip)."""
    from rnnkit.errors import RnnkitError
    from rnnkit.tasks.runs import CHECKPOINTS

    run_files = ("config.json", "metrics.jsonl", *CHECKPOINTS)  # what a report can be built from

    if not path.exists():
        raise RnnkitError(f"{path}: no such run directory")
    if not path.is_dir():
        raise RnnkitError(f"{path} is a file, not a run directory")
    if any((path / f).exists() for f in run_files):
        return
    inside = sorted(d.name for d in path.iterdir() if d.is_dir() and any((d / f).exists() for f in run_files))
    hint = f" (it holds runs: {', '.join(inside[:8])}{', ...' if len(inside) > 8 else ''})" if inside else ""
    raise RnnkitError(f"{path} is not a run directory: none of {', '.join(run_files)} in it{hint}")


def write_report(paths: Sequence[str | Path], out: str | Path | None = None) -> Path:
    """Write the report of ``paths`` to ``out`` (default: ``report.html`` in the first run's directory)."""
    from rnnkit.errors import RnnkitError
    from rnnkit.outputs import check_output_path, write_atomic

    if not paths:
        raise RnnkitError("give at least one run directory")
    for p in map(Path, paths):
        _check_run_dir(p)
    target = Path(out) if out is not None else Path(paths[0]) / REPORT
    check_output_path(target, [], paths, "--out")
    if not target.parent.is_dir():
        raise RnnkitError(f"can't write {target}: {target.parent} is not a directory"
                          + (" (is the run directory right?)" if out is None else ""))
    html = build_report(paths)
    write_atomic(target, html)
    return target


def report_after_training(run_dir: Path) -> Path | None:
    """Write ``run_dir/report.html`` at the end of ``rnnkit train``: any failure is a warning, never an error
    (the run itself is complete and saved). Rank 0 only under torchrun."""
    import os

    if os.environ.get("RANK", "0") != "0":
        return None
    start = time.perf_counter()
    try:
        path = write_report([run_dir])
    except KeyboardInterrupt:
        raise
    except Exception as e:  # noqa: BLE001  (training succeeded: a report that fails must not turn it into an error)
        print(f"warning: the report could not be written ({type(e).__name__}: {e}); the run is complete: "
              f"rnnkit report {run_dir} tries again", file=sys.stderr)
        return None
    print(f"report: {path} ({time.perf_counter() - start:.1f} s)", file=sys.stderr)
    return path
