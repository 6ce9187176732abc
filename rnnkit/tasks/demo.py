"""``rnnkit demo``: a character-level LSTM learns to write like Python's documentation.

The corpus needs no download: every CPython installation carries the text of its
``help()`` topics in ``pydoc_data/topics.py`` (about 0.5 MB of English prose with code).
The demo writes it to the run directory, trains for a fixed time budget with the same
Trainer and task as ``rnnkit train lm``, and prints a sample before and after training.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any

import torch

from rnnkit.errors import RnnkitError
from rnnkit.models.lm import LanguageModel, LMConfig
from rnnkit.models.sampling import SampleConfig
from rnnkit.tasks import lm, runs
from rnnkit.training import TrainConfig

PRIME = "The "


def corpus_text() -> str:
    """The help-topic texts of this Python installation, one after another."""
    try:
        from pydoc_data.topics import topics
    except ImportError:
        raise RnnkitError("this Python installation lacks pydoc_data (the help() topics), the demo's corpus; "
                          "run `rnnkit train lm --data FILE` on a text of your own instead") from None
    return "\n\n".join(topics[k].strip() for k in sorted(topics))


def configs(corpus: Path, seconds: float, cell: str, threads: int) -> dict[str, Any]:
    data = lm.LMDataConfig(data=str(corpus), valid_fraction=0.1, level="char", batch_size=32, bptt=64,
                           eval_batch_size=16)
    model = LMConfig(cell=cell, embed_size=64, hidden_size=256, num_layers=2, dropout=0.0)
    train = TrainConfig(lr=3e-3, schedule="cosine", warmup_steps=20, min_lr=0.05, epochs=100,
                        max_time=seconds, eval_every=150, log_every=25, threads=threads)
    return {"data": data, "model": model, "train": train}


MEANINGFUL_STEPS = 400  # below this the samples are still mostly noise (about 1,450 steps in 100 s on 2 free cores)


def budget_note(summary: dict[str, Any], seconds: float) -> str | None:
    """A plain remark when the time budget bought too few steps for the sample to mean anything
    (a busy or small machine), with what to do; None otherwise."""
    steps = summary["steps"]
    if steps >= MEANINGFUL_STEPS or summary.get("stop_reason", "").startswith("interrupt"):
        return None
    more = max(2 * seconds, seconds * MEANINGFUL_STEPS / max(1, steps))
    return (f"note: only {steps} training steps fitted in {seconds:.0f} s ({summary['items_per_s']:,.0f} chars/s; "
            f"the demo needs about {MEANINGFUL_STEPS} for readable text), so the sample below is still mostly noise: "
            f"this machine is slow or busy. Run `rnnkit demo --seconds {math.ceil(more / 10) * 10:.0f}` "
            f"or on a less busy machine.")


def show(title: str, text: str) -> None:
    bar = "-" * 72
    print(f"{bar}\n{title}\n{bar}\n{text}\n{bar}", flush=True)


def run(out: str | None = None, seconds: float = 100.0, cell: str = "lstm", threads: int = 0,
        length: int = 400) -> dict[str, Any]:
    """Train the demo model into ``out`` and print samples; returns the training summary."""
    run_dir = Path(out) if out else runs.default_run_dir("demo")
    runs.prepare(run_dir, resume=False, can_resume=False)
    run_dir.mkdir(parents=True, exist_ok=True)
    corpus = run_dir / "corpus.txt"
    corpus.write_text(corpus_text(), encoding="utf-8")
    cfgs = configs(corpus, seconds, cell, threads)
    print(f"rnnkit demo: a character-level {cell.upper()} learns from Python's help() texts "
          f"({corpus.stat().st_size / 1e6:.2f} MB, written to {corpus}); about {seconds:.0f} s of training.",
          flush=True)
    train_text, _ = lm.load_texts(cfgs["data"])
    from rnnkit.data import Vocab

    vocab = Vocab.build(train_text, "char")
    torch.manual_seed(cfgs["train"].seed)
    untrained = LanguageModel(LMConfig(**{**cfgs["model"].__dict__, "vocab_size": len(vocab)}))
    sample = SampleConfig(temperature=0.7)
    show("sample before training (random weights):",
         PRIME + "".join(lm.generate_text(untrained, vocab, PRIME, 200, sample, seed=1)))
    summary = lm.train(run_dir, cfgs, title="rnnkit demo: char LSTM on Python's help() topics")
    model, vocab, _, path = lm.load_run(run_dir)
    if note := budget_note(summary, seconds):
        print(note, flush=True)
    print(f"sample after training ({path}):", flush=True)
    print("-" * 72)
    print(PRIME, end="", flush=True)
    for piece in lm.generate_text(model, vocab, PRIME, length, sample, seed=1):
        print(piece, end="", flush=True)  # streams as it is generated
    print("\n" + "-" * 72)
    last = summary["last"]
    print(f"validation: {last['loss']:.3f} nats/char = {last['bpc']:.3f} bits/char (perplexity {last['ppl']:.2f}); "
          f"{summary['steps']} steps, {summary['items_per_s']:,.0f} chars/s, {summary['seconds']:.0f} s.")
    print(f"run directory: {run_dir} (metrics.jsonl, curves.png, best.pt). Next: "
          f"rnnkit sample {run_dir} --prime \"The \" --temperature 0.8", file=sys.stdout)
    return summary
