"""Speed benchmark: rnnkit backends vs torch.nn vs a plain autograd loop.

    python benchmarks/speed.py                 # the full grid (LSTM, GRU, RNN x 4 shapes)
    python benchmarks/speed.py --quick         # one small shape, a few seconds
    python benchmarks/speed.py --cells gru --json out.json

Same code as ``rnnkit bench``. Results and the machine: benchmarks/README.md.
"""

from rnnkit.cli import main

if __name__ == "__main__":
    import sys

    raise SystemExit(main(["bench", *sys.argv[1:]]))
