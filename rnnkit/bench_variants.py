"""Cell variants, regularisers and the compiled time loop on the CPU, against torch.nn and the autograd loop.

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
- ``peephole``: ``rnnkit.PeepholeLSTM`` (fused); ``indrnn``: ``rnnkit.IndRNN`` (fused, ReLU, the compiled
  loop); ``indrnn-python``: the same with the Python loop;
- ``*-autograd``: the same layer with ``backend="reference"`` (autograd over the cell's steps, what
  a user writing the variant as a Python loop over a cell gets).

- ``lstm-proj``, ``lstm-proj-native``: ``rnnkit.LSTM(proj_size=H/2)`` fused and on torch's kernel
  (with a projection not oneDNN's: torch's plain loop), the measurement behind ``auto``'s rule for it.

    rnnkit bench --variants [--cases "16,500,64,64;32,100,256,256"] [--repeats 7] [--no-autograd]
    python benchmarks/variants.py ...          (the same)
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import torch

import rnnkit
from rnnkit.backends import compiled
from rnnkit.bench import interleaved_medians


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
        "lstm-proj": rnnkit.LSTM(I, H, batch_first=True, proj_size=max(1, H // 2), backend="fused"),
        "lstm-proj-native": rnnkit.LSTM(I, H, batch_first=True, proj_size=max(1, H // 2), backend="native"),
        "peephole": rnnkit.PeepholeLSTM(I, H, batch_first=True),
        "indrnn": rnnkit.IndRNN(I, H, batch_first=True),
        "indrnn-python": rnnkit.IndRNN(I, H, batch_first=True),
        "lstm+rd-autograd": rnnkit.LSTM(I, H, batch_first=True, recurrent_dropout=0.25, backend="reference"),
        "lnlstm-autograd": rnnkit.LayerNormLSTM(I, H, batch_first=True, backend="reference"),
        "peephole-autograd": rnnkit.PeepholeLSTM(I, H, batch_first=True, backend="reference"),
        "indrnn-autograd": rnnkit.IndRNN(I, H, batch_first=True, backend="reference"),
    }


def case(B: int, T: int, I: int, H: int, rounds: int, skip: set[str]) -> dict[str, float]:
    layers = {k: v for k, v in contenders(I, H).items() if k not in skip}
    x = torch.randn(B, T, I, requires_grad=True)
    expect = {"torch": None, "torch-gru": None, "lstm": "fused", "lstm-python": "fused", "gru": "fused",
              "gru-python": "fused", "lstm-proj": "fused", "lstm-proj-native": "native",
              "lstm+rd": "fused", "lstm+zo": "fused", "lstm+wd": "native",
              "lnlstm": "fused", "peephole": "fused", "indrnn": "fused",
              "indrnn-python": "fused"}
    expect.update({k: "reference" for k in layers if k.endswith("-autograd")})

    def runner(name: str, layer: torch.nn.Module) -> Callable[[], None]:
        def f() -> None:
            with compiled.disabled() if name.endswith("-python") else contextlib.nullcontext():
                _loss(*layer(x)).backward()
            if expect[name] is not None:
                assert layer.backend_used == expect[name], (name, layer.backend_used)
        return f

    def reset(name: str) -> None:
        x.grad = None
        layers[name].zero_grad(set_to_none=True)

    return interleaved_medians({k: runner(k, v) for k, v in layers.items()}, rounds, reset)


def main(cases: list[tuple[int, int, int, int]] | None = None, rounds: int = 7, autograd: bool = True,
         print_fn: Callable[[str], None] = print) -> dict[tuple[int, int, int, int], dict[str, float]]:
    """Time every contender at each ``(B, T, I, H)`` on one thread; print one table per case."""
    torch.set_num_threads(1)
    if not compiled.load():
        print_fn("# the compiled time loop did not load (see the warning): lstm and lstm-python run the same loop")
    skip = set() if autograd else {k for k in contenders(2, 2) if k.endswith("-autograd")}
    print_fn(f"# torch {torch.__version__}, 1 thread, forward+backward, medians of {rounds} interleaved rounds (ms); "
             f"ratios to torch.nn.LSTM (oneDNN; GRU rows to torch.nn.GRU, lstm-proj to lstm-proj-native) and the "
             f"autograd loop's time over each variant's")
    results = {}
    for B, T, I, H in cases or [(16, 500, 64, 64), (32, 100, 256, 256)]:
        m = case(B, T, I, H, rounds, skip)
        results[(B, T, I, H)] = m
        print_fn(f"\n(B, T, I, H) = ({B}, {T}, {I}, {H})\n")
        print_fn("| layer | ms | / torch | autograd loop / this |")
        print_fn("|---|---|---|---|")
        for k, v in m.items():
            auto = f"{k}-autograd"
            speedup = f"{m[auto] / v:.1f}x" if auto in m else ""
            base = m["torch"]
            if k.startswith("gru") or k == "torch-gru":
                base = m.get("torch-gru", base)
            elif k.startswith("lstm-proj"):
                base = m.get("lstm-proj-native", base)
            print_fn(f"| {k} | {v:.1f} | {v / base:.2f} | {speedup} |")
    return results
