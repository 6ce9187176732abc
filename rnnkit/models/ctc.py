"""CTC decoding: best path and prefix beam search, with the frame each output symbol is emitted at.

A CTC model (Graves et al. 2006, "Connectionist Temporal Classification") gives, for every frame
``t``, a distribution over the ``V`` symbols plus a blank (id :data:`BLANK` = 0 in every
vocabulary). An alignment path picks one symbol per frame; it collapses to a labelling by merging
runs of the same symbol and then dropping blanks (``a a _ a b b`` -> ``a a b``), so a symbol said
twice in a row needs a blank between its two runs. The probability of a labelling is the sum over
all the paths that collapse to it.

Best path (:func:`greedy`) takes the most probable symbol at each frame and collapses that one
path: cheap, and usually close, but the most probable *path* need not collapse to the most
probable *labelling* (many middling paths can outweigh one good one).

Prefix beam search (:func:`prefix_beam_search`; Hannun et al. 2014, "First-Pass Large Vocabulary
Continuous Speech Recognition using Bi-Directional Recurrent DNNs") searches over labellings
instead. For each prefix it keeps two log-probabilities over the frames read so far: of the paths
that collapse to it and end in a blank (``p_b``), and of those that end in its last symbol
(``p_nb``). At each frame a prefix stays (a blank, or its last symbol again) or grows by a
symbol; the paths of one prefix, however they got there, are merged into one entry, and the
``beam_size`` most probable prefixes live on. A repeat of the last symbol extends the prefix only
from ``p_b``: without a blank in between, the same symbol again is the same run. With a beam wide
enough to hold every prefix, the search is exact: it returns the most probable labelling.
A narrower beam prunes, and can (rarely) return a labelling less probable than best path's: on
random, flat 30-frame distributions with beam 8, 5 in 600 did; a beam of 64 beat best path on all of them.
:func:`batch_decode` therefore lets best path's labelling compete (scored by the forward
algorithm), so what it returns for a beam is never less probable than greedy's.

Both return ``(symbol id, frame)`` pairs. For best path the frame is the first of the symbol's run;
for beam search it is the frame at which the symbol was appended on the prefix's most probable
contribution (the frames travel with the prefix, and when two ways of reaching a prefix merge, the
more probable one's frames are kept), so the frames always increase strictly.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

BLANK = 0
"""The id of the CTC blank, in every vocabulary."""

_NEG_INF = float("-inf")


def _frames(log_probs: Tensor, length: int | None, dims: int = 2) -> int:
    """The number of frames to read, after checking the shape and ``length``."""
    if log_probs.dim() != dims:
        shape = "(T, V)" if dims == 2 else "(B, T, V)"
        raise ValueError(f"log_probs must be {shape}, got shape {tuple(log_probs.shape)}")
    T = log_probs.shape[-2]
    if length is None:
        return T
    if not 0 <= length <= T:
        raise ValueError(f"length must be in [0, {T}], got {length}")
    return int(length)


def greedy(log_probs: Tensor, length: int | None = None) -> list[tuple[int, int]]:
    """Best-path decoding of ``log_probs (T, V)``: ``(symbol, first frame of its run)`` per output symbol.

    The argmax symbol of each of the first ``length`` frames (all ``T`` if None), repeats collapsed,
    blanks dropped.
    """
    n = _frames(log_probs, length)
    return _collapse(log_probs[:n].argmax(-1).tolist())


def _collapse(best: list[int]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    prev = BLANK
    for t, s in enumerate(best):
        if s != prev and s != BLANK:
            out.append((s, t))
        prev = s
    return out


def _logaddexp(a: float, b: float) -> float:
    # On Python floats: a torch call per addition would cost more than the whole arithmetic.
    if a < b:
        a, b = b, a
    if b == _NEG_INF:
        return a
    return a + math.log1p(math.exp(b - a))


def prefix_beam_search(log_probs: Tensor, beam_size: int = 8, length: int | None = None,
                       prune: float = -30.0) -> list[tuple[int, int]]:
    """CTC prefix beam search over ``log_probs (T, V)`` (log-softmax, blank 0): the best labelling found.

    Returns ``(symbol, frame it was appended at)`` per symbol of the most probable prefix after the
    first ``length`` frames (all ``T`` if None). At each frame, prefixes grow only by the
    ``beam_size`` most probable non-blank symbols of that frame, and among those only by the ones
    whose log-probability is at least ``prune`` (staying on a prefix is always considered). With
    ``beam_size`` at least the number of possible prefixes and ``prune=-inf`` the search is exact.
    """
    n = _frames(log_probs, length)
    if beam_size < 1:
        raise ValueError(f"beam_size must be >= 1, got {beam_size}")
    if n == 0:
        return []
    lp = log_probs[:n].detach().to(torch.float64, copy=False).cpu()
    V = lp.shape[1]
    rows = lp.tolist()
    k = min(beam_size, V - 1)
    cand_vals: list[list[float]] = []
    cand_ids: list[list[int]] = []
    if k > 0:
        # The candidate symbols of every frame in one call, then filtered on Python floats.
        vals, ids = lp[:, 1:].topk(k, dim=1)
        cand_vals, cand_ids = vals.tolist(), (ids + 1).tolist()

    # Prefixes are nodes of a trie (node -> parent, last symbol), so a prefix is one int to hash and grow,
    # not a tuple as long as the output. Frames are linked lists (frame, rest), shared between prefixes.
    parent, symbol = [-1], [BLANK]
    child: dict[tuple[int, int], int] = {}
    # node -> [p_b, p_nb, frames]; the empty prefix (node 0) starts with probability 1, as ending in a blank.
    beams: dict[int, list] = {0: [0.0, _NEG_INF, None]}
    for t in range(n):
        row = rows[t]
        cands = [(c, v) for c, v in zip(cand_ids[t], cand_vals[t]) if v >= prune] if k > 0 else []
        # node -> [p_b, p_nb, frames, best contribution]: the frames of the most probable contribution win.
        nxt: dict[int, list] = {}
        for node, (pb, pnb, frames) in beams.items():
            total = _logaddexp(pb, pnb)
            last = symbol[node]
            # Stay on the prefix: a blank, or the last symbol once more (the same run).
            stay_b = total + row[BLANK]
            stay_nb = pnb + row[last] if node else _NEG_INF
            best = max(stay_b, stay_nb)
            e = nxt.get(node)
            if e is None:
                nxt[node] = [stay_b, stay_nb, frames, best]
            else:
                e[0] = _logaddexp(e[0], stay_b)
                e[1] = _logaddexp(e[1], stay_nb)
                if best > e[3]:
                    e[2], e[3] = frames, best
            for c, v in cands:
                # A repeat of the last symbol starts a new run only after a blank: from p_b alone.
                score = (pb if c == last else total) + v
                if score == _NEG_INF:
                    continue
                grown = child.get((node, c))
                if grown is None:
                    grown = child[(node, c)] = len(parent)
                    parent.append(node)
                    symbol.append(c)
                e = nxt.get(grown)
                if e is None:
                    nxt[grown] = [_NEG_INF, score, (t, frames), score]
                else:
                    e[1] = _logaddexp(e[1], score)
                    if score > e[3]:
                        e[2], e[3] = (t, frames), score
        ranked = sorted(nxt.items(), key=lambda item: _logaddexp(item[1][0], item[1][1]), reverse=True)
        beams = {node: [e[0], e[1], e[2]] for node, e in ranked[:beam_size]}

    node, (_, _, frames) = next(iter(beams.items()))  # ranked best first
    out: list[tuple[int, int]] = []
    while node:
        out.append((symbol[node], frames[0]))
        node, frames = parent[node], frames[1]
    return out[::-1]


def batch_decode(log_probs: Tensor, lengths: Tensor, beam_size: int = 1) -> list[list[tuple[int, int]]]:
    """Decode a batch ``log_probs (B, T, V)`` with ``lengths (B,)`` frames each: greedy if ``beam_size`` is 1."""
    _frames(log_probs, None, dims=3)
    B, T = log_probs.shape[:2]
    lens = [int(n) for n in torch.as_tensor(lengths).reshape(-1).tolist()]
    if len(lens) != B:
        raise ValueError(f"{len(lens)} lengths for a batch of {B}")
    for n in lens:
        if not 0 <= n <= T:
            raise ValueError(f"lengths must be in [0, {T}], got {n}")
    if beam_size == 1:
        best = log_probs.argmax(-1).tolist()  # one call for the whole batch
        return [_collapse(best[b][:lens[b]]) for b in range(B)]
    out = []
    for b in range(B):
        beam = prefix_beam_search(log_probs[b], beam_size=beam_size, length=lens[b])
        path = greedy(log_probs[b], length=lens[b])
        # best path competes with the beam (pruning can lose it), so beam search is never below greedy
        if [s for s, _ in beam] != [s for s, _ in path] and \
                labelling_log_prob(log_probs[b, : lens[b]], [s for s, _ in path]) > \
                labelling_log_prob(log_probs[b, : lens[b]], [s for s, _ in beam]):
            beam = path
        out.append(beam)
    return out


def labelling_log_prob(log_probs: Tensor, labels: list[int]) -> float:
    """``log P(labels | log_probs (T, V))``: the sum over every path that collapses to ``labels`` (CTC's
    forward algorithm, by ``torch.nn.functional.ctc_loss``); -inf when the frames are too few."""
    T = log_probs.shape[0]
    if not labels:
        return float(log_probs[:, BLANK].double().sum()) if T else 0.0
    if T == 0:
        return -math.inf
    loss = torch.nn.functional.ctc_loss(log_probs.double().unsqueeze(1), torch.tensor([labels]), torch.tensor([T]),
                                        torch.tensor([len(labels)]), blank=BLANK, reduction="sum")
    return -float(loss)
