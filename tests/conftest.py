"""Shared test helpers: torch.nn references and the parity metric."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

# at most 2 threads, and no more than the CPUs this process may use (taskset, containers)
_cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
torch.set_num_threads(min(2, _cpus))

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    """max |a - b| / (1 + |b|), with ``b`` the torch.nn value."""
    a, b = a.detach(), b.detach()
    return float(((a - b).abs() / (1 + b.abs())).max()) if a.numel() else 0.0


def weighted_sum(tensors) -> torch.Tensor:
    """``Σ_k Σ (t_k ⊙ w_k)`` with ``w_k`` spread over [-1, 1]: a loss whose gradient weights every element
    differently, so a transposed, swapped or summed-over gradient can't pass for the right one."""
    return sum((t * torch.linspace(-1, 1, t.numel(), dtype=t.dtype).view_as(t)).sum() for t in tensors)


@pytest.fixture
def one_thread():
    """One torch thread for a test, the previous setting restored after it.

    For tiny models: two threads spend more time synchronising than computing, many times
    more on a busy machine. A module opts in with ``pytestmark = pytest.mark.usefixtures("one_thread")``.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def data_dir() -> Path:
    if not DATA.is_dir():
        pytest.skip(f"shared data not found at {DATA}")
    return DATA


def one_line_error(capsys, argv: list[str]) -> str:
    """Run ``rnnkit argv`` and return its error: exit status 2 and exactly one ``rnnkit: error:`` line."""
    from rnnkit.cli import main

    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("rnnkit: error: ") and err.count("\n") == 1, err
    return err


def fsdd_recordings(dest: Path, wanted: set[str]) -> Path:
    """The FSDD recordings named in ``wanted`` (``recordings/{digit}_{speaker}_{index}.wav``) copied from the
    shared archive into ``dest``; skips the test without the shared data."""
    import tarfile

    if not DATA.is_dir():
        pytest.skip(f"shared data not found at {DATA}")
    wanted = set(wanted)
    with tarfile.open(DATA / "fsdd" / "recordings.tar.xz", "r:xz") as tar:
        for member in tar:
            if member.name in wanted:
                (dest / Path(member.name).name).write_bytes(tar.extractfile(member).read())
                wanted.discard(member.name)
                if not wanted:
                    break
    return dest


def pytest_sessionstart(session: pytest.Session) -> None:
    """Build the compiled time loop (about 30 s, once per machine) before the first test, so that no test's
    output catches its one-off announcement; where it can't build, the fallback's warning shows here."""
    from rnnkit.backends import compiled

    compiled.load()
