"""Speed of rnnkit's backends against torch.nn and a plain autograd loop.

All contenders run interleaved in one process (round-robin, one timing each per
round) so that machine noise hits them alike; we report medians, the ratio of each
time to torch.nn's (``> 1`` means slower than torch.nn), and achieved GFLOP/s
counting ``2·T·B·G·H·(I+H)`` multiply-adds per forward and three times that for
forward+backward.
"""

from __future__ import annotations

import json
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import torch
from torch import nn

import rnnkit

CASES = [(1, 200, 128, 128), (16, 500, 64, 64), (32, 100, 256, 256), (64, 200, 512, 512)]
QUICK_CASES = [(16, 100, 64, 64)]
CELLS = ("lstm", "gru", "rnn")
GATES = {"lstm": 4, "gru": 3, "rnn": 1}
TORCH_LAYERS = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}
TORCH_CELLS = {"lstm": nn.LSTMCell, "gru": nn.GRUCell, "rnn": nn.RNNCell}
OURS = {"lstm": rnnkit.LSTM, "gru": rnnkit.GRU, "rnn": rnnkit.RNN}
CONTENDERS = ("torch.nn", "auto", "fused", "native", "reference", "autograd-loop")


@dataclass
class Result:
    cell: str
    B: int
    T: int
    I: int
    H: int
    mode: str                      # "fwd" or "fwd+bwd"
    median_ms: dict[str, float] = field(default_factory=dict)
    auto_backend: str = ""

    def flops(self) -> float:
        f = 2 * self.T * self.B * GATES[self.cell] * self.H * (self.I + self.H)
        return f * (3 if self.mode == "fwd+bwd" else 1)


class LoopModel(nn.Module):
    """What users write today for a custom cell: a Python loop over ``nn.*Cell``."""

    def __init__(self, cell: str, I: int, H: int):
        super().__init__()
        self.kind = cell
        self.cell = TORCH_CELLS[cell](I, H)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, H = x.shape[1], self.cell.hidden_size
        h = x.new_zeros(B, H)
        state = (h, x.new_zeros(B, H)) if self.kind == "lstm" else h
        outs = []
        for x_t in x.unbind(0):
            state = self.cell(x_t, state)
            outs.append(state[0] if self.kind == "lstm" else state)
        return torch.stack(outs)


def _contenders(cell: str, I: int, H: int, names: tuple[str, ...]) -> dict[str, nn.Module]:
    models: dict[str, nn.Module] = {}
    ref = TORCH_LAYERS[cell](I, H)
    for name in names:
        if name == "torch.nn":
            models[name] = ref
        elif name == "autograd-loop":
            models[name] = LoopModel(cell, I, H)
        else:
            m = OURS[cell](I, H, backend=name)
            m.load_state_dict(ref.state_dict())
            models[name] = m
    return models


def _timer(model: nn.Module, x: torch.Tensor, backward: bool) -> Callable[[], float]:
    def once() -> float:
        t0 = time.perf_counter()
        if backward:
            out = model(x)
            out = out[0] if isinstance(out, tuple) else out
            out.sum().backward()
        else:
            with torch.no_grad():
                model(x)
        return time.perf_counter() - t0
    return once


def run_case(cell: str, B: int, T: int, I: int, H: int, repeats: int = 7,
             names: tuple[str, ...] = CONTENDERS, modes: tuple[str, ...] = ("fwd", "fwd+bwd"),
             min_seconds: float = 0.0) -> list[Result]:
    """Time every contender on one shape, interleaved; one :class:`Result` per mode."""
    torch.manual_seed(0)
    models = _contenders(cell, I, H, names)
    x = torch.randn(T, B, I, requires_grad=True)
    results = []
    for mode in modes:
        timers = {n: _timer(m, x, mode == "fwd+bwd") for n, m in models.items()}
        for t in timers.values():       # warm-up: allocator, oneDNN primitive caches
            t()
        samples: dict[str, list[float]] = {n: [] for n in timers}
        start = time.perf_counter()
        r = 0
        while r < repeats or time.perf_counter() - start < min_seconds:
            for n, t in timers.items():
                samples[n].append(t())
            r += 1
        res = Result(cell, B, T, I, H, mode, {n: statistics.median(s) * 1e3 for n, s in samples.items()})
        if "auto" in models:
            models["auto"](x) if mode == "fwd+bwd" else None
            with torch.set_grad_enabled(mode == "fwd+bwd"):
                models["auto"](x)
            res.auto_backend = models["auto"].backend_used or ""
        results.append(res)
    return results


def interleaved_medians(runs: dict[str, Callable[[], None]], rounds: int,
                        reset: Callable[[str], None] = lambda name: None) -> dict[str, float]:
    """Median milliseconds of each of ``runs`` over ``rounds`` rounds, one timing of each per round in turn
    (machine noise hits them alike), after one warm-up call of each; ``reset(name)`` runs after each timed
    call, untimed (clearing gradients)."""
    times: dict[str, list[float]] = {k: [] for k in runs}
    for f in runs.values():  # warm-up
        f()
    for _ in range(rounds):
        for k, f in runs.items():
            t0 = time.perf_counter()
            f()
            times[k].append(time.perf_counter() - t0)
            reset(k)
    return {k: statistics.median(v) * 1e3 for k, v in times.items()}


def machine() -> dict[str, str]:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"cpu": cpu, "threads": str(torch.get_num_threads()), "torch": torch.__version__,
            "python": platform.python_version()}


def format_table(results: list[Result]) -> str:
    """Markdown table: median ms per contender, ratio to torch.nn, GFLOP/s."""
    names = [n for n in CONTENDERS if results and n in results[0].median_ms]
    head = ["cell", "B,T,I,H", "mode"] + [f"{n} ms" for n in names] + \
        [f"{n}/torch" for n in names if n != "torch.nn"] + ["fused GF/s", "auto ran"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in results:
        base = r.median_ms.get("torch.nn")
        row = [r.cell, f"{r.B},{r.T},{r.I},{r.H}", r.mode]
        row += [f"{r.median_ms[n]:.1f}" for n in names]
        row += [f"{r.median_ms[n] / base:.2f}" if base else "-" for n in names if n != "torch.nn"]
        fused = r.median_ms.get("fused")
        row += [f"{r.flops() / (fused * 1e-3) / 1e9:.1f}" if fused else "-", r.auto_backend]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def main(quick: bool = False, cells: tuple[str, ...] = CELLS, cases: list | None = None,
         repeats: int | None = None, json_path: str | None = None,
         names: tuple[str, ...] = CONTENDERS, print_fn: Callable[[str], None] = print) -> list[Result]:
    """Run the benchmark grid and print a table (and write JSON if asked)."""
    cases = cases or (QUICK_CASES if quick else CASES)
    repeats = repeats or (3 if quick else 7)
    info = machine()
    print_fn(f"# rnnkit bench: {info['cpu']}, {info['threads']} threads, torch {info['torch']}")
    print_fn("# medians in ms; X/torch = time ratio to torch.nn (< 1: faster than torch.nn)")
    results: list[Result] = []
    for cell in cells:
        for (B, T, I, H) in cases:
            case_names = names
            if not quick and B * T * H * H > 64 * 200 * 512 * 256 and "reference" in names:
                case_names = tuple(n for n in names if n != "reference")  # same loop as autograd-loop
            res = run_case(cell, B, T, I, H, repeats, case_names)
            for r in res:
                r.median_ms = {n: r.median_ms.get(n, float("nan")) for n in names}
            results += res
            print_fn(format_table(res).split("\n", 2)[-1] if len(results) > 2 else format_table(res))
    if json_path:
        from rnnkit.outputs import write_atomic

        write_atomic(json_path, json.dumps({"machine": info, "results": [asdict(r) for r in results]}, indent=1))
    return results
