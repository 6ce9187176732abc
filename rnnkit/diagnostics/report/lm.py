"""The language model's views: samples at several temperatures, the per-token loss over a validation
passage (where the model is surprised), hidden units over the text, gate saturation, gradient flow."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F

from rnnkit.diagnostics.report.activations import SHOW_TOKENS, display_tokens, units_sections
from rnnkit.diagnostics.report.flow import flow_section
from rnnkit.diagnostics.report.html import Section, esc, note, table
from rnnkit.diagnostics.report.run import RunInfo
from rnnkit.diagnostics.report.textcolor import coloured, scale

TEMPERATURES = (0.5, 0.8, 1.0)
SAMPLE_LENGTH = 200
FLOW_STEPS, FLOW_BATCH = 100, 8


def passage(info: RunInfo, vocab: Any, notes: list[str]) -> tuple[torch.Tensor | None, str]:
    """The validation text's ids (the run's own split of its data) and a description; None when unreadable."""
    from rnnkit import config as cfgmod
    from rnnkit.errors import RnnkitError
    from rnnkit.tasks import lm as lm_task

    try:
        data = cfgmod.build(lm_task.LMDataConfig, info.config.get("data", {}), "data config", internal=True)
        _, valid = lm_task.load_texts(data)
    except (RnnkitError, OSError, ValueError, TypeError) as e:
        notes.append(f"the validation text can't be read ({e}): the per-token loss is left out and the units are "
                     f"shown over the model's own sample")
        return None, ""
    ids, _ = vocab.encode(valid[:200_000])
    return ids, "the validation text" + (f" ({data.valid})" if data.valid else f" (the last {data.valid_fraction:.0%} "
                                                                             f"of {data.data})")


@torch.no_grad()
def samples(model: Any, vocab: Any, temperatures: Sequence[float], length: int, lines: bool) -> list[str]:
    """One sample per temperature, all read as one batch (one forward per token for all of them): the model's
    sampling (:func:`rnnkit.models.sampling.sample_next`), from a line break; at character level ``<unk>`` is
    never written; a model trained on whole lines starts each new line from a fresh state, as in training."""
    from rnnkit.models.sampling import SampleConfig, sample_next
    from rnnkit.state import map_state

    gen = torch.Generator().manual_seed(0)
    n = len(temperatures)
    tok = torch.full((n, 1), vocab.sep, dtype=torch.long)
    state: Any = None
    out: list[list[int]] = [[] for _ in range(n)]
    for _ in range(length):
        logits, state = model(tok, state)
        last = logits[:, -1].float()
        if vocab.level == "char":
            last[:, vocab.unk] = float("-inf")
        tok = torch.tensor([[sample_next(last[i], SampleConfig(temperature=t), gen)] for i, t in
                            enumerate(temperatures)])
        for i in range(n):
            out[i].append(int(tok[i, 0]))
        if lines:
            keep = (tok[:, 0] != vocab.sep).float().view(1, n, 1)
            state = map_state(state, lambda s, keep=keep: s * keep)
    return [vocab.decode(ids) for ids in out]


def lm_sections(info: RunInfo, notes: list[str], quick: bool = False) -> list[Any]:
    """All views of an ``lm`` run; ``notes`` gets what could not be shown."""
    from rnnkit.tasks import lm as lm_task

    model, vocab, conf, _ = lm_task.load_run(info.path)
    model.float()
    out = []
    lines = conf.get("data", {}).get("bptt") == 0
    start = time.perf_counter()
    texts = samples(model, vocab, TEMPERATURES, SAMPLE_LENGTH, lines)
    seconds = time.perf_counter() - start
    rows = [(f"{t:g}", f'<div class="text">{esc(text)}</div>') for t, text in zip(TEMPERATURES, texts)]
    sample_text = texts[0]
    out.append(Section("samples", "Samples", f"<p>{SAMPLE_LENGTH} {vocab.level}s from a line break at each "
                       f"temperature (lower: more conservative), seed 0, sampled side by side in {seconds:.1f} s."
                       f"</p>" + table(["temperature", "sample"], rows, raw=True)))
    ids, what = passage(info, vocab, notes)
    if ids is not None and ids.numel() >= 2:
        shown = ids[:SHOW_TOKENS + 1]
        with torch.no_grad():
            logits, _ = model(shown.view(1, -1))
            nll = F.cross_entropy(logits[0, :-1].float(), shown[1:], reduction="none")
        tokens, sep = display_tokens(vocab, shown)
        values = [0.0, *nll.tolist()]
        top = max(1e-6, float(nll.quantile(0.98)))
        mean = float(nll.mean())
        worst = sorted(range(1, len(values)), key=lambda i: -values[i])[:8]
        body = (f"<p>Each token of {esc(what)} on the loss of predicting it (nats; the first has no context). "
                f"Mean {mean:.3f} nats ({mean / math.log(2):.3f} bits) over these {len(values) - 1} tokens.</p>"
                + coloured(tokens, values, False, top, sep) + scale(False, top, "nats")
                + "<h3>most surprising</h3>" + table(
                    ["token", "after", "nats"],
                    [(repr(tokens[i]), repr("".join(tokens[max(0, i - 20):i]) if not sep else
                                            " ".join(tokens[max(0, i - 6):i])), round(values[i], 2)) for i in worst]))
        out.append(Section("surprise", "Per-token loss over a validation passage", body))
    else:
        out.append(Section("surprise", "Per-token loss over a validation passage",
                           note("no validation text to score (see What is missing)")))
        ids, _ = vocab.encode(sample_text)
        what = "the model's own sample at temperature 0.5"
    out += units_sections(model, vocab, ids, what)
    if ids.numel() > FLOW_STEPS + 1:
        T = min(FLOW_STEPS, max(2, conf.get("data", {}).get("bptt") or FLOW_STEPS))
        B = max(1, min(FLOW_BATCH, (ids.numel() - 1) // T))
        x = ids[: B * T].view(B, T)
        y = ids[torch.arange(1, B + 1) * T]  # the token after each row: B * T <= len - 1

        def loss() -> torch.Tensor:
            logits, _ = model(x)
            return F.cross_entropy(logits[:, -1].float(), y)

        out.append(flow_section(model, loss, f"{B} validation chunks of {T} tokens, the loss of the next token after "
                                             f"the last"))
    else:
        notes.append("the text is too short to measure the gradient flow")
    return out
