"""The Trainer's thread count from the model's size and the free cores; the CPU-starvation warning."""

from __future__ import annotations

import torch
from torch import nn

from rnnkit.training import threads


def test_requested_threads_are_kept():
    assert threads.choose_threads(nn.Linear(2, 2), 3, default=2, free=2) == (3, "as requested")


def test_a_small_model_gets_one_thread_a_large_one_the_free_cores():
    small = nn.GRU(8, 32)  # a few thousand parameters: per-step work too small to share
    assert threads.choose_threads(small, 0, default=8, free=8)[0] == 1
    large = nn.LSTM(256, 512, num_layers=2)
    assert threads.choose_threads(large, 0, default=8, free=8) == (8, "torch's default")
    n, why = threads.choose_threads(large, 0, default=8, free=3)
    assert n == 3 and "3 of 8 cores free" in why


def test_free_cores_from_the_load_average():
    assert threads.free_cores(cpus=2, load=0.1) == 2
    assert threads.free_cores(cpus=2, load=1.6) == 1
    assert threads.free_cores(cpus=2, load=7.0) == 1  # never below one
    assert threads.free_cores(cpus=16, load=4.2) == 12


def test_cpu_watch_warns_once_when_the_process_is_starved():
    clock = {"cpu": 0.0, "wall": 0.0}
    watch = threads.CpuWatch(every=20, cpu=lambda: clock["cpu"], wall=lambda: clock["wall"])
    clock.update(cpu=9.0, wall=10.0)
    assert watch.check() is None  # not 20 s yet
    clock.update(cpu=19.0, wall=20.0)
    assert watch.check() is None  # a whole core: fine
    clock.update(cpu=22.0, wall=40.0)  # 3 CPU seconds in 20 s
    msg = watch.check()
    assert msg and msg.startswith("warning: this run got 0.15 CPU seconds per second over the last 20 s")
    clock.update(cpu=23.0, wall=80.0)
    assert watch.check() is None  # said once


def test_the_trainer_uses_one_thread_for_a_small_model(tmp_path, capsys):
    from rnnkit.training import TrainConfig, Trainer
    from tests.training.test_select import Scripted  # a task that needs no data

    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        Trainer(nn.Linear(1, 1), Scripted(), TrainConfig(max_steps=1, progress=False, device="cpu")).fit()
        assert torch.get_num_threads() == 1
        assert "CPU threads: 1 (a small model" in capsys.readouterr().err
    finally:
        torch.set_num_threads(before)
