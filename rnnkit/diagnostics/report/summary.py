"""The sections every run gets: its config and data, its curves (several runs on one chart), its speed."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rnnkit.diagnostics.report.html import Section, esc, fmt, note, table
from rnnkit.diagnostics.report.run import RunInfo, parameters
from rnnkit.diagnostics.report.svg import Series, line_chart

SKIP = {"step", "epoch", "split", "time", "lr", "grad_norm", "clipped", "clipped_value", "checkpoint", "message"}


def _finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _file_size(value: Any) -> str | None:
    if not isinstance(value, str) or not value or len(value) > 500:
        return None
    p = Path(value)
    try:
        if p.is_file():
            return f"{p.stat().st_size / 1e6:,.2f} MB"
        if p.is_dir():
            return "directory"
    except OSError:
        return None
    return None


def config_section(info: RunInfo) -> Section:
    """Every config section as a table, data files with their sizes, and what the checkpoint says."""
    parts = []
    facts: list[tuple[str, Any]] = [("run directory", str(info.path)), ("task", info.task or "unknown")]
    if info.checkpoint is not None:
        facts.append(("checkpoint", info.checkpoint.name))
        trainer = (info.ckpt or {}).get("trainer") or {}
        if isinstance(trainer, dict):
            if "step" in trainer:
                facts.append(("steps trained (checkpoint)", trainer["step"]))
            best = trainer.get("best_metrics")
            if isinstance(best, dict):
                facts.append(("its validation metrics", ", ".join(f"{k} {fmt(v)}" for k, v in best.items()
                                                                   if _finite(v))))
    n = parameters(info)
    if n is not None:
        facts.append(("parameters", n))
    ck = info.ckpt or {}
    vocab = ck.get("vocab")
    if isinstance(vocab, dict) and isinstance(vocab.get("tokens"), list):
        facts.append(("vocabulary", f"{len(vocab['tokens']):,} {vocab.get('level', '')} tokens".strip()))
    if isinstance(ck.get("classes"), list):
        facts.append(("classes", ", ".join(map(str, ck["classes"][:30])) + (" ..." if len(ck["classes"]) > 30 else "")))
    parts.append(table(["", ""], facts))
    data = info.config.get("data")
    if isinstance(data, dict):
        files = [(k, v, _file_size(v)) for k, v in data.items() if _file_size(v)]
        if files:
            parts.append("<h3>data</h3>" + table(["option", "file", "size"], files))
    boxes = []
    for name, sec in info.config.items():
        if isinstance(sec, dict) and sec:
            rows = [(k, v if not isinstance(v, (dict, list)) else str(v)[:200]) for k, v in sec.items()]
            boxes.append(f"<div><h3>[{esc(name)}]</h3>" + table(["option", "value"], rows) + "</div>")
    if boxes:
        parts.append('<div class="row">' + "".join(boxes) + "</div>")
    if not info.config:
        parts.append(note("no config found (neither config.json nor a checkpoint holding one)"))
    return Section("config", "Config and data", "\n".join(parts))


def _metric_names(runs: Sequence[RunInfo]) -> list[str]:
    names: dict[str, None] = {}
    for info in runs:
        for r in info.split("valid"):
            names.update(dict.fromkeys(k for k, v in r.items() if k not in SKIP and k != "loss" and _finite(v)))
    return list(names)


def curves_section(runs: Sequence[RunInfo]) -> Section:
    """Training and validation loss of every run on one chart, then each validation metric on its own."""
    several = len(runs) > 1
    series = []
    for info in runs:
        prefix = f"{info.name}: " if several else ""
        for split, dashed in (("train", False), ("valid", True)):
            pts = [(r["step"], r["loss"]) for r in info.split(split) if _finite(r.get("step")) and
                   _finite(r.get("loss"))]
            if pts:
                series.append(Series(f"{prefix}{split} loss", [p[0] for p in pts], [p[1] for p in pts], dashed,
                                     markers=split == "valid"))
    if not series:
        return Section("curves", "Loss and metrics", note("no loss was logged (metrics.jsonl is missing or empty)"))
    parts = [line_chart(series, "step", "loss", "loss", chart_id="loss")]
    small = []
    for i, name in enumerate(_metric_names(runs)[:8]):
        ms = []
        for info in runs:
            pts = [(r["step"], r[name]) for r in info.split("valid") if _finite(r.get(name)) and _finite(r.get("step"))]
            if pts:
                ms.append(Series(f"{info.name}" if several else f"valid {name}", [p[0] for p in pts],
                                 [p[1] for p in pts], markers=True))
        if ms:
            small.append(line_chart(ms, "step", name, f"validation {name}", width=340, height=210, chart_id=f"m{i}"))
    if small:
        parts.append('<div class="row">' + "".join(small) + "</div>")
    tests = [(info.name, r) for info in runs for r in info.split("test")]
    if tests:
        keys = list(dict.fromkeys(k for _, r in tests for k, v in r.items() if k not in SKIP and _finite(v)))[:12]
        parts.append("<h3>test</h3>" + table(["run", *keys], [(n, *(r.get(k, "") for k in keys)) for n, r in tests]))
    return Section("curves", "Loss and metrics", "\n".join(parts))


def throughput_section(runs: Sequence[RunInfo]) -> Section:
    """Steps, wall time and items per second (the Trainer's ``*_per_s``) of each run."""
    rows, missing = [], []
    for info in runs:
        train = info.split("train")
        rates = {k: [r[k] for r in train if _finite(r.get(k))] for r in train for k in r if k.endswith("_per_s")}
        times = [r["time"] for r in info.records if _finite(r.get("time"))]
        steps = max((r["step"] for r in info.records if _finite(r.get("step"))), default=None)
        if not train and not times:
            missing.append(info.name)
            continue
        rate = ""
        for k, vs in rates.items():
            if vs:
                vs = sorted(vs)
                rate = f"{vs[len(vs) // 2]:,.0f} {k[:-len('_per_s')]}/s"
        seconds = max(times) if times else None
        rows.append((info.name, steps if steps is not None else "", fmt(seconds) + " s" if seconds else "not logged",
                     f"{seconds / steps * 1000:.1f}" if seconds and steps else "", rate or "not logged"))
    parts = []
    if rows:
        parts.append(table(["run", "steps", "training time", "ms per step", "median throughput"], rows))
    for name in missing:
        parts.append(note(f"{name}: no training records, so no time or throughput"))
    if any(r[2] == "not logged" or r[4] == "not logged" for r in rows):
        parts.append(note("time or throughput not logged (a run of an older rnnkit)"))
    return Section("throughput", "Throughput and time", "\n".join(parts))


def missing_section(runs: Sequence[RunInfo], extra: dict[str, list[str]]) -> Section:
    """Everything a report could not show, run by run, and why."""
    items = []
    for info in runs:
        for line in [*info.missing, *extra.get(str(info.path), [])]:
            items.append(f"<li>{esc(info.name)}: {esc(line)}</li>")
    body = f'<ul class="missing">{"".join(items)}</ul>' if items else "<p>nothing: every view could be built.</p>"
    return Section("missing", "What is missing", body)
