"""What a report knows about a run directory, read without ever failing: what is missing is noted instead.

The checkpoint is the one every command uses (:func:`rnnkit.tasks.runs.load_checkpoint`: ``best.pt``,
else ``last.pt``, an older run's legacy file); the config is ``config.json``, else the checkpoint's own copy
(runs of older versions, or a directory whose ``config.json`` was lost).
"""

from __future__ import annotations

import contextlib
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rnnkit.training.log import MetricsLog

#: the tasks whose views the report knows
KNOWN_TASKS = ("lm", "classify", "tag", "translate", "caption", "forecast", "asr", "music", "adding", "copy",
               "seqdigits")


@dataclass
class RunInfo:
    """A run directory as far as it could be read; ``missing`` says, one line each, what could not."""

    path: Path
    config: dict[str, Any] = field(default_factory=dict)
    task: str | None = None
    records: list[dict[str, Any]] = field(default_factory=list)
    checkpoint: Path | None = None
    ckpt: dict[str, Any] | None = None
    missing: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.path.name or str(self.path)

    def split(self, name: str) -> list[dict[str, Any]]:
        """The metrics records of one split (``train``, ``valid``, ``test``)."""
        return [r for r in self.records if r.get("split") == name]


def read_run(path: str | Path) -> RunInfo:
    """Read config, metrics and checkpoint of ``path``; each failure becomes a line of ``missing``."""
    from rnnkit.errors import RnnkitError
    from rnnkit.tasks import runs

    info = RunInfo(Path(path))
    p = info.path
    if not p.is_dir():
        info.missing.append(f"{p} is not a run directory" if p.exists() else f"{p}: no such directory")
        return info
    conf_file = p / "config.json"
    if conf_file.is_file():
        try:
            conf = json.loads(conf_file.read_text(encoding="utf-8"))
            if isinstance(conf, dict):
                info.config = conf
            else:
                info.missing.append(f"{conf_file.name} is not an object of config sections")
        except (json.JSONDecodeError, UnicodeDecodeError, OSError) as e:
            info.missing.append(f"{conf_file.name} can't be read ({e})")
    else:
        info.missing.append("config.json is missing (a run of an older rnnkit, or cut short before it was "
                            "written): the config shown is the checkpoint's, where there is one")
    metrics = p / "metrics.jsonl"
    if metrics.is_file():
        try:
            info.records = [r for r in MetricsLog(metrics).records() if isinstance(r, dict)]
        except (OSError, UnicodeDecodeError) as e:
            info.missing.append(f"metrics.jsonl can't be read ({e})")
    else:
        info.missing.append("metrics.jsonl is missing: no curves")
    warnings = io.StringIO()
    try:
        with contextlib.redirect_stderr(warnings):  # a corrupt best.pt: the warning becomes a note here
            info.checkpoint, info.ckpt = runs.load_checkpoint(p)
    except (RnnkitError, OSError) as e:
        info.missing.append(f"no usable checkpoint: {e} (the run stopped before its first checkpoint, or its "
                            f"files are damaged): the views that need the trained model are left out")
    for line in warnings.getvalue().splitlines():
        if line.strip():
            info.missing.append(line.strip())
    if info.ckpt is not None and not info.config and isinstance(info.ckpt.get("config"), dict):
        info.config = info.ckpt["config"]
    info.task = info.config.get("task") or (info.ckpt or {}).get("task")
    if info.task is None:
        info.missing.append("the run's task is not recorded (no config, no checkpoint)")
    elif info.task not in KNOWN_TASKS:
        info.missing.append(f"task {info.task!r} is unknown to this rnnkit (known: {', '.join(KNOWN_TASKS)}): "
                            f"only the config and the curves are shown")
    return info


def parameters(info: RunInfo) -> int | None:
    """The number of model parameters in the checkpoint."""
    state = (info.ckpt or {}).get("model")
    if not isinstance(state, dict):
        return None
    import torch

    return sum(int(v.numel()) for v in state.values() if isinstance(v, torch.Tensor) and v.is_floating_point())
