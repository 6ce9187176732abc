"""A recorder of the per-step states the reference backend produces.

While :func:`recording` is active, :func:`rnnkit.backends.reference.run` hands the
recorder every state it computes, so that an analysis (``rnnkit.diagnostics``) can
take gradients with respect to them afterwards. Nothing is recorded, and nothing
costs anything beyond one ``None`` check per ``run`` call, when no recorder is active.

A *pass* is one layer in one direction over the whole sequence. A layer runs its
passes in the order (layer 0, dir 0), (layer 0, dir 1), (layer 1, dir 0), ... The
backend does not know which layer or direction it runs; whoever records can say so
with :meth:`Recorder.begin_module` (e.g. from a forward pre-hook on the layer), and
the recorder then numbers the passes that follow.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from torch import Tensor

_local = threading.local()


@dataclass
class Pass:
    """The states of one (layer, direction) pass, in step order.

    Attributes:
        states: one entry per step ``i``: the cell's state after step ``i`` (a tensor
            ``(B, H)``, or the full structure, e.g. ``LSTMState(h, c)``, whose element 0 is ``h``).
        lengths: ``(B,)`` valid steps per sequence, or ``None`` (every sequence runs ``T`` steps).
        module: label of the layer module that ran the pass ("" when unknown).
        layer, direction: position of the pass in its layer (direction 1 = reverse: step
            ``i`` is time ``T-1-i``, or ``L_b-1-i`` for a sequence of length ``L_b``).
        call: how many times ``module`` had been called before within this recording.
    """

    lengths: Tensor | None
    module: str = ""
    layer: int = 0
    direction: int = 0
    call: int = 0
    states: list[Any] = field(default_factory=list)


class Recorder:
    """Collects :class:`Pass` records; see the module docstring."""

    def __init__(self) -> None:
        self.passes: list[Pass] = []
        self._module = ""
        self._directions = 1
        self._index = 0          # passes begun since the last begin_module
        self._calls: dict[str, int] = {}

    def begin_module(self, name: str, num_directions: int) -> None:
        """A layer module named ``name`` with ``num_directions`` directions starts its passes."""
        self._module, self._directions, self._index = name, num_directions, 0
        self._calls[name] = self._calls.get(name, -1) + 1

    def begin_pass(self, lengths: Tensor | None = None) -> None:
        """Start the next (layer, direction) pass of the current module."""
        layer, direction = divmod(self._index, self._directions)
        self._index += 1
        self.passes.append(Pass(lengths, self._module, layer, direction, self._calls.get(self._module, 0)))

    def add(self, state: Any) -> None:
        """Store the state after one step of the current pass (the full structure, not a copy)."""
        self.passes[-1].states.append(state)


def active() -> Recorder | None:
    """The innermost active recorder of this thread, or ``None``."""
    stack = getattr(_local, "stack", None)
    return stack[-1] if stack else None


@contextmanager
def recording() -> Iterator[Recorder]:
    """Record the reference backend's states while the block runs (per thread, nestable)."""
    stack = getattr(_local, "stack", None)
    if stack is None:
        stack = _local.stack = []
    rec = Recorder()
    stack.append(rec)
    try:
        yield rec
    finally:
        stack.remove(rec)
