"""The contract between the Trainer and a task. The Trainer knows nothing else about the task."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

from torch import Tensor, nn


class Task(Protocol):
    """What a task gives the Trainer.

    - ``unit``: what ``train_step`` counts (``"tok"``, ``"seq"``), for throughput.
    - ``num_batches()``: training batches per epoch on this process.
    - ``start_epoch(epoch)``: called before the first batch of each epoch (not on a mid-epoch resume).
    - ``batches(epoch, start)``: that epoch's batches from index ``start`` on.
    - ``train_step(model, batch) -> (loss, n)``: the mean loss over the ``n`` items of the batch, with
      the graph for ``backward``. ``model`` may be wrapped (DDP): call it, don't reach into it.
    - ``evaluate(model) -> metrics``: on the validation data, with ``"loss"`` (lower is better).
    - ``describe(loss) -> metrics``: quantities derived from a loss (perplexity, bits per character).
    - ``state_dict()`` / ``load_state_dict()``: state carried between batches (e.g. the hidden state
      of truncated BPTT), so a resumed run continues exactly where it stopped. Tensors, lists,
      tuples, dicts and numbers only.

    Optional (read with ``getattr``, so a task without them selects by the loss):

    - ``scores``: the names of ``evaluate``'s metrics where higher is better (``("acc", "macro_f1")``),
      which ``--select`` may name to pick ``best.pt`` by.
    - ``default_select``: what ``--select auto`` means for this task (``"loss"`` when absent).
    - ``loss_label``: the loss axis of ``curves.png`` with its unit (``"loss (nats per token)"``;
      ``"loss"`` when absent).
    """

    unit: str

    def num_batches(self) -> int: ...

    def start_epoch(self, epoch: int) -> None: ...

    def batches(self, epoch: int, start: int) -> Iterator[Any]: ...

    def train_step(self, model: nn.Module, batch: Any) -> tuple[Tensor, int]: ...

    def evaluate(self, model: nn.Module) -> dict[str, float]: ...

    def describe(self, loss: float) -> dict[str, float]: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


def resolve_select(select: str, task: Any) -> str:
    """The metric ``best.pt`` is picked by: ``select`` itself, or the task's default for ``auto``;
    a one-line error for a name the task's validation does not report."""
    from rnnkit.errors import RnnkitError

    scores = tuple(getattr(task, "scores", ()))
    name = getattr(task, "default_select", "loss") if select == "auto" else select
    if name not in ("loss", "last", *scores):
        raise RnnkitError(f"--select {select}: this task's validation reports "
                          f"{', '.join(('loss', *scores))} (or use last: the latest evaluation)")
    return name


class StatelessTask:
    """A base for tasks with nothing carried between batches and no quantities derived from a loss:
    the no-op ``start_epoch``, ``describe``, ``state_dict`` and ``load_state_dict`` of the contract."""

    unit = "seq"

    def start_epoch(self, epoch: int) -> None:
        pass

    def describe(self, loss: float) -> dict[str, float]:
        return {}

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass
