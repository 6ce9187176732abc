"""How many CPU threads torch uses for a training run, and a warning when the run is starved of CPU.

torch's own choice is one thread per physical core. For a recurrent network that is often wrong:
each time step is a small matrix product, and with small models the threads spend more time
synchronising than computing; on a machine whose cores are busy with other jobs, extra threads
wait for cores and every step waits for the slowest (a tiny GRU's step: 1.6-2.7 ms with one
thread, 43-84 ms with two on a loaded 2-core machine). ``benchmarks/threads.py`` measures where
more threads start to pay on a given machine; the rule below follows its numbers.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import torch
from torch import nn

SMALL_MODEL = 200_000  # parameters: below this, one thread (benchmarks/threads.py)


def free_cores(cpus: int | None = None, load: float | None = None) -> int:
    """The CPUs not busy with other work: the CPU count less the 1-minute load average, at least 1."""
    cpus = cpus if cpus is not None else (os.cpu_count() or 1)
    if load is None:
        try:
            load = os.getloadavg()[0]
        except (OSError, AttributeError):  # no load average on this platform
            load = 0.0
    return max(1, min(cpus, round(cpus - load)))


def choose_threads(model: nn.Module, requested: int, default: int | None = None, free: int | None = None
                   ) -> tuple[int, str]:
    """``(threads, why)``: ``requested`` when it is > 0; else one thread for a small model, and
    otherwise torch's default (``default``) capped at the free cores (``free``)."""
    if requested > 0:
        return requested, "as requested"
    default = default if default is not None else torch.get_num_threads()
    params = sum(p.numel() for p in model.parameters())
    if params < SMALL_MODEL:
        return 1, f"a small model ({params:,} parameters): one thread is fastest"
    free = free if free is not None else free_cores()
    if free < default:
        return free, f"{free} of {default} cores free (the others are busy)"
    return default, "torch's default"


class CpuWatch:
    """Warns once when this process gets far less CPU than a running process should: the CPU
    seconds of all its threads over the wall seconds, measured over ``every`` seconds of training.
    Below ``floor`` (half a core), other jobs are taking the machine and the run is slower than the
    machine can go."""

    def __init__(self, every: float = 20.0, floor: float = 0.5, cpu: Callable[[], float] = time.process_time,
                 wall: Callable[[], float] = time.perf_counter) -> None:
        self.every, self.floor, self.cpu, self.wall = every, floor, cpu, wall
        self.start = (cpu(), wall())
        self.warned = False

    def check(self) -> str | None:
        """The warning, the first time the share falls below the floor; else None."""
        if self.warned:
            return None
        cpu, wall = self.cpu() - self.start[0], self.wall() - self.start[1]
        if wall < self.every:
            return None
        self.start = (self.cpu(), self.wall())
        share = cpu / wall
        if share >= self.floor:
            return None
        self.warned = True
        return (f"warning: this run got {share:.2f} CPU seconds per second over the last {wall:.0f} s: the machine "
                f"is busy with other work ({_load()}), so training runs several times slower than it could")


def _load() -> str:
    try:
        return f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    except (OSError, AttributeError):
        return f"{os.cpu_count()} CPUs"
