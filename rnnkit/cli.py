"""The ``rnnkit`` command."""

from __future__ import annotations

import argparse
import sys

import torch


def _cases(text: str) -> list[tuple[int, int, int, int]]:
    try:
        cases = [tuple(int(v) for v in c.split(",")) for c in text.split(";") if c.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected cases as 'B,T,I,H;B,T,I,H', got {text!r}") from None
    if not cases or any(len(c) != 4 or min(c) < 1 for c in cases):
        raise argparse.ArgumentTypeError(f"expected cases as 'B,T,I,H;B,T,I,H' with positive sizes, got {text!r}")
    return cases  # type: ignore[return-value]


def build_parser() -> argparse.ArgumentParser:
    from rnnkit import __version__
    from rnnkit.bench import CELLS, CONTENDERS

    p = argparse.ArgumentParser(prog="rnnkit", description="Recurrent neural networks on PyTorch.")
    p.add_argument("--version", action="version", version=f"rnnkit {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    b = sub.add_parser("bench", help="speed of rnnkit's backends vs torch.nn on this machine",
                       description="Time rnnkit's backends against torch.nn and a plain autograd loop, "
                                   "interleaved in one process; print medians, ratios and GFLOP/s.")
    b.add_argument("--quick", action="store_true", help="one small shape, 3 repeats (seconds)")
    b.add_argument("--cells", default=",".join(CELLS), help="comma list of lstm,gru,rnn (default: all)")
    b.add_argument("--cases", type=_cases, default=None, help="'B,T,I,H;...' (default: the standard grid)")
    b.add_argument("--contenders", default=",".join(CONTENDERS),
                   help=f"comma list from {','.join(CONTENDERS)}")
    b.add_argument("--repeats", type=int, default=None, help="timed rounds per case (default 7, quick 3)")
    b.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    b.add_argument("--json", default=None, help="also write the results to this JSON file")
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    if args.command == "bench":
        from rnnkit import bench

        cells = tuple(c.strip() for c in args.cells.split(",") if c.strip())
        bad = [c for c in cells if c not in bench.CELLS]
        names = tuple(c.strip() for c in args.contenders.split(",") if c.strip())
        bad += [n for n in names if n not in bench.CONTENDERS]
        if bad:
            parser.error(f"unknown cell or contender: {', '.join(bad)}")
        if "torch.nn" not in names:
            names = ("torch.nn", *names)  # ratios are to torch.nn
        if args.threads:
            torch.set_num_threads(args.threads)
        bench.main(quick=args.quick, cells=cells, cases=args.cases, repeats=args.repeats,
                   json_path=args.json, names=names)
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
