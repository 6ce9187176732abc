"""The generic training loop. It knows nothing about tasks: a :class:`~rnnkit.training.task.Task`
supplies batches, the loss of a batch, and the validation metrics.

Per step: forward and loss under autocast (mixed precision when configured), backward
(scaled for fp16), the global gradient norm (always computed and logged; clipped when
``clip_norm`` > 0), a check for non-finite values (skip or stop), the optimizer step and the
learning rate of the next step. Every ``eval_every`` steps (or each epoch) the task evaluates;
the weights with the best validation metric named by ``select`` (the loss by default, or a score
the task reports such as accuracy or F1: see :func:`~rnnkit.training.task.resolve_select`) are kept
in ``best.pt``, everything needed to resume in ``last.pt``. One pair of files for every task: a
command that loads a run reads ``best.pt``, else ``last.pt``.

Run directory::

    config.json    the resolved configuration (written by the task's command)
    metrics.jsonl  one record per log interval ("split": "train") and per evaluation ("valid")
    metrics.csv    the same records as a table, rewritten at every evaluation
    curves.png     training and validation loss against step, and the selection metric
    last.pt        model, optimizer, schedule, RNG states, data position, carried task state
    best.pt        the same at the best validation metric so far

Resuming loads ``last.pt`` and continues from the next batch with the same RNG states and
carried state, so a killed run resumed reaches the same weights as one never interrupted
(given the same configuration, and no ``max_time``: a time budget depends on the clock).
"""

from __future__ import annotations

import contextlib
import math
import random
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from rnnkit.errors import Interrupted, RnnkitError
from rnnkit.metrics.display import show, show_all
from rnnkit.training import checkpoint, distributed
from rnnkit.training.config import TrainConfig
from rnnkit.training.log import MetricsLog, plot_curves, write_csv
from rnnkit.training.task import Task, resolve_select
from rnnkit.training.threads import CpuWatch, choose_threads

MAX_SKIPS = 10  # consecutive non-finite steps before a "skip" run gives up
PLAIN_EVERY = 30.0  # seconds between progress lines when stderr is not a terminal
WINDOW = ("loss", "n", "items", "time", "norm", "clipped", "clipped_value", "steps")


class NonFiniteError(RnnkitError):
    """The loss or the gradients became NaN or infinite."""


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise RnnkitError(f"unknown device {name!r}: expected cpu, cuda, cuda:N or auto") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RnnkitError(f"device {name!r} requested but CUDA is not available; use --device cpu")
    return dev


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for ``precision`` on ``device`` (None: full fp32)."""
    if precision == "auto":
        if device.type != "cuda":
            return None
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if precision == "fp16" and device.type != "cuda":
        # CPU kernels (oneDNN's LSTM among them) do not all take fp16: refuse rather than crash mid-run
        raise RnnkitError(f"--precision fp16 needs a CUDA device, not {device}; use bf16 or fp32 on the CPU")
    return {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]


def _rng_state() -> dict[str, Any]:
    state: dict[str, Any] = {"torch": torch.get_rng_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class Trainer:
    """Trains ``model`` on ``task`` as ``config`` says, writing to ``run_dir`` (None: nothing written).

    ``meta`` is stored in every checkpoint beside the Trainer's own state (the task's name,
    its config sections, its vocabulary): whatever is needed to rebuild the model from the file.
    ``on_step`` callables run after every optimizer step with the Trainer as argument.
    """

    def __init__(self, model: nn.Module, task: Task, config: TrainConfig, run_dir: str | Path | None = None,
                 meta: dict[str, Any] | None = None,
                 on_step: list[Callable[[Trainer], None]] | None = None) -> None:
        config.validate()
        self.config = config
        self.task = task
        self.select = resolve_select(config.select, task)
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.meta = dict(meta or {})
        self.on_step = list(on_step or [])
        self.device = resolve_device(config.device)
        self.dist = distributed.setup(str(self.device))
        if self.dist.enabled and self.device.type == "cuda":
            self.device = torch.device("cuda", self.dist.local_rank)
        self.threads, self.threads_why = choose_threads(model, config.threads)
        if self.threads != torch.get_num_threads():
            torch.set_num_threads(self.threads)
        torch.manual_seed(config.seed + self.dist.rank)
        random.seed(config.seed + self.dist.rank)
        self.model = model.to(self.device)
        self.module = self.model  # what train_step calls (DDP-wrapped when distributed)
        if self.dist.enabled:
            from torch.nn.parallel import DistributedDataParallel

            ids = [self.device.index] if self.device.type == "cuda" else None
            self.module = DistributedDataParallel(self.model, device_ids=ids)
        self.optimizer = self._make_optimizer()
        self.amp_dtype = autocast_dtype(config.precision, self.device)
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.amp_dtype == torch.float16)
        if self.run_dir is not None and self.dist.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
        self.log = MetricsLog(self.run_dir / "metrics.jsonl" if self.run_dir and self.dist.is_main else None)
        # position and progress (all in the checkpoint)
        self.step = 0
        self.epoch = 0
        self.batch = 0  # index of the next batch within the epoch
        self.elapsed = 0.0  # seconds of training so far, across resumes
        self.best = math.inf  # the lowest validation loss
        # what picked best.pt, larger is better: [-loss], [score, -loss] (ties go to the lower loss) or [step]
        self.best_key: list[float] | None = None
        self.best_metrics: dict[str, float] = {}
        self.bad_evals = 0
        self.plateau_scale = 1.0
        self.plateau_best = math.inf
        self.plateau_bad = 0
        self.skipped = 0
        self.evaluated_at = -1  # the step of the last evaluation
        self.last_metrics: dict[str, float] = {}
        self.stop_reason = ""
        self.plain, self.plain_at = False, 0.0
        self.value_clipped = False  # the last step had a gradient element beyond clip_value
        # the steps since the last training record (in the checkpoint: a resumed run logs the same records)
        self.window = dict.fromkeys(WINDOW, 0.0)
        self.signum: int | None = None  # SIGINT or SIGTERM received: stop after the current step

    # -- optimizer and learning rate -------------------------------------------
    def _make_optimizer(self) -> torch.optim.Optimizer:
        c = self.config
        params = [p for p in self.model.parameters() if p.requires_grad]
        if c.optimizer == "sgd":
            return torch.optim.SGD(params, lr=c.lr, momentum=c.momentum, weight_decay=c.weight_decay)
        cls = torch.optim.AdamW if c.optimizer == "adamw" else torch.optim.Adam
        return cls(params, lr=c.lr, weight_decay=c.weight_decay)

    def total_steps(self) -> int:
        """Steps the run will take if no time limit or early stop ends it sooner."""
        by_epochs = self.config.epochs * self.task.num_batches()
        return min(by_epochs, self.config.max_steps) if self.config.max_steps > 0 else by_epochs

    def lr_at(self, step: int) -> float:
        """The learning rate for optimizer step ``step`` (0-based)."""
        c = self.config
        lr = c.lr
        if c.warmup_steps > 0 and step < c.warmup_steps:
            return lr * (step + 1) / c.warmup_steps
        if c.schedule == "cosine":
            span = max(1, self.total_steps() - c.warmup_steps)
            frac = (step - c.warmup_steps) / span
            if c.max_time > 0:
                frac = max(frac, self.elapsed / c.max_time)
            frac = min(1.0, frac)
            lr *= c.min_lr + (1 - c.min_lr) * 0.5 * (1 + math.cos(math.pi * frac))
        elif c.schedule == "epoch-decay":
            epoch = step // max(1, self.task.num_batches())
            lr *= c.lr_decay ** max(0, epoch - c.decay_after + 1)
        elif c.schedule == "plateau":
            lr *= self.plateau_scale
        return lr

    def _set_lr(self) -> float:
        lr = self.lr_at(self.step)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        return lr

    # -- checkpoints -------------------------------------------------------------
    def _trainer_state(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("step", "epoch", "batch", "elapsed", "best", "bad_evals",
                                               "plateau_scale", "plateau_best", "plateau_bad", "skipped",
                                               "evaluated_at", "last_metrics", "window", "best_key",
                                               "best_metrics")}

    def save(self, name: str) -> None:
        """Write ``run_dir/name`` atomically (rank 0 writes; every rank contributes its RNG and task state)."""
        per_rank = distributed.gather_objects({"rng": _rng_state(), "task": self.task.state_dict()})
        if self.run_dir is not None and self.dist.is_main:
            ckpt = {**self.meta, "format": checkpoint.FORMAT, "version": checkpoint.VERSION,
                    "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                    "scaler": self.scaler.state_dict(), "trainer": self._trainer_state(),
                    "world_size": self.dist.world_size, "per_rank": per_rank}
            checkpoint.save_atomic(ckpt, self.run_dir / name)
        distributed.barrier()

    def load(self, path: str | Path) -> None:
        """Continue from checkpoint ``path`` (written by :meth:`save`)."""
        ckpt = checkpoint.load(path, task=self.meta.get("task"))
        try:
            self.model.load_state_dict(ckpt["model"])
        except RuntimeError as e:
            lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
            # torch's first line only names the model ("Error(s) in loading state_dict for X:"); the next says what
            why = "; ".join(ln.rstrip(".") for ln in lines[1:3]) if len(lines) > 1 else (lines[0] if lines else
                                                                                        type(e).__name__)
            raise RnnkitError(f"checkpoint {path} does not fit this model: {why}") from None
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.scaler.load_state_dict(ckpt["scaler"])
        for k, v in ckpt["trainer"].items():
            setattr(self, k, v)
        per_rank = ckpt["per_rank"]
        if len(per_rank) != self.dist.world_size:
            raise RnnkitError(f"checkpoint {path} was written by {len(per_rank)} processes, this run has "
                              f"{self.dist.world_size}; resume with the same number of processes")
        mine = per_rank[self.dist.rank]
        _set_rng_state(mine["rng"])
        self.task.load_state_dict(mine["task"])
        self.window = {**dict.fromkeys(WINDOW, 0.0), **self.window}  # older checkpoints: none saved
        if self.best_key is None and self.select == "loss" and math.isfinite(self.best):
            self.best_key = [-self.best]  # a checkpoint from before best_key: its best.pt was the lowest loss
        if self.log.path is not None:
            self.log.truncate_after(self.step)

    # -- the loop ------------------------------------------------------------------
    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    def _train_step(self, batch: Any) -> tuple[float, float, int, bool]:
        """One optimizer step: ``(loss, grad_norm, n, stepped)``."""
        c = self.config
        with self._autocast():
            loss, n = self.task.train_step(self.module, batch)
        self.scaler.scale(loss).backward()
        self.scaler.unscale_(self.optimizer)
        params = [p for g in self.optimizer.param_groups for p in g["params"] if p.grad is not None]
        norm = torch.nn.utils.clip_grad_norm_(params, c.clip_norm if c.clip_norm > 0 else math.inf)
        loss_v, norm_v = float(loss.detach()), float(norm)
        bad = distributed.any_true(not (math.isfinite(loss_v) and math.isfinite(norm_v)))
        if bad and self.amp_dtype != torch.float16:
            # fp16's scaler expects overflows and skips those steps itself; elsewhere a
            # NaN/inf means the model is diverging
            self.optimizer.zero_grad(set_to_none=True)
            self.skipped += 1
            msg = (f"non-finite {'loss' if not math.isfinite(loss_v) else 'gradient norm'} at step {self.step} "
                   f"(loss {loss_v}, grad norm {norm_v})")
            if c.nonfinite == "stop" or self.skipped >= MAX_SKIPS:
                raise NonFiniteError(msg + ("; stopped (--nonfinite stop)" if c.nonfinite == "stop" else
                                            f"; {MAX_SKIPS} steps in a row: lower --lr or --clip-norm"))
            self._print(f"warning: {msg}; step skipped")
            return loss_v, norm_v, n, False
        self.skipped = 0
        if c.clip_value > 0:
            # after norm clipping: does any element still exceed the value? (logged as "clipped_value")
            self.value_clipped = bool(torch.stack([p.grad.abs().max() for p in params]).max() > c.clip_value)
            torch.nn.utils.clip_grad_value_(params, c.clip_value)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        return loss_v, norm_v, n, True

    def _print(self, msg: str) -> None:
        if self.dist.is_main:
            from tqdm import tqdm

            tqdm.write(msg, file=sys.stderr)

    def evaluate(self) -> dict[str, float]:
        """Validation metrics of the task (every rank evaluates the same data)."""
        self.model.eval()
        try:
            with torch.no_grad(), self._autocast():
                metrics = self.task.evaluate(self.model)
        finally:
            self.model.train()
        return metrics

    def _key(self, metrics: dict[str, float]) -> list[float]:
        """How good ``metrics`` are by ``select``, as a list compared element-wise (larger is better)."""
        loss = float(metrics["loss"])
        if self.select == "loss":
            return [-loss]
        if self.select == "last":
            return [float(self.step)]
        if not isinstance(metrics.get(self.select), (int, float)):
            raise RnnkitError(f"--select {self.select}: the task's validation did not report it "
                              f"(it reported {', '.join(metrics)})")
        return [float(metrics[self.select]), -loss]

    def watched(self) -> str:
        """The validation metric patience waits on: the selection metric (the loss for ``last``)."""
        return "loss" if self.select == "last" else self.select

    def _after_eval(self, metrics: dict[str, float]) -> None:
        loss = metrics["loss"]
        c = self.config
        key = self._key(metrics)
        improved = self.best_key is None or key > self.best_key  # a NaN compares false: never the best
        better = loss < self.best if self.select == "last" else improved
        self.best = min(self.best, loss) if math.isfinite(loss) else self.best
        if improved and all(math.isfinite(v) for v in key):
            self.best_key, self.best_metrics = key, dict(metrics)
        else:
            improved = False
        self.bad_evals = 0 if better else self.bad_evals + 1
        if c.schedule == "plateau":
            if loss < self.plateau_best:
                self.plateau_best, self.plateau_bad = loss, 0
            else:
                self.plateau_bad += 1
                if self.plateau_bad >= max(1, c.patience // 2):
                    self.plateau_scale *= c.lr_decay
                    self.plateau_bad = 0
                    self._print(f"validation loss did not improve: learning rate x{c.lr_decay}")
        self.evaluated_at, self.last_metrics = self.step, dict(metrics)
        done = self.epoch + self.batch / max(1, self.task.num_batches())  # epochs completed
        self.log.write({"step": self.step, "epoch": done, "split": "valid", **metrics, "time": round(self.elapsed, 2)})
        # accuracy-like scores as percentages with two decimals, whatever the task stores (metrics.display)
        derived = show_all(metrics, getattr(self.task, "fractions", ()), getattr(self.task, "percents", ()))
        self._print(f"step {self.step} | epoch {done:.2f} | valid {derived} | "
                    f"{self.elapsed:.0f}s{' | best' if improved and self.select != 'last' else ''}")
        if improved:
            self.save("best.pt")
        self.save("last.pt")
        if self.dist.is_main and self.run_dir is not None:
            records = self.log.records()
            plot_curves(records, self.run_dir / "curves.png", title=self.meta.get("title", ""),
                        loss_label=getattr(self.task, "loss_label", "loss"), metric=self.select)
            write_csv(records, self.run_dir / "metrics.csv")
        if c.patience > 0 and self.bad_evals >= c.patience:
            self.stop_reason = f"early stop: no better validation {self.watched()} in {c.patience} evaluations"
        elif c.target_loss > 0 and loss < c.target_loss:
            self.stop_reason = f"validation loss {loss:.4g} below the target {c.target_loss:g}"

    def fit(self, resume: str | Path | None = None) -> dict[str, Any]:
        """Train until the epochs, ``max_steps``, ``max_time`` or patience run out.

        Returns a summary: steps, epochs, seconds, items per second, the best and the last
        validation metrics, and why it stopped. SIGINT or SIGTERM: ``last.pt`` is saved after the
        current step and :class:`~rnnkit.errors.Interrupted` raised.
        """
        with self._signals():
            summary = self._fit(resume)
            if self.signum is not None:  # it came during the final evaluation, which saved last.pt
                raise Interrupted(self.signum, self.run_dir / "last.pt" if self.run_dir else None, self.step)
        return summary

    def _fit(self, resume: str | Path | None) -> dict[str, Any]:
        c = self.config
        if resume is not None:
            self.load(resume)
            self._print(f"resumed from {resume} at step {self.step} (epoch {self.epoch + 1}, "
                        f"batch {self.batch})")
        from tqdm import tqdm

        per_epoch = self.task.num_batches()
        total = self.total_steps()
        # a bar on a terminal; in a log file (no terminal) a plain line every PLAIN_EVERY seconds instead
        self.plain = c.progress and self.dist.is_main and not sys.stderr.isatty()
        self.plain_at = time.perf_counter()
        # with a time budget the bar counts seconds (its ETA is then the budget's), else steps
        timed = c.max_time > 0
        bar = tqdm(total=int(c.max_time) if timed else total, initial=int(self.elapsed) if timed else self.step,
                   unit="s" if timed else "step", dynamic_ncols=True, file=sys.stderr,
                   disable=not (c.progress and self.dist.is_main) or self.plain, mininterval=0.5,
                   smoothing=0.05, bar_format=None if not timed else
                   "{l_bar}{bar}| {n:.0f}/{total_fmt}s [{elapsed}<{remaining}{postfix}]")
        self.model.train()
        self._check_limits()  # a resumed run may have nothing left to do
        window = self.window
        items_total, train_time = 0, 0.0
        if c.threads <= 0:
            self._print(f"CPU threads: {self.threads} ({self.threads_why}; --threads N to choose)")
        cpu_watch = CpuWatch()
        start = time.perf_counter() - self.elapsed
        try:
            while not self.stop_reason:
                if self.epoch >= c.epochs:
                    self.stop_reason = f"{c.epochs} epochs done"
                    break
                if self.batch == 0:
                    self.task.start_epoch(self.epoch)
                for batch in self.task.batches(self.epoch, self.batch):
                    t0 = time.perf_counter()
                    lr = self._set_lr()
                    loss, norm, n, stepped = self._train_step(batch)
                    dt = time.perf_counter() - t0
                    self.step += 1
                    self.batch += 1
                    self.elapsed = time.perf_counter() - start
                    items_total += n
                    train_time += dt
                    if stepped:
                        window["loss"] += loss * n
                        window["n"] += n
                    window["items"] += n
                    window["time"] += dt
                    window["norm"] += norm
                    window["clipped"] += int(c.clip_norm > 0 and norm > c.clip_norm)
                    window["clipped_value"] += int(stepped and self.value_clipped)
                    window["steps"] += 1
                    bar.update(min(self.elapsed, c.max_time) - bar.n if timed else 1)
                    # steps 1, 1 + k, 1 + 2k, ...: fixed by the step number, not counted from wherever this
                    # process started, so a resumed run writes the same records as one never interrupted
                    if (self.step - 1) % c.log_every == 0:
                        self._log_train(window, lr, bar)
                        window.update(dict.fromkeys(window, 0.0))
                        if self.device.type == "cpu" and (starved := cpu_watch.check()):
                            self._print(starved)
                    for fn in self.on_step:
                        fn(self)
                    at_end = self.batch >= per_epoch
                    if at_end:  # the position a checkpoint records: the start of the next epoch
                        self.epoch, self.batch = self.epoch + 1, 0
                    if (c.eval_every > 0 and self.step % c.eval_every == 0) or (c.eval_every == 0 and at_end):
                        self._after_eval(self.evaluate())
                    elif c.checkpoint_every > 0 and self.step % c.checkpoint_every == 0:
                        self.save("last.pt")
                    if self.stop_reason:
                        break
                    self._stop_if_signalled()
                    self._check_limits()
                    if self.stop_reason or self.batch == 0:
                        break
            if self.evaluated_at != self.step:
                self._after_eval(self.evaluate())
        finally:
            bar.close()
        best = self.best_metrics.get(self.select, math.nan)
        scales = getattr(self.task, "fractions", ()), getattr(self.task, "percents", ())
        best_shown = show(self.select, best, *scales) if self.select in (*scales[0], *scales[1]) else f"{best:.4f}"
        chosen = "the last evaluation" if self.select == "last" else f"valid {self.select} {best_shown}"
        self._print(f"done: {self.stop_reason}; {self.step} steps in {self.elapsed:.0f}s; "
                    f"best valid loss {self.best:.4f}; best.pt: {chosen}")
        return {"steps": self.step, "epochs": self.epoch + self.batch / max(1, per_epoch),
                "seconds": self.elapsed, "best_loss": self.best, "last": self.last_metrics,
                "select": self.select, "best": self.best_metrics,
                "items_per_s": items_total * self.dist.world_size / train_time if train_time else 0.0,
                "stop_reason": self.stop_reason}

    @contextlib.contextmanager
    def _signals(self) -> Any:
        """While training, SIGINT and SIGTERM only set ``self.signum``: the loop finishes its step, saves
        ``last.pt`` and stops (:meth:`_stop_if_signalled`), so a kill never loses more than a step. A second
        signal stops at once (the last checkpoint written stays intact)."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def handler(signum: int, frame: Any) -> None:
            if self.signum is not None:
                raise Interrupted(signum)
            self.signum = signum

        self.signum = None
        old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for s, h in old.items():
                signal.signal(s, h)

    def _stop_if_signalled(self) -> None:
        """After a step: if a signal came (on any rank), save ``last.pt`` and raise :class:`Interrupted`."""
        if not distributed.any_true(self.signum is not None):
            return
        signum = self.signum or signal.SIGTERM  # another rank's
        name = signal.Signals(signum).name
        saved = self.run_dir / "last.pt" if self.run_dir is not None else None
        self._print(f"{name}: saving the run at step {self.step}" + (f" to {saved}" if saved else ""))
        self.save("last.pt")
        raise Interrupted(signum, saved, self.step)

    def _check_limits(self) -> None:
        c = self.config
        if c.max_steps > 0 and self.step >= c.max_steps:
            self.stop_reason = f"max_steps {c.max_steps} reached"
        elif c.max_time > 0 and distributed.any_true(self.elapsed >= c.max_time):
            self.stop_reason = f"time limit {c.max_time:g}s reached"
        elif c.patience > 0 and self.bad_evals >= c.patience:  # a resumed run that had stopped early
            self.stop_reason = f"early stop: no better validation {self.watched()} in {c.patience} evaluations"
        elif c.target_loss > 0 and self.last_metrics.get("loss", math.inf) < c.target_loss:
            self.stop_reason = f"validation loss {self.last_metrics['loss']:.4g} below the target {c.target_loss:g}"

    def _log_train(self, w: dict[str, Any], lr: float, bar: Any) -> None:
        loss = w["loss"] / w["n"] if w["n"] else math.nan
        rate = w["items"] * self.dist.world_size / w["time"] if w["time"] else 0.0
        derived = self.task.describe(loss) if math.isfinite(loss) else {}
        record = {"step": self.step, "epoch": self.epoch + self.batch / max(1, self.task.num_batches()),
                  "split": "train", "loss": loss, **derived, "lr": lr, "grad_norm": w["norm"] / w["steps"],
                  "clipped": w["clipped"] / w["steps"],
                  **({"clipped_value": w["clipped_value"] / w["steps"]} if self.config.clip_value > 0 else {}),
                  f"{self.task.unit}_per_s": rate,
                  "time": round(self.elapsed, 2)}
        self.log.write(record)
        post = {"loss": f"{loss:.3f}", **{k: f"{v:.3g}" for k, v in derived.items()},
                f"{self.task.unit}/s": f"{rate:,.0f}", "lr": f"{lr:.2g}"}
        bar.set_postfix(post, refresh=False)
        if self.plain and time.perf_counter() - self.plain_at >= PLAIN_EVERY:
            self.plain_at = time.perf_counter()
            c = self.config
            steps = f"{self.step}" if c.max_time > 0 else f"{self.step}/{self.total_steps()}"
            budget = f"/{c.max_time:g}s" if c.max_time > 0 else "s"
            self._print(f"step {steps} | epoch {record['epoch']:.2f} | "
                        + " | ".join(f"{k} {v}" for k, v in post.items()) + f" | {self.elapsed:.0f}{budget}")
