"""Variable lengths on the CPU: rnnkit's segment path against padding, torch.nn's packed path and the old one.

Forward + backward (``out.sum()``, through the final states too) of, interleaved in one process
on one thread (one timing of each per round; medians over the rounds):

- (a) ``rnnkit`` layer with ``lengths=``: torch's unpacked (oneDNN) kernel once per segment of
  constant batch size (``rnnkit.backends.segments``);
- (b) the same layer on the padded batch without lengths (the speed to reach);
- (c) ``torch.nn`` on the equivalent ``PackedSequence`` (packing and unpacking included);
- (d) the same rnnkit layer with the segment path switched off: torch's packed kernel, the old path.

Batch ``B`` rows of lengths uniform in ``[low*T, T]``, batch-first input.

    python benchmarks/lengths.py [--B 32 --T 100 --I 256 --H 256 --cell lstm --low 0.5 --rounds 9]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import rnnkit
from rnnkit.backends import segments

CELLS = {"lstm": ("LSTM", {}), "gru": ("GRU", {}), "rnn": ("RNN", {}), "rnn-relu": ("RNN", {"nonlinearity": "relu"}),
         "lstm-proj": ("LSTM", {"proj_size": 128})}


def _loss(out: torch.Tensor, state: object) -> torch.Tensor:
    parts = state if isinstance(state, tuple) else (state,)
    return out.sum() + sum(s.sum() for s in parts)


def case(cell: str, B: int, T: int, I: int, H: int, layers: int, bidir: bool, low: float,
         rounds: int, seed: int = 0) -> dict[str, float]:
    torch.manual_seed(seed)
    name, extra = CELLS[cell]
    kw = dict(num_layers=layers, bidirectional=bidir, batch_first=True, **extra)
    ours = getattr(rnnkit, name)(I, H, backend="native", **kw)
    ref = getattr(torch.nn, name)(I, H, **kw)
    ref.load_state_dict(ours.state_dict())
    x = torch.randn(B, T, I, requires_grad=True)
    lengths = torch.randint(max(1, int(low * T)), T + 1, (B,))
    n_segs = len(torch.unique(lengths))

    def a() -> None:
        _loss(*ours(x, lengths=lengths)).backward()
        assert ours.native_path == "segments", ours.native_path

    def b() -> None:
        _loss(*ours(x)).backward()

    def c() -> None:
        out, state = ref(pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False))
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=T)
        _loss(out, state).backward()

    def d() -> None:
        before = segments.MIN_STEPS_PER_SEGMENT
        segments.MIN_STEPS_PER_SEGMENT = float("inf")  # the segment path off: torch's packed kernel
        try:
            _loss(*ours(x, lengths=lengths)).backward()
        finally:
            segments.MIN_STEPS_PER_SEGMENT = before
        assert ours.native_path == "packed", ours.native_path

    runs: dict[str, Callable[[], None]] = {"a": a, "b": b, "c": c, "d": d}
    times: dict[str, list[float]] = {k: [] for k in runs}
    for k in runs:  # warm-up
        runs[k]()
    for _ in range(rounds):
        for k, f in runs.items():
            t0 = time.perf_counter()
            f()
            times[k].append(time.perf_counter() - t0)
            x.grad = None
            ours.zero_grad(set_to_none=True)
            ref.zero_grad(set_to_none=True)
    med = {k: statistics.median(v) * 1e3 for k, v in times.items()}
    med["segments"] = n_segs
    return med


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--B", type=int, default=32)
    ap.add_argument("--T", type=int, default=100)
    ap.add_argument("--I", type=int, default=256)
    ap.add_argument("--H", type=int, default=256)
    ap.add_argument("--layers", type=int, default=1)
    ap.add_argument("--cell", choices=sorted(CELLS), default="lstm")
    ap.add_argument("--low", type=float, default=0.5, help="lengths uniform in [low*T, T] (default 0.5)")
    ap.add_argument("--bidir", choices=["both", "no", "yes"], default="both")
    ap.add_argument("--rounds", type=int, default=9, help="interleaved rounds (default 9)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    print(f"# torch {torch.__version__}, 1 thread; {args.cell}, (B, T, I, H) = ({args.B}, {args.T}, {args.I}, "
          f"{args.H}), {args.layers} layer(s), lengths uniform in [{args.low:g}T, T], forward+backward, "
          f"medians of {args.rounds} rounds (ms)")
    print("| case | distinct lengths | (a) rnnkit lengths= | (b) rnnkit padded | (c) torch.nn packed "
          "| (d) rnnkit old packed | (a)/(b) | (a)/(c) | (a)/(d) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for bidir in {"both": (False, True), "no": (False,), "yes": (True,)}[args.bidir]:
        m = case(args.cell, args.B, args.T, args.I, args.H, args.layers, bidir, args.low, args.rounds)
        label = "bidirectional" if bidir else "unidirectional"
        print(f"| {label} | {m['segments']} | {m['a']:.1f} | {m['b']:.1f} | {m['c']:.1f} | {m['d']:.1f} "
              f"| {m['a'] / m['b']:.2f} | {m['a'] / m['c']:.2f} | {m['a'] / m['d']:.2f} |", flush=True)


if __name__ == "__main__":
    main()
