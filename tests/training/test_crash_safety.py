"""A training killed with SIGKILL at random moments, then restarted (no checkpoint yet) or resumed, always
finishes, with weights bit-identical to a run never interrupted."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch

from rnnkit.cli import main
from rnnkit.training import checkpoint

FLAGS = ["--lag", "5", "--hidden-size", "4", "--valid-size", "8", "--test-size", "8", "--no-progress",
         "--threads", "1", "--log-every", "4", "--eval-every", "5", "--max-steps", "300"]
KILLS = 4


def test_sigkill_at_random_moments_then_resume_reaches_the_same_weights(tmp_path: Path):
    ref, run = tmp_path / "ref", tmp_path / "run"
    torch.set_num_threads(1)
    assert main(["train", "adding", "--out", str(ref), *FLAGS]) == 0
    rng = random.Random(0)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    t0, tried, finished = time.monotonic(), [], False
    for _ in range(KILLS):
        resume = (run / "last.pt").is_file()
        argv = [sys.executable, "-m", "rnnkit", "train", "adding", "--out", str(run), *FLAGS,
                *(["--resume"] if resume else [])]
        p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
        # wait until the process is training (its metrics or a checkpoint appear), then a little more
        marker = run / ("last.pt" if resume else "metrics.jsonl" if tried else "config.json")
        before = marker.stat().st_mtime_ns if marker.exists() else 0
        while p.poll() is None and time.monotonic() - t0 < 90:
            if marker.exists() and marker.stat().st_mtime_ns != before:
                break
            time.sleep(0.01)
        # the first kill comes as training starts, before the first checkpoint (step 5): a restart, not a resume
        time.sleep(0.0 if not tried else rng.uniform(0.0, 0.6))
        if p.poll() is not None:
            finished = p.returncode == 0
            assert finished, p.stderr.read().decode()
            break
        p.send_signal(signal.SIGKILL)
        p.wait()
        p.stderr.close()
        tried.append(checkpoint.load(run / "last.pt")["trainer"]["step"] if (run / "last.pt").is_file() else 0)
    if not finished:  # the last attempt runs to the end
        resume = ["--resume"] if (run / "last.pt").is_file() else []
        r = subprocess.run([sys.executable, "-m", "rnnkit", "train", "adding", "--out", str(run), *FLAGS, *resume],
                           capture_output=True, text=True, env=env)
        assert r.returncode == 0, r.stderr
    print(f"killed {len(tried)} times, at checkpoint steps {tried}")
    a, b = checkpoint.load(ref / "last.pt"), checkpoint.load(run / "last.pt")
    assert b["trainer"]["step"] == a["trainer"]["step"] == 300
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"]), tried
    assert not [n for n in os.listdir(run) if ".tmp" in n or n == ".lock"]
