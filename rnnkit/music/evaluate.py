"""Evaluation of a music model beside the n-gram baseline, in one run.

- **Test NLL per token**: the network and Kneser-Ney n-grams of orders 1..N fitted on the same
  training tokens score the same test tokens (every token after ``<s>``, ``</s>`` included); the
  order reported as "best" is the one best on the validation split (never chosen on test).
- **Generated pieces** (``samples`` of them for each model, conditions taken in turn from the test
  pieces, seeded): folk tunes are written as ABC (:func:`rnnkit.music.write.abc_text`) and read back
  by music21; a tune counts as *parsed with every bar full* when music21 reads it and each of its
  measures has the metre's length, but a pickup first bar and a last bar that completes it. A tune
  that never ends (no ``</s>`` within the length limit) counts as failed. Also: the share ending on the
  tonic, and the distances between the generated and the test pieces' pitch-class histograms (pitch
  class relative to the tonic, 12 bins) and interval histograms (semitones between successive notes,
  -12..12, larger leaps in the end bins): KL(test || generated) in nats (both smoothed by 1e-6) and the
  earth mover's distance over the bins.
- **Chorales**: the share of generated chorales that music21 reads back from MusicXML with four parts,
  the share of frames where soprano >= alto >= tenor >= bass (all four sounding), the share of notes in
  each voice's usual range, and the same histograms (all voices; intervals within each voice).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import numpy as np
import torch

from rnnkit.music import chorale as chorale_mod
from rnnkit.music import folk
from rnnkit.music.corpus import Piece
from rnnkit.music.ngram import NGram, context_tokens
from rnnkit.music.tune import metre_length, tonic_pc

INTERVAL_RANGE = 12


# -- n-gram -----------------------------------------------------------------------------
def ngram_ids(vocab: Any, pieces: list[Piece], extra: dict[str, int]) -> list[list[int]]:
    """Condition tokens (ids from ``extra``, past the token vocabulary) + the piece's token ids."""
    out = []
    for p in pieces:
        ctx = []
        for t in context_tokens(p.condition):
            ctx.append(extra.setdefault(t, len(vocab) + len(extra)))
        out.append(ctx + vocab.ids(p.tokens)[0].tolist())
    return out


def fit_ngrams(vocab: Any, splits: dict[str, list[Piece]], max_order: int, say: Callable[[str], None]
               ) -> tuple[dict[int, NGram], dict[int, dict[str, float]], int, dict[str, int]]:
    """``(models, {order: {"valid": nll, "test": nll}}, best order by validation, condition ids)``."""
    extra: dict[str, int] = {}
    seqs = {k: ngram_ids(vocab, v, extra) for k, v in splits.items()}
    models, scores = {}, {}
    for n in range(1, max_order + 1):
        m = NGram(n, len(vocab)).fit(seqs["train"], skip=4)
        scores[n] = {}
        for split in ("valid", "test"):
            total, count = m.nll(seqs[split], skip=4)
            scores[n][split] = total / max(1, count)
        models[n] = m
        say(f"  n-gram order {n}: valid {scores[n]['valid']:.4f}, test {scores[n]['test']:.4f} nats/token")
    best = min(scores, key=lambda k: scores[k]["valid"])
    return models, scores, best, extra


def ngram_sample(model: NGram, vocab: Any, conditions: list[tuple[str, str, str]], extra: dict[str, int],
                 max_len: int, seed: int, temperature: float = 1.0) -> list[list[int]]:
    rng = np.random.default_rng(seed)
    mask = np.ones(len(vocab))
    mask[[vocab.bos, vocab.unk]] = 0.0
    out = []
    for cond in conditions:
        hist = [extra.get(t, -1) for t in context_tokens(cond)] + [vocab.bos]
        ids: list[int] = []
        for _ in range(max_len):
            t = model.sample(hist, rng, temperature, mask)
            if t == vocab.eos:
                break
            ids.append(t)
            hist.append(t)
        else:
            ids.append(-1)  # never ended
        out.append(ids)
    return out


# -- network sampling ---------------------------------------------------------------------
def rnn_sample(model: Any, vocab: Any, conditions: list[tuple[str, str, str]], max_len: int, sample_cfg: Any,
               seed: int, constrained: bool = False, bars: int = 0, batch: int = 100, chorales: bool = False
               ) -> list[list[int]]:
    """Pieces from the network (``-1`` appended to one that never ended); ``constrained``: with the bar-full
    constraint (folk) or the voice-order constraint (``chorales``)."""
    from rnnkit.music.constraints import BarConstraint, BarMasks, VoiceOrderConstraint

    gen = torch.Generator().manual_seed(seed)
    masks = BarMasks(vocab.tokens) if constrained and not chorales else None
    out: list[list[int]] = []
    for i in range(0, len(conditions), batch):
        conds = conditions[i : i + batch]
        cond = torch.stack([vocab.condition_ids(c) for c in conds])
        allowed = None
        if constrained:
            cons = [VoiceOrderConstraint(vocab.tokens, bars) if chorales else
                    BarConstraint(masks, metre_length(c[0]), bars) for c in conds]

            def allowed(b: int, ids: list[int], cons: list = cons) -> torch.Tensor:
                return cons[b].allowed(ids)

        got = model.sample(cond, vocab.bos, vocab.eos, max_len, sample_cfg, gen, allowed, (vocab.bos, vocab.unk))
        out += [g if len(g) < max_len else [*g, -1] for g in got]
    return out


# -- pieces from ids ----------------------------------------------------------------------
def folk_tune(vocab: Any, ids: list[int], cond: tuple[str, str, str]):
    """The tune of generated ids, or None when they do not decode (or never ended)."""
    from rnnkit.errors import RnnkitError

    if ids and ids[-1] == -1:
        return None
    try:
        t = folk.decode([vocab.tokens[i] for i in ids], cond[0], cond[1], cond[2])
    except RnnkitError:
        return None
    return t if t.bars else None


def parsed_bars_full(tune: Any) -> tuple[bool, bool]:
    """``(music21 reads the tune's ABC, and every bar is full)``."""
    from rnnkit.errors import RnnkitError
    from rnnkit.music.write import abc_text, parse_abc

    try:
        score = parse_abc(abc_text(tune))
    except RnnkitError:
        return False, False
    parts = list(score.parts) or [score]
    measures = list(parts[0].getElementsByClass("Measure"))
    if not measures:  # music21 builds no measures for a tune of two bars: bar it by the metre
        measures = list(parts[0].makeMeasures().getElementsByClass("Measure"))
    sums = [sum((Fraction(n.quarterLength).limit_denominator(96) for n in m.notesAndRests), Fraction(0))
            for m in measures]
    sums = [s for s in sums if s > 0]
    full = metre_length(tune.metre)
    if not sums or any(s != full for s in sums[1:-1]) or any(s > full for s in sums):
        return True, False
    ok = len(sums) == 1 and sums[0] == full or len(sums) > 1 and (sums[-1] == full or sums[0] + sums[-1] == full)
    return True, ok


def _hist(values: list[int], bins: int, offset: int) -> np.ndarray:
    h = np.zeros(bins)
    for v in values:
        h[min(max(v + offset, 0), bins - 1)] += 1
    return h / h.sum() if h.sum() else h


def distances(p: np.ndarray, q: np.ndarray) -> dict[str, float]:
    """KL(p || q) (both smoothed by 1e-6) and the earth mover's distance between two histograms over bins."""
    if not q.sum() or not p.sum():
        return {"kl": float("inf"), "emd": float("inf")}
    ps, qs = (p + 1e-6) / (p + 1e-6).sum(), (q + 1e-6) / (q + 1e-6).sum()
    return {"kl": float(np.sum(ps * np.log(ps / qs))), "emd": float(np.abs(np.cumsum(p - q)).sum())}


def melody_stats(tunes: list[Any]) -> tuple[np.ndarray, np.ndarray]:
    pcs, ints = [], []
    for t in tunes:
        tp = tonic_pc(t.tonic)
        notes = [m for m, _ in t.notes() if m is not None]
        pcs += [(m - tp) % 12 for m in notes]
        ints += [b - a for a, b in zip(notes, notes[1:])]
    return _hist(pcs, 12, 0), _hist(ints, 2 * INTERVAL_RANGE + 1, INTERVAL_RANGE)


def ends_on_tonic(t: Any) -> bool:
    notes = [m for m, _ in t.notes() if m is not None]
    return bool(notes) and notes[-1] % 12 == tonic_pc(t.tonic)


def folk_metrics(vocab: Any, samples: list[list[int]], conds: list[tuple[str, str, str]],
                 reference: tuple[np.ndarray, np.ndarray]) -> dict[str, float]:
    parsed = full = tonic = 0
    tunes = []
    for ids, c in zip(samples, conds):
        t = folk_tune(vocab, ids, c)
        if t is None:
            continue
        tunes.append(t)
        ok_parse, ok_full = parsed_bars_full(t)
        parsed += ok_parse
        full += ok_full
        tonic += ends_on_tonic(t)
    n = max(1, len(samples))
    pc, iv = melody_stats(tunes)
    return {"pieces": len(samples), "ended": len(tunes) / n, "parsed": parsed / n, "parsed_bars_full": full / n,
            "ends_on_tonic": tonic / n,
            **{f"pitch_class_{k}": v for k, v in distances(reference[0], pc).items()},
            **{f"interval_{k}": v for k, v in distances(reference[1], iv).items()},
            "mean_bars": float(np.mean([len(t.bars) for t in tunes])) if tunes else 0.0}


# -- chorales -----------------------------------------------------------------------------
def chorale_stats(chs: list[Any]) -> tuple[np.ndarray, np.ndarray]:
    pcs, ints = [], []
    for ch in chs:
        tp = tonic_pc(ch.tonic)
        for k in range(4):
            line = [f.voices[k][0] for f in ch.frames if f.voices[k][1] and f.voices[k][0] is not None]
            pcs += [(m - tp) % 12 for m in line]
            ints += [b - a for a, b in zip(line, line[1:])]
    return _hist(pcs, 12, 0), _hist(ints, 2 * INTERVAL_RANGE + 1, INTERVAL_RANGE)


def chorale_metrics(vocab: Any, samples: list[list[int]], conds: list[tuple[str, str, str]],
                    reference: tuple[np.ndarray, np.ndarray]) -> dict[str, float]:
    from music21 import converter

    from rnnkit.errors import RnnkitError

    chs, parsed, order_ok, frames, in_range, notes = [], 0, 0, 0, 0, 0
    for ids, c in zip(samples, conds):
        if ids and ids[-1] == -1:
            continue
        try:
            ch = chorale_mod.decode([vocab.tokens[i] for i in ids], *c)
        except RnnkitError:
            continue
        if len(ch.frames) < 4:
            continue
        chs.append(ch)
        try:
            xml = chorale_mod.to_score(ch).write("musicxml")
            back = converter.parse(str(xml))
            parsed += len(back.parts) == 4
        except Exception:  # music21 rejecting its own output counts as a failure to parse
            pass
        for f in ch.frames:
            ps = [m for m, _ in f.voices]
            if all(p is not None for p in ps):
                frames += 1
                order_ok += ps[0] >= ps[1] >= ps[2] >= ps[3]
            for k, (m, start) in enumerate(f.voices):
                if m is not None and start:
                    lo, hi = chorale_mod.RANGES[chorale_mod.VOICES[k]]
                    notes += 1
                    in_range += lo <= m <= hi
    n = max(1, len(samples))
    pc, iv = chorale_stats(chs)
    return {"pieces": len(samples), "ended": len(chs) / n, "parsed": parsed / n,
            "voice_order": order_ok / max(1, frames), "in_range": in_range / max(1, notes),
            **{f"pitch_class_{k}": v for k, v in distances(reference[0], pc).items()},
            **{f"interval_{k}": v for k, v in distances(reference[1], iv).items()}}


# -- the whole evaluation -----------------------------------------------------------------
def evaluate(model: Any, vocab: Any, kind: str, splits: dict[str, list[Piece]], data: Any, sample_cfg: Any,
             seed: int, say: Callable[[str], None]) -> dict[str, Any]:
    """The numbers of the module docstring as one dict (written to ``evaluation.json`` by the task)."""
    from rnnkit.music.quiet import music21_warnings

    with music21_warnings(say, "checking the pieces"):
        return _evaluate(model, vocab, kind, splits, data, sample_cfg, seed, say)


def _evaluate(model: Any, vocab: Any, kind: str, splits: dict[str, list[Piece]], data: Any, sample_cfg: Any,
              seed: int, say: Callable[[str], None]) -> dict[str, Any]:
    from rnnkit.tasks.music import encode_pieces, pieces_nll

    t0 = time.time()
    test = [p for p in splits["test"] if vocab.known_condition(p.condition)]
    dropped = len(splits["test"]) - len(test)
    items = encode_pieces(vocab, test)
    total, count = pieces_nll(model, items, data.eval_batch_size)
    rnn_nll = total / max(1, count)
    unknown = sum(vocab.ids(p.tokens)[1] for p in test)
    say(f"test: {len(test)} pieces, {count:,} tokens ({unknown} unknown to the vocabulary); "
        f"network {rnn_nll:.4f} nats/token")
    kept = {"train": splits["train"], "valid": [p for p in splits["valid"] if vocab.known_condition(p.condition)],
            "test": test}
    models, scores, best, extra = fit_ngrams(vocab, kept, data.max_orders, say)
    result: dict[str, Any] = {
        "kind": kind, "test_pieces": len(test), "test_pieces_unknown_condition": dropped, "test_tokens": count,
        "unknown_tokens": unknown,
        "rnn": {"nll": rnn_nll},
        "ngram": {"best_order": best, "nll": scores[best]["test"],
                  "orders": {str(k): v for k, v in scores.items()}},
        "nll_reduction": 1 - rnn_nll / scores[best]["test"],
    }
    say(f"network {rnn_nll:.4f} vs n-gram (order {best}) {scores[best]['test']:.4f} nats/token: "
        f"{_lower(result['nll_reduction'])}")
    n = data.eval_samples
    if n > 0 and test:
        conds = [test[i % len(test)].condition for i in range(n)]
        longest = max(len(p.tokens) for p in splits["train"])
        max_len = min(int(longest * 1.5), 4000)
        if kind == "folk":
            ref = melody_stats([folk.decode(p.tokens, *p.condition) for p in test])
            metric = lambda s, c=conds: folk_metrics(vocab, s, c, ref)  # noqa: E731
        else:
            ref = chorale_stats([chorale_mod.decode(p.tokens, *p.condition) for p in test])
            metric = lambda s, c=conds: chorale_metrics(vocab, s, c, ref)  # noqa: E731
        say(f"sampling {n} pieces from the network (temperature {sample_cfg.temperature}, top-p {sample_cfg.top_p})")
        result["rnn"]["samples"] = metric(rnn_sample(model, vocab, conds, max_len, sample_cfg, seed))
        if kind == "chorales":
            say(f"sampling {n} chorales from the network with the voice-order constraint")
            result["rnn_constrained"] = {"samples": metric(rnn_sample(model, vocab, conds, max_len, sample_cfg, seed,
                                                                      constrained=True, chorales=True))}
        if kind == "folk":
            say(f"sampling {n} pieces from the network with the bar-full constraint")
            result["rnn_constrained"] = {"samples": metric(rnn_sample(model, vocab, conds, max_len, sample_cfg, seed,
                                                                      constrained=True))}
        say(f"sampling {n} pieces from the n-gram (order {best})")
        result["ngram"]["samples"] = metric(ngram_sample(models[best], vocab, conds, extra, max_len, seed))
        # the same measures of the test pieces themselves, for reference
        result["test_set"] = metric([vocab.ids(p.tokens)[0].tolist()[1:-1] for p in test], [p.condition for p in test])
        result["sample_conditions"] = "the test pieces' conditions in turn"
        result["sampling"] = {"temperature": sample_cfg.temperature, "top_p": sample_cfg.top_p, "seed": seed}
        for name in ("rnn", "rnn_constrained", "ngram"):
            if name in result:
                s = result[name]["samples"]
                say(f"  {name}: " + ", ".join(f"{k} {v:.3f}" for k, v in s.items() if isinstance(v, float)))
    result["seconds"] = round(time.time() - t0, 1)
    return result



def summary_lines(res: dict[str, Any]) -> list[str]:
    """The evaluation as lines of text (``rnnkit evaluate`` without ``--json``)."""
    ng = res["ngram"]
    split = res.get("split", "test")
    chosen = "chosen on validation" if split == "test" else "chosen on this split"
    sampling = res.get("sampling")
    how = f" | samples at temperature {sampling['temperature']}, top-p {sampling['top_p']}" if sampling else ""
    lines = [f"{split}: {res['test_pieces']} pieces, {res['test_tokens']:,} tokens | network NLL "
             f"{res['rnn']['nll']:.4f} | n-gram (order {ng['best_order']}, {chosen}) {ng['nll']:.4f} nats/token | "
             f"{_lower(res['nll_reduction'])}{how}"]
    for name in ("rnn", "rnn_constrained", "ngram", "test_set"):
        s = res.get(name, {}).get("samples") if name != "test_set" else res.get("test_set")
        if s:
            lines.append(f"{name}: " + " | ".join(f"{k} {v:.3f}" for k, v in s.items() if isinstance(v, float)))
    return lines


def _lower(r: float) -> str:
    return f"{r:.1%} lower" if r >= 0 else f"{-r:.1%} higher"
