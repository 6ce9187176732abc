"""torchrun with 2 CPU processes (gloo): the same weights as one process on the whole batch,
and only rank 0 writes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import torch

from rnnkit.tasks.demo import corpus_text

ARGS = ["train", "lm", "--hidden-size", "16", "--embed-size", "8", "--num-layers", "2", "--dropout", "0",
        "--batch-size", "4", "--bptt", "8", "--eval-batch-size", "4", "--max-steps", "12", "--eval-every", "6",
        "--no-progress", "--threads", "1", "--device", "cpu"]


def run(cmd: list[str]) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def test_two_processes_match_one(tmp_path: Path):
    data = tmp_path / "text.txt"
    data.write_text(corpus_text()[:3000], encoding="utf-8")
    one, two = tmp_path / "one", tmp_path / "two"
    run([sys.executable, "-m", "rnnkit", *ARGS, "--data", str(data), "--out", str(one)])
    proc = run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
                "-m", "rnnkit", *ARGS, "--data", str(data), "--out", str(two)])
    a = torch.load(one / "last.pt", weights_only=True)
    b = torch.load(two / "last.pt", weights_only=True)
    assert b["world_size"] == 2 and len(b["per_rank"]) == 2 and b["trainer"]["step"] == 12
    for name, w in a["model"].items():
        torch.testing.assert_close(b["model"][name], w, rtol=1e-5, atol=1e-6, msg=name)
    # rank 0 alone logged: one record per evaluation, not two
    lines = (two / "metrics.jsonl").read_text().splitlines()
    assert sum('"split": "valid"' in line for line in lines) == 2
    assert proc.stderr.count("done:") == 1
