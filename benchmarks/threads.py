"""Where more torch threads start to pay for a recurrent network's training step on this machine.

For models of growing size (an LSTM layer of H units on a batch B x T), one forward + backward with
1 thread and with N threads (default: the CPU count), interleaved in this process, medians of
``--repeats``; prints the ratio t(1) / t(N) (above 1: the N threads are faster) beside the
parameter count, the number the Trainer's default rule looks at (rnnkit/training/threads.py).

    python benchmarks/threads.py
    python benchmarks/threads.py --threads 4 --repeats 15
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch

import rnnkit


def step_time(layer: torch.nn.Module, x: torch.Tensor, threads: int) -> float:
    torch.set_num_threads(threads)
    t0 = time.perf_counter()
    out, _ = layer(x)
    out.sum().backward()
    return time.perf_counter() - t0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="the N to compare with 1")
    p.add_argument("--repeats", type=int, default=9)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--steps", type=int, default=64, help="sequence length T")
    args = p.parse_args()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"torch {torch.__version__}, {os.cpu_count()} CPUs, load average {load:.1f}; B={args.batch}, "
          f"T={args.steps}, 1 vs {args.threads} threads, median of {args.repeats}")
    print("| hidden H | parameters | 1 thread ms | N threads ms | t(1) / t(N) |\n|---|---|---|---|---|")
    for H in (32, 64, 128, 192, 256, 512):
        torch.manual_seed(0)
        layer = rnnkit.LSTM(H, H, batch_first=True)
        x = torch.randn(args.batch, args.steps, H)
        params = sum(q.numel() for q in layer.parameters())
        one, many = [], []
        for _ in range(2):  # warm-up of both settings
            step_time(layer, x, 1)
            step_time(layer, x, args.threads)
        for _ in range(args.repeats):
            one.append(step_time(layer, x, 1))
            many.append(step_time(layer, x, args.threads))
        a, b = statistics.median(one), statistics.median(many)
        print(f"| {H} | {params:,} | {a * 1e3:.2f} | {b * 1e3:.2f} | {a / b:.2f} |", flush=True)


if __name__ == "__main__":
    main()
