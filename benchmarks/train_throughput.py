"""Training throughput: `rnnkit train lm`'s Trainer vs a plain PyTorch loop around torch.nn.LSTM.

Both train the same model (embedding -> 2-layer LSTM -> linear) on the same text with the
same truncated-BPTT batches, AdamW and gradient clipping by global norm, in one process,
interleaved round by round. Prints tokens/s per round, medians and the ratio.

    python benchmarks/train_throughput.py                       # tiny-shakespeare, 2x512, B=64, K=128
    python benchmarks/train_throughput.py --hidden 200 --batch 20 --bptt 20 --steps 200
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from rnnkit.data import StreamBatches, Vocab, batchify
from rnnkit.models import LanguageModel, LMConfig
from rnnkit.tasks.lm import LMDataConfig, LMTask
from rnnkit.training import TrainConfig, Trainer

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "tinyshakespeare" / "input.txt"


class PlainLM(nn.Module):
    """What a user writes by hand: torch.nn.Embedding -> torch.nn.LSTM -> torch.nn.Linear."""

    def __init__(self, vocab: int, embed: int, hidden: int, layers: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, embed)
        self.rnn = nn.LSTM(embed, hidden, layers, batch_first=True)
        self.out = nn.Linear(hidden, vocab)

    def forward(self, x, state=None):
        h, state = self.rnn(self.embed(x), state)
        return self.out(h), state


def plain_loop(model: nn.Module, batches: StreamBatches, steps: int, lr: float, clip: float) -> float:
    """tokens/s of the textbook truncated-BPTT loop."""
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    state, n = None, 0
    t0 = time.perf_counter()
    for i, (x, y) in enumerate(batches.chunks()):
        if i == steps:
            break
        logits, state = model(x, state)
        state = tuple(s.detach() for s in state)
        loss = F.cross_entropy(logits.flatten(0, 1), y.flatten())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
        loss.item()  # the loop prints its loss now and then; reading it is the sync point
        n += y.numel()
    return n / (time.perf_counter() - t0)


def rnnkit_loop(model: LanguageModel, task: LMTask, steps: int, lr: float, clip: float) -> float:
    """tokens/s of rnnkit's Trainer (its own count, training steps only)."""
    cfg = TrainConfig(lr=lr, clip_norm=clip, max_steps=steps, epochs=1, eval_every=10**9, progress=False,
                      schedule="constant", log_every=50)
    trainer = Trainer(model, task, cfg)
    trainer.evaluate = lambda: {"loss": 0.0}  # score nothing: only training steps are compared
    return trainer.fit()["items_per_s"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--embed", type=int, default=128)
    ap.add_argument("--hidden", type=int, default=512)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--bptt", type=int, default=128)
    ap.add_argument("--steps", type=int, default=30, help="steps per round and contender")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=0)
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    text = Path(a.data).read_text(encoding="utf-8")
    vocab = Vocab.build(text, "char")
    ids = vocab.encode(text)[0]
    task = LMTask(ids, ids[:1000], LMDataConfig(batch_size=a.batch, bptt=a.bptt))
    batches = StreamBatches(batchify(ids, a.batch), a.bptt)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; {a.layers}x{a.hidden} LSTM, "
          f"embed {a.embed}, vocab {len(vocab)}, B={a.batch}, K={a.bptt}, {a.steps} steps x {a.rounds} rounds")
    rates: dict[str, list[float]] = {"plain torch.nn loop": [], "rnnkit Trainer": []}
    for r in range(a.rounds + 1):  # round 0 warms up both
        torch.manual_seed(r)
        plain = plain_loop(PlainLM(len(vocab), a.embed, a.hidden, a.layers), batches, a.steps, 2e-3, 1.0)
        torch.manual_seed(r)
        model = LanguageModel(LMConfig(vocab_size=len(vocab), embed_size=a.embed, hidden_size=a.hidden,
                                       num_layers=a.layers, dropout=0.0))
        ours = rnnkit_loop(model, task, a.steps, 2e-3, 1.0)
        if r:
            rates["plain torch.nn loop"].append(plain)
            rates["rnnkit Trainer"].append(ours)
            print(f"round {r}: plain {plain:,.0f} tok/s | rnnkit {ours:,.0f} tok/s | ratio {ours / plain:.3f}")
    med = {k: statistics.median(v) for k, v in rates.items()}
    ratios = [o / p for o, p in zip(rates["rnnkit Trainer"], rates["plain torch.nn loop"])]
    print(f"median: plain {med['plain torch.nn loop']:,.0f} tok/s, rnnkit {med['rnnkit Trainer']:,.0f} tok/s; "
          f"median per-round ratio rnnkit/plain {statistics.median(ratios):.3f}")


if __name__ == "__main__":
    main()
