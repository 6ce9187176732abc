"""Cell variants and regularisers on the CPU: rnnkit's fused loops against torch.nn.LSTM and the autograd loop.

Forward + backward (``out.sum()`` plus the final states) of, interleaved in one process on one
thread (one timing of each per round; medians over the rounds):

- ``torch``: ``torch.nn.LSTM`` (oneDNN), the speed to reach;
- ``lstm``: ``rnnkit.LSTM(backend="fused")``, our written-out loop for the plain LSTM, its time loop
  compiled (:mod:`rnnkit.backends.compiled`); ``lstm-python``: the same with the Python loop;
- ``torch-gru``, ``gru``, ``gru-python``: the same three for the GRU;
- ``lstm+rd``: ``rnnkit.LSTM(recurrent_dropout=0.25)`` in training mode (auto: the fused loop);
- ``lstm+zo``: ``rnnkit.LSTM(zoneout=0.1)``;
- ``lstm+wd``: ``rnnkit.LSTM(weight_drop=0.5)`` (DropConnect: torch's kernel still runs);
- ``lnlstm``: ``rnnkit.LayerNormLSTM`` (fused);
- ``peephole``: ``rnnkit.PeepholeLSTM`` (fused); ``indrnn``: ``rnnkit.IndRNN`` (fused, ReLU);
- ``*-autograd``: the same layer with ``backend="reference"`` (autograd over the cell's steps, what
  a user writing the variant as a Python loop over a cell gets).

    python benchmarks/variants.py [--shapes 16,500,64,64 32,100,256,256] [--rounds 7]
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time
from collections.abc import Callable

import torch

import rnnkit
from rnnkit.backends import compiled


def _loss(out: torch.Tensor, state: object) -> torch.Tensor:
    parts = state if isinstance(state, tuple) else (state,)
    return out.sum() + sum(s.sum() for s in parts)


def contenders(I: int, H: int) -> dict[str, torch.nn.Module]:
    torch.manual_seed(0)
    return {
        "torch": torch.nn.LSTM(I, H, batch_first=True),
        "lstm": rnnkit.LSTM(I, H, batch_first=True, backend="fused"),
        "lstm-python": rnnkit.LSTM(I, H, batch_first=True, backend="fused"),
        "torch-gru": torch.nn.GRU(I, H, batch_first=True),
        "gru": rnnkit.GRU(I, H, batch_first=True, backend="fused"),
        "gru-python": rnnkit.GRU(I, H, batch_first=True, backend="fused"),
        "lstm+rd": rnnkit.LSTM(I, H, batch_first=True, recurrent_dropout=0.25),
        "lstm+zo": rnnkit.LSTM(I, H, batch_first=True, zoneout=0.1),
        "lstm+wd": rnnkit.LSTM(I, H, batch_first=True, weight_drop=0.5),
        "lnlstm": rnnkit.LayerNormLSTM(I, H, batch_first=True),
        "peephole": rnnkit.PeepholeLSTM(I, H, batch_first=True),
        "indrnn": rnnkit.IndRNN(I, H, batch_first=True),
        "lstm+rd-autograd": rnnkit.LSTM(I, H, batch_first=True, recurrent_dropout=0.25, backend="reference"),
        "lnlstm-autograd": rnnkit.LayerNormLSTM(I, H, batch_first=True, backend="reference"),
        "peephole-autograd": rnnkit.PeepholeLSTM(I, H, batch_first=True, backend="reference"),
        "indrnn-autograd": rnnkit.IndRNN(I, H, batch_first=True, backend="reference"),
    }


def case(B: int, T: int, I: int, H: int, rounds: int, skip: set[str]) -> dict[str, float]:
    layers = {k: v for k, v in contenders(I, H).items() if k not in skip}
    x = torch.randn(B, T, I, requires_grad=True)
    expect = {"torch": None, "torch-gru": None, "lstm": "fused", "lstm-python": "fused", "gru": "fused",
              "gru-python": "fused", "lstm+rd": "fused", "lstm+zo": "fused", "lstm+wd": "native",
              "lnlstm": "fused", "peephole": "fused", "indrnn": "fused"}
    expect.update({k: "reference" for k in layers if k.endswith("-autograd")})

    def runner(name: str, layer: torch.nn.Module) -> Callable[[], None]:
        def f() -> None:
            with compiled.disabled() if name.endswith("-python") else contextlib.nullcontext():
                _loss(*layer(x)).backward()
            if expect[name] is not None:
                assert layer.backend_used == expect[name], (name, layer.backend_used)
        return f

    runs = {k: runner(k, v) for k, v in layers.items()}
    times: dict[str, list[float]] = {k: [] for k in runs}
    for f in runs.values():  # warm-up
        f()
    for _ in range(rounds):
        for k, f in runs.items():
            t0 = time.perf_counter()
            f()
            times[k].append(time.perf_counter() - t0)
            x.grad = None
            layers[k].zero_grad(set_to_none=True)
    return {k: statistics.median(v) * 1e3 for k, v in times.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shapes", nargs="+", default=["16,500,64,64", "32,100,256,256"], help="B,T,I,H ...")
    ap.add_argument("--rounds", type=int, default=7, help="interleaved rounds (default 7)")
    ap.add_argument("--no-autograd", action="store_true", help="leave out the slow autograd loops")
    args = ap.parse_args()
    torch.set_num_threads(1)
    if not compiled.load():
        raise SystemExit("the compiled time loop did not load (see the warning above); rnnkit build-loops")
    skip = {k for k in contenders(1, 1) if k.endswith("-autograd")} if args.no_autograd else set()
    print(f"# torch {torch.__version__}, 1 thread, forward+backward, medians of {args.rounds} interleaved rounds (ms); "
          f"ratios to torch.nn.LSTM (oneDNN) and to the autograd loop over the same cell")
    for shape in args.shapes:
        B, T, I, H = (int(v) for v in shape.split(","))
        m = case(B, T, I, H, args.rounds, skip)
        print(f"\n(B, T, I, H) = ({B}, {T}, {I}, {H})\n")
        print("| layer | ms | / torch.nn.LSTM (GRU rows: / torch.nn.GRU) | autograd loop / this |")
        print("|---|---|---|---|")
        for k, v in m.items():
            auto = f"{k}-autograd"
            speedup = f"{m[auto] / v:.1f}x" if auto in m else ""
            base = m["torch-gru"] if k.startswith("gru") and "torch-gru" in m else m["torch"]
            print(f"| {k} | {v:.1f} | {v / base:.2f} | {speedup} |", flush=True)


if __name__ == "__main__":
    main()
