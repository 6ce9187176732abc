"""Training: the generic Trainer, its config, checkpoints, metric logs and multi-process setup."""

from rnnkit.training.checkpoint import load as load_checkpoint
from rnnkit.training.checkpoint import save_atomic
from rnnkit.training.config import TrainConfig
from rnnkit.training.task import StatelessTask, Task
from rnnkit.training.trainer import NonFiniteError, Trainer

__all__ = ["NonFiniteError", "StatelessTask", "Task", "TrainConfig", "Trainer", "load_checkpoint", "save_atomic"]
