"""Where an export is written: the file names of its graphs, refused targets."""

from __future__ import annotations

from pathlib import Path

from rnnkit.errors import RnnkitError

SUFFIX = {"onnx": ".onnx", "pt2": ".pt2"}
# files a run directory keeps that an export must never replace
RUN_FILES = {"config.json", "metrics.jsonl", "metrics.json", "calibration.json"}


def default_out(checkpoint: Path, fmt: str) -> Path:
    """``model.onnx`` / ``model.pt2`` beside the run's checkpoint (in its run directory)."""
    return checkpoint.parent / f"model{SUFFIX[fmt]}"


def graph_paths(out: Path, names: list[str]) -> dict[str, Path]:
    """One file per graph: ``out`` itself for a single graph, else ``<stem>.<graph><suffix>`` beside it
    (``model.encoder.onnx``, ``model.decoder.onnx``)."""
    if len(names) == 1:
        return {names[0]: out}
    return {n: out.with_name(f"{out.stem}.{n}{out.suffix}") for n in names}


def check_targets(paths: list[Path], checkpoint: Path) -> None:
    """Refuse to write over the run's checkpoints, its config or its logs (one clear line)."""
    protected = {checkpoint.resolve()}
    run_dir = checkpoint.parent
    protected |= {(run_dir / n).resolve() for n in RUN_FILES}
    protected |= {p.resolve() for p in run_dir.glob("*.pt")}
    for p in paths:
        if p.resolve() in protected or p.suffix == ".pt":
            raise RnnkitError(f"--out {p} would replace the run's own {p.name}; choose another file name")
        if p.is_dir():
            raise RnnkitError(f"--out {p} is a directory; give a file name such as {p / 'model.onnx'}")
