"""The fixed cost of one layer call: rnnkit's layers vs torch.nn's on a tiny input, no gradients.

On a ``(2, 1, 8)`` input the kernel's work is negligible, so the time is the Python around it:
rnnkit's checks, backend choice and weight lookup against torch.nn's own forward. Contenders are
interleaved in one process (one timing of each per round); the medians over the rounds are printed.

    python benchmarks/call_overhead.py [--rounds 15] [--calls 200]

To compare two versions of rnnkit, run the script once with each on the path (e.g.
``PYTHONPATH=/path/to/other/checkout python benchmarks/call_overhead.py``): the difference of
``rnnkit - torch.nn`` between the two runs is the change in per-call cost.
"""

from __future__ import annotations

import argparse
import statistics
import timeit

import torch
from torch import nn

import rnnkit


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=15, help="interleaved rounds (default 15)")
    ap.add_argument("--calls", type=int, default=200, help="calls per timing (default 200)")
    args = ap.parse_args()
    if args.rounds < 1 or args.calls < 1:
        ap.error("--rounds and --calls must be >= 1")
    torch.set_num_threads(1)
    x = torch.randn(2, 1, 8)
    print(f"# rnnkit from {rnnkit.__file__}; torch {torch.__version__}, 1 thread; input (2, 1, 8), no_grad")
    print("| layer | torch.nn µs | rnnkit µs | rnnkit - torch.nn µs |")
    print("|---|---|---|---|")
    for name in ("GRU", "LSTM", "RNN"):
        layers = {"torch.nn": getattr(nn, name)(8, 8), "rnnkit": getattr(rnnkit, name)(8, 8)}
        times: dict[str, list[float]] = {k: [] for k in layers}
        with torch.no_grad():
            for _ in range(args.rounds):
                for k, m in layers.items():
                    best = min(timeit.repeat(lambda m=m: m(x), number=args.calls, repeat=3))
                    times[k].append(best / args.calls * 1e6)
        t, r = statistics.median(times["torch.nn"]), statistics.median(times["rnnkit"])
        print(f"| {name} | {t:.1f} | {r:.1f} | {r - t:.1f} |")


if __name__ == "__main__":
    main()
