"""TrainConfig: how the Trainer optimises, schedules, evaluates, checkpoints and logs."""

from __future__ import annotations

import dataclasses

from rnnkit.config import field


@dataclasses.dataclass
class TrainConfig:
    """Everything the generic training loop needs; saved in every checkpoint."""

    optimizer: str = field("adamw", "optimizer", choices=("adamw", "adam", "sgd"))
    lr: float = field(2e-3, "peak learning rate")
    weight_decay: float = field(0.0, "weight decay (decoupled for adamw)")
    momentum: float = field(0.0, "momentum (sgd only)")
    schedule: str = field("cosine", "learning-rate schedule: cosine to min_lr, constant, reduce on plateau of the "
                          "validation loss (x lr_decay after max(1, patience // 2) evaluations without "
                          "improvement), or epoch-decay (x lr_decay every epoch after decay_after)",
                          choices=("cosine", "constant", "plateau", "epoch-decay"))
    warmup_steps: int = field(0, "linear warm-up steps before the schedule")
    min_lr: float = field(0.1, "cosine: final learning rate as a fraction of lr")
    lr_decay: float = field(0.5, "plateau and epoch-decay: factor applied to the learning rate")
    decay_after: int = field(4, "epoch-decay: epochs at the full learning rate")
    epochs: int = field(10, "passes over the training data")
    max_steps: int = field(0, "stop after this many optimizer steps (0: no limit)")
    max_time: float = field(0.0, "stop after this many seconds of training, evaluation included (0: no limit); "
                            "the cosine schedule then also follows the elapsed fraction of this time. Counted "
                            "across resumes: a resumed run trains for what is left")
    clip_norm: float = field(5.0, "clip gradients to this global L2 norm (0: off); the norm is logged either way")
    clip_value: float = field(0.0, "clip each gradient element to [-v, v] (0: off)")
    eval_every: int = field(0, "evaluate every N steps (0: at the end of each epoch)")
    select: str = field("auto", "the validation metric that picks best.pt: loss (lower is better), a score the "
                        "task reports (acc, f1, macro_f1, ...: higher is better, ties go to the lower loss), or last "
                        "(the latest evaluation); auto: the task's own (classify: acc, tag: f1 or acc, others: loss; "
                        "translate also has bleu and chrf, by greedy decoding of the validation pairs)")
    patience: int = field(0, "stop after this many evaluations without a better --select metric (0: never)")
    target_loss: float = field(0.0, "stop once the validation loss is below this (0: never), e.g. a task solved")
    precision: str = field("auto", "arithmetic: fp32, or mixed bf16/fp16 (auto: fp16 or bf16 on CUDA, fp32 on CPU)",
                           choices=("auto", "fp32", "bf16", "fp16"))
    seed: int = field(0, "seed for torch and Python's random (every rank adds its rank)")
    device: str = field("auto", "cpu, cuda, cuda:N, or auto (cuda if available)")
    threads: int = field(0, "CPU threads for torch (0: one for a model under 200k parameters, else torch's "
                         "choice capped at the cores not busy with other work)")
    log_every: int = field(50, "write a training record to metrics.jsonl every N steps")
    checkpoint_every: int = field(0, "also checkpoint every N steps (0: at evaluations only)")
    nonfinite: str = field("skip", "on a NaN/inf loss or gradient: skip the step (stop after 10 in a row) or stop",
                           choices=("skip", "stop"))
    progress: bool = field(True, "show a progress bar")

    def validate(self) -> None:
        """Raise ``RnnkitError`` (naming the flag) for values no run can use."""
        from rnnkit.errors import RnnkitError

        def flag(name: str) -> str:
            return "--" + name.replace("_", "-")

        at_least = {"epochs": 1, "log_every": 1, "max_steps": 0, "warmup_steps": 0, "decay_after": 0,
                    "eval_every": 0, "patience": 0, "threads": 0, "checkpoint_every": 0}
        for name, low in at_least.items():
            if getattr(self, name) < low:
                raise RnnkitError(f"{flag(name)} must be >= {low}, got {getattr(self, name)}")
        for name in ("lr", "weight_decay", "momentum", "max_time", "clip_norm", "clip_value", "target_loss"):
            value = getattr(self, name)
            if not (value >= 0 and value < float("inf")):
                raise RnnkitError(f"{flag(name)} must be a finite number >= 0, got {value}")
        if not 0 <= self.min_lr <= 1:
            raise RnnkitError(f"--min-lr is a fraction of --lr and must be in [0, 1], got {self.min_lr}")
        if not 0 < self.lr_decay <= 1:
            raise RnnkitError(f"--lr-decay must be in (0, 1], got {self.lr_decay}")
