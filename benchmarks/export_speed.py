"""Inference speed of exported models: onnxruntime against the PyTorch model, on real inputs, one thread.

Two runs at their recipes' sizes (trained for a few steps only: speed does not depend on the weights):

- classify: recipes/sst2.toml's model (300-d embeddings, 1 x 256 BiGRU, attention pooling); the
  workload is ``rnnkit predict`` over the 1,821 SST-2 test sentences (batches of 256 sorted by length,
  through ``classify.predict_proba``), and the same one sentence at a time (first 200 sentences).
- lm: recipes/tinyshakespeare.toml's model (2 x 512 LSTM, characters); the workloads are reading
  16 x 256 characters of the validation text (the encoder graph) and generating 200 characters
  greedily at batch 1 (the one-step decoder in a Python loop, as a caller runs it).

Contenders, interleaved (one timing of each per round, medians over the rounds): the PyTorch model
(rnnkit's layers, default backend), the legacy ONNX export (ONNX's own LSTM/GRU ops) and the
dynamo ONNX export (the recurrence as an ONNX ``Scan``), both in onnxruntime's CPU provider with
one intra-op thread.

    python benchmarks/export_speed.py [--rounds 5] [--json results.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(ROOT))

from rnnkit.cli import main as rnnkit  # noqa: E402
from rnnkit.export import ExportedGraph, export_run  # noqa: E402


def _train(argv: list[str]) -> None:
    if rnnkit(argv) != 0:
        raise SystemExit(f"training failed: {' '.join(argv)}")


def classify_cases(work: Path) -> dict[str, dict[str, Callable[[], object]]]:
    from rnnkit.export.runtime import OnnxClassifier
    from rnnkit.tasks import classify
    from rnnkit.tasks.predict import _labelled

    sst = DATA / "sentiment"
    run = work / "sst2"
    _train(["train", "classify", "--data", str(sst / "stsa.binary.train"), "--valid", str(sst / "stsa.binary.dev"),
            "--format", "label-sentence", "--cell", "gru", "--embed-size", "300", "--hidden-size", "256",
            "--pooling", "attention", "--max-steps", "3", "--eval-every", "3", "--no-progress", "--threads", "1",
            "--out", str(run)])
    loaded = classify.load_run(run)
    models = {"pytorch": loaded.model}
    for exporter in ("legacy", "dynamo"):
        res = export_run(run, "onnx", work / f"sst2-{exporter}.onnx", exporter, limit=32)
        models[f"onnx {exporter}"] = OnnxClassifier(loaded.model, ExportedGraph(res.paths["model"], threads=1))
    tensors = _labelled(loaded, str(sst / "stsa.binary.test"))[0]
    return {"classify: predict 1,821 SST-2 test sentences, batches of 256":
            {k: (lambda m=m: classify.predict_proba(m, tensors, 256)) for k, m in models.items()},
            "classify: 200 sentences one at a time":
            {k: (lambda m=m: [classify.predict_proba(m, [t], 1) for t in tensors[:200]]) for k, m in models.items()}}


def lm_cases(work: Path) -> dict[str, dict[str, Callable[[], object]]]:
    from rnnkit.export.runtime import lm_greedy
    from rnnkit.export.wrappers import task_graphs
    from rnnkit.tasks import lm

    text = (DATA / "tinyshakespeare" / "input.txt").read_text(encoding="utf-8")
    (work / "shakespeare.txt").write_text(text[:100_000], encoding="utf-8")
    run = work / "lm"
    _train(["train", "lm", "--data", str(work / "shakespeare.txt"), "--embed-size", "128", "--hidden-size", "512",
            "--num-layers", "2", "--batch-size", "8", "--bptt", "64", "--max-steps", "2", "--eval-every", "2",
            "--no-progress", "--threads", "1", "--out", str(run)])
    model, vocab, _, _ = lm.load_run(run)
    ids = vocab.encode(text[-20_000:])[0]
    chunk = ids[: 16 * 256].view(16, 256)
    prime = ids[:64].view(1, 64)
    ref = {g.name: g.module for g in task_graphs("lm", model)}
    graphs = {"pytorch": (ref["encoder"], ref["decoder"])}
    for exporter in ("legacy", "dynamo"):
        res = export_run(run, "onnx", work / f"lm-{exporter}.onnx", exporter, limit=8)
        graphs[f"onnx {exporter}"] = (ExportedGraph(res.paths["encoder"], threads=1),
                                      ExportedGraph(res.paths["decoder"], threads=1))
    return {"lm: read 16 x 256 characters (encoder)": {k: (lambda e=e: e(chunk)) for k, (e, _) in graphs.items()},
            "lm: generate 200 characters greedily, batch 1":
            {k: (lambda e=e, d=d: lm_greedy(e, d, prime, 200)) for k, (e, d) in graphs.items()}}


def timed(cases: dict[str, dict[str, Callable[[], object]]], rounds: int) -> list[dict[str, object]]:
    rows = []
    for case, contenders in cases.items():
        for fn in contenders.values():  # warm-up: first calls allocate and plan
            fn()
        times: dict[str, list[float]] = {k: [] for k in contenders}
        for _ in range(rounds):
            for k, fn in contenders.items():
                t = time.perf_counter()
                fn()
                times[k].append(time.perf_counter() - t)
        med = {k: statistics.median(v) for k, v in times.items()}
        rows.append({"case": case, "ms": {k: 1e3 * v for k, v in med.items()},
                     "vs pytorch": {k: v / med["pytorch"] for k, v in med.items()}})
        cells = " | ".join(f"{k} {1e3 * v:.1f} ms ({v / med['pytorch']:.2f}x)" for k, v in med.items())
        print(f"{case}: {cells}", flush=True)
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=5, help="timed rounds per case (default 5)")
    p.add_argument("--json", default=None, help="also write the results here")
    args = p.parse_args()
    torch.set_num_threads(1)
    import onnxruntime

    machine = (f"{platform.processor() or platform.machine()}, torch {torch.__version__}, onnxruntime "
               f"{onnxruntime.__version__}, 1 thread, Python {platform.python_version()}")
    print(machine, flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        cases = {**classify_cases(work), **lm_cases(work)}
        torch.set_num_threads(1)  # training set its own threads
        rows = timed(cases, args.rounds)
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": machine, "rounds": args.rounds, "results": rows}, indent=2)
                                   + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
