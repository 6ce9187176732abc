"""Decoding an attention decoder: greedy and batched beam search, with the attention of every output step.

Both work with any model that has ``encode(*inputs) -> (Memory, DecoderState)`` and a ``decoder``
with ``step(y_prev, memory, state)`` (:class:`~rnnkit.models.seq2seq.Seq2Seq`,
:class:`~rnnkit.models.captioner.Captioner`).

Beam search keeps ``K`` live hypotheses per input, all inputs in one batch of ``B*K`` rows. At
each step the ``2K`` best extensions of a row's beams are taken (over ``K*V`` candidates): those
ending in ``<eos>`` among the top ``K`` are finished, the best ``K`` others live on. The answer is
the finished hypothesis with the best length-normalised score ``log p(y | x) / lp(|y|)``,
``lp(n) = ((5 + n) / 6) ** alpha`` (Wu et al. 2016; ``alpha = 0``: the plain log-probability). An
input ends early once no live beam can beat its best finished hypothesis any more (a live beam's
log-probability only falls and its normalisation is at most ``lp(limit)``: the stop loses nothing),
else at its maximum length, where its live beams are finished as they are. With ``K = 1`` and
``alpha = 0`` this is greedy decoding, exactly.

A beam prunes: the prefix of the greedy output can fall out of the ``K`` best, and the beams kept
may end worse (on Multi30k with ``K = 5, alpha = 0``, 3.5% of the test sentences). So by default
the greedy hypothesis (one greedy pass, about ``1/K`` of the beam's work) competes with the beam's
finished ones: a wider beam never returns an output scoring below greedy decoding's.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import torch
from torch import Tensor

from rnnkit.config import field


@dataclasses.dataclass
class DecodeConfig:
    """How outputs are searched for; the flags of ``rnnkit translate`` and of a run's test decoding."""

    beam_size: int = field(5, "beam size K (1: greedy decoding)")
    length_penalty: float = field(0.6, "alpha of the length normalisation ((5 + n) / 6) ** alpha (0: none)")
    max_length: int = field(100, "most output tokens per input")
    max_ratio: float = field(2.0, "at most max_ratio * (source length) + 10 output tokens")

    def validate(self) -> None:
        from rnnkit.errors import RnnkitError

        if self.beam_size < 1:
            raise RnnkitError(f"--beam-size must be >= 1, got {self.beam_size}")
        if self.max_length < 1:
            raise RnnkitError(f"--max-length must be >= 1, got {self.max_length}")
        if not (self.length_penalty >= 0 and self.max_ratio > 0):
            raise RnnkitError(f"--length-penalty must be >= 0 and --max-ratio > 0, got {self.length_penalty} "
                              f"and {self.max_ratio}")

    def limits(self, src_lengths: Tensor) -> Tensor:
        """Most output tokens for each input, ``(B,)``, from its source length."""
        by_ratio = (src_lengths.double() * self.max_ratio).floor().long() + 10
        return by_ratio.clamp(max=self.max_length)


@dataclasses.dataclass
class Hypothesis:
    """One output: ``tokens`` (without ``<eos>``), ``score`` = its log-probability under the model (``<eos>``
    included when it ``ended``), and ``attention`` ``(steps, S)``: the weights of each output step
    (``<eos>``'s last), or None without attention."""

    tokens: list[int]
    score: float
    ended: bool
    attention: Tensor | None


def _finish(tokens: Tensor, attn: Tensor | None, score: float, ended: bool) -> Hypothesis:
    toks = tokens.tolist()
    return Hypothesis(toks[:-1] if ended else toks, score, ended, None if attn is None else attn.cpu())


@torch.no_grad()
def greedy(model: Any, inputs: tuple[Tensor, ...], bos: int, eos: int, limits: Tensor) -> list[Hypothesis]:
    """The most probable token at every step until ``<eos>`` or each input's limit (``limits (B,)``)."""
    memory, state = model.encode(*inputs)
    B = memory.keys.shape[0]
    device = memory.keys.device
    tok = torch.full((B,), bos, dtype=torch.long, device=device)
    done = torch.zeros(B, dtype=torch.bool, device=device)
    limits = limits.to(device)
    scores = torch.zeros(B, device=device)
    steps, weights = [], []
    for t in range(int(limits.max())):
        logits, state, w = model.decoder.step(tok, memory, state)
        lp, tok = torch.log_softmax(logits.float(), dim=-1).max(-1)
        scores = torch.where(done, scores, scores + lp)
        steps.append(tok)
        weights.append(w)
        done = done | (tok == eos) | (t + 1 >= limits)
        if bool(done.all()):
            break
    out_toks = torch.stack(steps, dim=1)
    attn = None if weights[0] is None else torch.stack(weights, dim=1)
    hyps = []
    for b in range(B):
        row = out_toks[b, : int(limits[b])].tolist()
        n = row.index(eos) + 1 if eos in row else len(row)
        ended = row[n - 1] == eos
        hyps.append(_finish(out_toks[b, :n], None if attn is None else attn[b, :n], float(scores[b]), ended))
    return hyps


def length_norm(score: float, n: int, alpha: float) -> float:
    return score / ((5 + n) / 6) ** alpha if alpha else score


def _bound(score: float, limit: int, alpha: float) -> float:
    """The best normalised score a live beam of log-probability ``score`` (<= 0) can still reach: its
    log-probability only falls, and its length normalisation is at most ``lp(limit)``."""
    return length_norm(score, limit, alpha) if math.isfinite(score) else -math.inf


@torch.no_grad()
def beam_search(model: Any, inputs: tuple[Tensor, ...], bos: int, eos: int, limits: Tensor, beam_size: int,
                length_penalty: float = 0.0, keep_greedy: bool = True) -> list[Hypothesis]:
    """Batched beam search (module docstring); one best :class:`Hypothesis` per input.

    ``keep_greedy``: the greedy hypothesis competes with the beam's, so the answer never scores below
    greedy decoding's (and the early stop can end sooner).
    """
    seeds = greedy(model, inputs, bos, eos, limits) if keep_greedy and beam_size > 1 else None
    memory, state = model.encode(*inputs)
    B, K = memory.keys.shape[0], beam_size
    device = memory.keys.device
    rows = torch.arange(B, device=device).repeat_interleave(K)  # beam k of input b is row b*K + k
    memory, state = memory.select(rows), state.select(rows)
    scores = torch.full((B, K), -math.inf, device=device)
    scores[:, 0] = 0.0  # all beams start identical: only one may expand at the first step
    tok = torch.full((B * K,), bos, dtype=torch.long, device=device)
    hist = torch.zeros(B * K, 0, dtype=torch.long, device=device)
    attn_hist: Tensor | None = None
    finished: list[list[tuple[float, Hypothesis]]] = [[] for _ in range(B)]
    for b, h in enumerate(seeds or []):
        finished[b].append((length_norm(h.score, len(h.tokens) + h.ended, length_penalty), h))
    done = [False] * B
    limits = limits.tolist()
    base = (torch.arange(B, device=device) * K).unsqueeze(1)
    for t in range(max(limits)):
        logits, state, w = model.decoder.step(tok, memory, state)
        logp = torch.log_softmax(logits.float(), dim=-1)
        V = logp.shape[-1]
        cand = (scores.unsqueeze(-1) + logp.view(B, K, V)).view(B, K * V)
        top_s, top_i = cand.topk(min(2 * K, K * V), dim=1)  # (B, 2K)
        src_beam, top_tok = top_i // V, top_i % V
        src_row = base + src_beam  # (B, 2K) rows the candidates extend
        is_eos = top_tok == eos
        # finished: <eos> among the top K candidates
        for b, j in (is_eos[:, :K] & torch.isfinite(top_s[:, :K])).nonzero().tolist():
            if done[b]:
                continue
            r = int(src_row[b, j])
            seq = torch.cat([hist[r], top_tok[b, j : j + 1]])
            a = None
            if w is not None:
                prev = attn_hist[r] if attn_hist is not None else w.new_zeros(0, w.shape[1])
                a = torch.cat([prev, w[r : r + 1]])
            hyp = _finish(seq, a, float(top_s[b, j]), True)
            finished[b].append((length_norm(hyp.score, t + 1, length_penalty), hyp))
        # live on: the K best candidates not ending in <eos>
        live_s, pick = top_s.masked_fill(is_eos, -math.inf).topk(K, dim=1)
        new_rows = src_row.gather(1, pick).view(-1)
        tok = top_tok.gather(1, pick).view(-1)
        scores = live_s
        hist = torch.cat([hist.index_select(0, new_rows), tok.unsqueeze(1)], dim=1)
        if w is not None:
            step_w = w.index_select(0, new_rows).unsqueeze(1)
            attn_hist = step_w if attn_hist is None else torch.cat([attn_hist.index_select(0, new_rows), step_w], 1)
        state = state.select(new_rows)  # beams moved (within their input: the memory rows stay valid)
        for b in range(B):
            if done[b]:
                continue
            if finished[b] and max(f[0] for f in finished[b]) >= _bound(float(scores[b, 0]), limits[b],
                                                                         length_penalty):
                done[b] = True  # no live beam can still beat the best finished hypothesis
            elif t + 1 >= limits[b]:  # out of length: the live beams end here, unended
                for k in range(K):
                    r = b * K + k
                    if math.isfinite(float(scores[b, k])):
                        hyp = _finish(hist[r], None if attn_hist is None else attn_hist[r], float(scores[b, k]),
                                      False)
                        finished[b].append((length_norm(hyp.score, t + 1, length_penalty), hyp))
                done[b] = True
        if all(done):
            break
    return [max(f, key=lambda x: x[0])[1] for f in finished]


def decode(model: Any, inputs: tuple[Tensor, ...], bos: int, eos: int, src_lengths: Tensor,
           config: DecodeConfig) -> list[Hypothesis]:
    """Greedy (``beam_size`` 1) or beam search, with the length limits of ``config``; model in eval mode."""
    limits = config.limits(src_lengths)
    if config.beam_size == 1:
        return greedy(model, inputs, bos, eos, limits)
    return beam_search(model, inputs, bos, eos, limits, config.beam_size, config.length_penalty)
