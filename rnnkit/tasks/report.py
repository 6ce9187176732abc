"""``rnnkit gradflow`` and ``rnnkit report adding``: vanishing gradients, measured and shown.

``gradflow`` measures ``||dL/dh_t||`` for every step t of a many-to-one model (the loss is
read after the last step, so step t lies ``T - 1 - t`` steps from it) on a fixed batch, for
trained runs and for freshly initialised cells, and plots them on one log-scale axis.

``report adding`` trains the Elman RNN, the LSTM and the GRU on the adding problem at
several lags with the same budget, and writes a table (steps until the validation MSE first
falls below 0.01, test MSE of the best model) and the gradient-flow figure of the three cells
at initialisation and after training. Runs already finished in the report's directory are
reused, so an interrupted report continues where it stopped.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.data import synthetic
from rnnkit.errors import RnnkitError
from rnnkit.models.lm import CELLS
from rnnkit.models.sequence import SequenceConfig, SequenceModel
from rnnkit.outputs import check_output_path, write_atomic
from rnnkit.tasks import memory, runs
from rnnkit.training import TrainConfig

NAMES = {"rnn": "Elman RNN", "lstm": "LSTM", "gru": "GRU"}
FLOW_BATCH = 256  # sequences in the batch the gradient norms are averaged over


def adding_loss(model: nn.Module, lag: int, seed: int = 0) -> Any:
    """A closure: the MSE of ``model`` on a fixed adding batch of ``lag`` steps."""
    x, y = synthetic.adding_batch(FLOW_BATCH, lag, torch.Generator().manual_seed(10**6 + seed))
    device = next(model.parameters()).device
    return lambda: F.mse_loss(model(x.to(device)), y.to(device))


def run_flow(run: str | Path, lag: int | None = None) -> tuple[str, Tensor, str]:
    """``(label, norms (T,), cell)``: the top layer's ``||dL/dh_t||`` of a trained many-to-one run."""
    from rnnkit.diagnostics.gradflow import gradient_flow

    model, conf, path = memory.load_run(run)
    task = conf["task"]
    if lag is not None and task == "adding":
        check_flow_size(lag, model.config.hidden_size, f" {run}")
    if task == "adding":
        loss = adding_loss(model, lag or conf["data"]["lag"])
    elif task == "seqdigits":
        x, y = memory.DigitsTask(memory.DigitsConfig(**conf["data"])).test
        x, y = x[:FLOW_BATCH], y[:FLOW_BATCH]

        def loss() -> Tensor:
            return F.cross_entropy(model(x), y)
    else:
        raise RnnkitError(f"{path}: gradflow measures many-to-one runs (adding, seqdigits); a {task!r} model "
                          f"is scored at every step")
    cell = model.config.cell
    return f"{NAMES[cell]} (trained, {Path(run).name})", gradient_flow(model, loss).top(), cell


def fresh_flow(cell: str, lag: int, hidden_size: int = 128, seed: int = 0) -> Tensor:
    """The top layer's ``||dL/dh_t||`` of a freshly initialised adding-problem model."""
    from rnnkit.diagnostics.gradflow import gradient_flow

    torch.manual_seed(seed)
    model = SequenceModel(memory.model_config("adding", SequenceConfig(cell=cell, hidden_size=hidden_size), None))
    return gradient_flow(model, adding_loss(model, lag)).top()


def check_flow_size(lag: int, hidden_size: int, what: str = "") -> None:
    """Refuse a measurement that can't fit in this machine's memory before allocating any of it: the
    weights (4 gates of H x H and H x 2) and every step's saved states and gradients for the batch."""
    need = 4 * (4 * (hidden_size * hidden_size + 3 * hidden_size) + 24 * FLOW_BATCH * lag * hidden_size)
    try:
        have = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return
    if need > have // 2:
        raise RnnkitError(f"gradflow{what}: --lag {lag} with {hidden_size} hidden units needs about "
                          f"{need / 2**30:,.1f} GiB of memory, more than half of this machine's {have / 2**30:.0f} "
                          f"GiB; use a smaller --lag or --hidden-size")


def gradflow_command(run_paths: list[str], fresh: list[str], lag: int | None, hidden_size: int,
                     out: str) -> dict[str, Any]:
    """Measure, plot to ``out`` (PNG) and print a summary line per curve. ``lag`` None: each run's own, and
    for ``fresh`` cells the runs' length (the longest; 100 without runs). ``out`` is checked first: never one
    of the runs, their files or a directory."""
    from rnnkit.diagnostics.gradflow import plot_gradflow

    check_output_path(out, run_paths, run_paths, "--out", figure=True)
    if lag is not None and lag < 1:
        raise RnnkitError(f"--lag must be >= 1, got {lag}")
    if fresh and hidden_size < 1:
        raise RnnkitError(f"--hidden-size must be >= 1, got {hidden_size}")
    for cell in fresh:
        if cell not in CELLS:
            raise RnnkitError(f"--fresh: unknown cell {cell!r}; expected {', '.join(CELLS)}")
    curves: dict[str, Tensor] = {}
    for run in run_paths:
        label, norms, _ = run_flow(run, lag)
        curves[label] = norms
    # fresh cells beside trained runs are measured over the runs' own length (the longest, if they
    # differ): a curve over another T would not compare distance for distance
    fresh_lag = lag or max((n.numel() for n in curves.values()), default=100)
    if fresh:
        check_flow_size(fresh_lag, hidden_size)
        why = "--lag" if lag else "the runs' length" if curves else "the default"
        print(f"fresh cells: T={fresh_lag} ({why})")
    for cell in fresh:
        curves[f"{NAMES[cell]} (init)"] = fresh_flow(cell, fresh_lag, hidden_size)
    if not curves:
        raise RnnkitError("nothing to measure: give run directories and/or --fresh rnn,lstm,gru")
    plot_gradflow(curves, out, title="gradient norm through time")
    for label, norms in curves.items():
        print(f"{label}: ||dL/dh_t|| {summarise(norms)}")
    print(f"figure: {out}")
    return {label: norms.tolist() for label, norms in curves.items()}


def summarise(norms: Tensor) -> str:
    """The norm at the loss and at distances 10, 50, ... (``norms`` in time order, the loss after the last step)."""
    far = norms.flip(0)
    ds = sorted({d for d in (0, 10, 50, 100, 200, 500) if d < far.numel()} | {far.numel() - 1})
    return ", ".join(f"d={d}: {float(far[d]):.3g}" for d in ds)


def _steps_to_solve(run_dir: Path) -> int | None:
    for line in (run_dir / "metrics.jsonl").read_text(encoding="utf-8").splitlines():
        r = json.loads(line)
        if r.get("split") == "valid" and r["loss"] < memory.SOLVED_MSE:
            return int(r["step"])
    return None


def adding_report(out: Path, lags: list[int], cells: list[str], max_time: float, max_steps: int,
                  hidden_size: int = 128, lr: float = 2e-3, batch_size: int = 64, eval_every: int = 100,
                  stop_below: float = 1e-3, figure_lag: int | None = None, seed: int = 0,
                  progress: bool = True) -> dict[str, Any]:
    """Train every cell at every lag, then write ``report.md``, ``report.json`` and ``gradflow.png`` to ``out``."""
    bad = [c for c in cells if c not in CELLS]
    if bad or not cells:
        raise RnnkitError(f"--cells: expected a comma list of {', '.join(CELLS)}, got {','.join(cells) or 'nothing'}")
    if not lags or min(lags) < 2:
        raise RnnkitError(f"--lags: expected lags >= 2, got {lags}")
    if max_time <= 0 and max_steps <= 0:
        raise RnnkitError("give a budget per run: --max-time SECONDS and/or --max-steps N")
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for lag in lags:
        for cell in cells:
            run_dir = out / f"{cell}-T{lag}"
            configs = {
                "data": memory.GeneratedConfig(lag=lag, batch_size=batch_size, valid_size=1000, test_size=2000),
                "model": SequenceConfig(cell=cell, hidden_size=hidden_size),
                "train": TrainConfig(lr=lr, schedule="constant", epochs=10**6, max_time=max_time, max_steps=max_steps,
                                     eval_every=eval_every, log_every=50, target_loss=stop_below, seed=seed,
                                     progress=progress),
            }
            resume = (run_dir / "last.pt").is_file()
            if not resume:
                runs.prepare(run_dir, resume=False)
            print(f"== {NAMES[cell]}, T = {lag}: {run_dir}{' (resumed)' if resume else ''}", file=sys.stderr)
            summary = memory.train("adding", run_dir, configs, resume=resume)
            rows.append({"cell": cell, "lag": lag, "steps": summary["steps"], "seconds": round(summary["seconds"], 1),
                         "steps_to_solve": _steps_to_solve(run_dir), "test_mse": summary["test"]["loss"],
                         "stop_reason": summary["stop_reason"]})
    from rnnkit.diagnostics.gradflow import plot_gradflow

    lag = figure_lag or max(lags)
    curves: dict[str, Tensor] = {}
    for cell in cells:
        curves[f"{NAMES[cell]} (init)"] = fresh_flow(cell, lag, hidden_size, seed)
        run_dir = out / f"{cell}-T{lag}"
        if run_dir.is_dir():
            curves[f"{NAMES[cell]} (trained)"] = run_flow(run_dir, lag)[1]
    figure = out / "gradflow.png"
    plot_gradflow(curves, figure, title=f"adding problem, T = {lag}: ||dL/dh_t|| at initialisation and trained")
    result = {"rows": rows, "figure": str(figure), "figure_lag": lag,
              "flow": {k: v.tolist() for k, v in curves.items()}}
    write_atomic(out / "report.json", json.dumps(result, indent=1) + "\n")
    write_atomic(out / "report.md", _markdown(rows, curves, lag))
    print(_markdown(rows, curves, lag))
    return result


def _markdown(rows: list[dict[str, Any]], curves: dict[str, Tensor], lag: int) -> str:
    lines = ["| cell | T | steps to valid MSE < 0.01 | test MSE (best model) | steps run | seconds |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        solved = r["steps_to_solve"] if r["steps_to_solve"] is not None else "not solved"
        lines.append(f"| {NAMES[r['cell']]} | {r['lag']} | {solved} | {r['test_mse']:.4f} | {r['steps']} | "
                     f"{r['seconds']:.0f} |")
    lines += ["", f"Answering 1 scores MSE {synthetic.ADDING_BASELINE_MSE:.3f}. Gradient norm ||dL/dh_t|| at "
              f"T = {lag} (d = steps from the loss):", ""]
    lines += [f"- {label}: {summarise(norms)}" for label, norms in curves.items()]
    return "\n".join(lines) + "\n"
