"""Variable lengths on the CPU: rnnkit's segment path against padding, torch.nn's packed path and the old one.

Forward + backward (``out.sum()``, through the final states too) of, interleaved in one process
on one thread (one timing of each per round; medians over the rounds):

- (a) ``rnnkit`` layer with ``lengths=``: torch's unpacked (oneDNN) kernel once per segment of
  constant batch size (``rnnkit.backends.segments``);
- (b) the same layer on the padded batch without lengths (the speed to reach);
- (c) ``torch.nn`` on the equivalent ``PackedSequence`` (packing and unpacking included);
- (d) the same rnnkit layer with the segment path switched off: torch's packed kernel, the old path.

Batch ``B`` rows of lengths uniform in ``[low*T, T]``, batch-first input.

    rnnkit bench --lengths [--cells lstm] [--cases "32,100,256,256"] [--repeats 9]
    python benchmarks/lengths.py [--B 32 --T 100 --I 256 --H 256 --cell lstm --low 0.5 --rounds 9]
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import rnnkit
from rnnkit.backends import segments
from rnnkit.bench import interleaved_medians

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

    def reset(name: str) -> None:
        x.grad = None
        ours.zero_grad(set_to_none=True)
        ref.zero_grad(set_to_none=True)

    med = interleaved_medians({"a": a, "b": b, "c": c, "d": d}, rounds, reset)
    med["segments"] = n_segs
    return med


def main(cases: list[tuple[int, int, int, int]] | None = None, cell: str = "lstm", rounds: int = 9, low: float = 0.5,
         layers: int = 1, directions: tuple[bool, ...] = (False, True),
         print_fn: Callable[[str], None] = print) -> list[dict[str, float]]:
    """Time the four contenders at each ``(B, T, I, H)`` on one thread, both directions; print a table."""
    if cell not in CELLS:
        raise ValueError(f"unknown cell {cell!r}: expected one of {', '.join(sorted(CELLS))}")
    torch.set_num_threads(1)
    out = []
    for B, T, I, H in cases or [(32, 100, 256, 256)]:
        print_fn(f"# torch {torch.__version__}, 1 thread; {cell}, (B, T, I, H) = ({B}, {T}, {I}, {H}), {layers} "
                 f"layer(s), lengths uniform in [{low:g}T, T], forward+backward, medians of {rounds} rounds (ms)")
        print_fn("| case | distinct lengths | (a) rnnkit lengths= | (b) rnnkit padded | (c) torch.nn packed "
                 "| (d) rnnkit old packed | (a)/(b) | (a)/(c) | (a)/(d) |")
        print_fn("|---|---|---|---|---|---|---|---|---|")
        for bidir in directions:
            m = case(cell, B, T, I, H, layers, bidir, low, rounds)
            label = "bidirectional" if bidir else "unidirectional"
            print_fn(f"| {label} | {m['segments']} | {m['a']:.1f} | {m['b']:.1f} | {m['c']:.1f} | {m['d']:.1f} "
                     f"| {m['a'] / m['b']:.2f} | {m['a'] / m['c']:.2f} | {m['a'] / m['d']:.2f} |")
            out.append({"B": B, "T": T, "I": I, "H": H, "bidirectional": bidir, **m})
    return out
