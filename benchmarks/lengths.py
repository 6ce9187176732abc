"""Variable lengths on the CPU: rnnkit's segment path against padding, torch.nn's packed path and the old one.

    python benchmarks/lengths.py [--B 32 --T 100 --I 256 --H 256 --cell lstm --low 0.5 --rounds 9]

Same code as ``rnnkit bench --lengths`` (rnnkit/bench_lengths.py, where the contenders are described).
Results: benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import sys

from rnnkit import bench_lengths


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--B", type=int, default=32)
    ap.add_argument("--T", type=int, default=100)
    ap.add_argument("--I", type=int, default=256)
    ap.add_argument("--H", type=int, default=256)
    ap.add_argument("--layers", type=int, default=1)
    ap.add_argument("--cell", choices=sorted(bench_lengths.CELLS), default="lstm")
    ap.add_argument("--low", type=float, default=0.5, help="lengths uniform in [low*T, T] (default 0.5)")
    ap.add_argument("--bidir", choices=["both", "no", "yes"], default="both")
    ap.add_argument("--rounds", type=int, default=9, help="interleaved rounds (default 9)")
    args = ap.parse_args()
    bench_lengths.main([(args.B, args.T, args.I, args.H)], args.cell, args.rounds, args.low, args.layers,
                       {"both": (False, True), "no": (False,), "yes": (True,)}[args.bidir],
                       print_fn=lambda s: print(s, flush=True))


if __name__ == "__main__":
    sys.exit(main())
