"""1-nearest-neighbour baselines of time-series classification: Euclidean distance and full-window DTW, in numpy.

Used by ``benchmarks/classify_broad.py``. Series are ``(T, C)`` arrays; multivariate DTW is the
dependent kind (DTW_D: the cost of matching two steps is the squared Euclidean distance between
their channel vectors), with no warping window, as the UCR/UEA archives report it.

DTW is computed for blocks of (test, train) pairs at once, one anti-diagonal of the cost matrix
at a time: every cell of a diagonal depends only on the two diagonals before it, so a whole
diagonal of every pair in the block is one vectorised numpy step. Pairs are grouped by length
(queries and references sorted), so the padding of a block costs little; padding never reaches a
pair's result because ``D[i, j]`` depends only on cells ``i' <= i, j' <= j``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def resample(x: np.ndarray, length: int) -> np.ndarray:
    """``x (T, C)`` linearly interpolated to ``length`` steps (Euclidean distance needs equal lengths)."""
    if x.shape[0] == length:
        return x
    old = np.linspace(0.0, 1.0, x.shape[0])
    new = np.linspace(0.0, 1.0, length)
    return np.stack([np.interp(new, old, x[:, c]) for c in range(x.shape[1])], axis=1)


def nn1_euclidean(train: Sequence[np.ndarray], y_train: np.ndarray, test: Sequence[np.ndarray]) -> np.ndarray:
    """Predicted labels of ``test`` by 1-NN Euclidean; unequal lengths are resampled to the longest training one."""
    length = max(x.shape[0] for x in train)
    a = np.stack([resample(x, length).ravel() for x in train])
    b = np.stack([resample(x, length).ravel() for x in test])
    d = (b**2).sum(1)[:, None] - 2 * b @ a.T + (a**2).sum(1)[None, :]
    return y_train[d.argmin(1)]


def _dtw_block(a: np.ndarray, na: np.ndarray, b: np.ndarray, nb: np.ndarray) -> np.ndarray:
    """DTW distances of pairs ``(a[p, :na[p]], b[p, :nb[p]])``; ``a (P, N, C)``, ``b (P, M, C)`` padded."""
    P, N, C = a.shape
    M = b.shape[1]
    if C == 1:  # one channel: no channel axis to sum over (the common, univariate case)
        a, b = a[:, :, 0], b[:, :, 0]
    # three diagonals, indexed by row i + 1 (index 0 is an infinite border), reused in turn:
    # a diagonal d holds rows lo+1..hi+1; only indices lo and hi+2 next to them are read later
    bufs = [np.full((P, N + 2), np.inf, dtype=a.dtype) for _ in range(3)]
    out = np.full(P, np.inf)
    ends = na + nb - 2  # the diagonal of each pair's last cell
    for d in range(N + M - 1):
        prev2, prev1, cur = bufs[(d - 2) % 3], bufs[(d - 1) % 3], bufs[d % 3]
        lo, hi = max(0, d - M + 1), min(d, N - 1)
        rows = a[:, lo : hi + 1]  # rows i = lo..hi
        cols = b[:, d - hi : d - lo + 1][:, ::-1]  # columns j = d - i, in the same order
        diff = rows - cols
        cost = diff * diff if C == 1 else np.einsum("pkc,pkc->pk", diff, diff)
        if d == 0:
            cur[:, 1] = cost[:, 0]
        else:
            # D[i, j] = cost + min(D[i-1, j-1], D[i-1, j], D[i, j-1])
            best = np.minimum(prev2[:, lo : hi + 1], prev1[:, lo : hi + 1])
            np.minimum(best, prev1[:, lo + 1 : hi + 2], out=best)
            np.add(cost, best, out=cur[:, lo + 1 : hi + 2])
        cur[:, lo] = np.inf if lo > 0 else cur[:, lo]
        cur[:, hi + 2] = np.inf
        done = ends == d
        if done.any():
            out[done] = cur[done, na[done]]
    return out


def dtw_matrix(test: Sequence[np.ndarray], train: Sequence[np.ndarray], block: int = 256) -> np.ndarray:
    """``(len(test), len(train))`` full-window DTW distances."""
    qo = np.argsort([x.shape[0] for x in test], kind="stable")
    ro = np.argsort([x.shape[0] for x in train], kind="stable")
    C = test[0].shape[1]
    out = np.empty((len(test), len(train)))
    # about `block` pairs per step: square-ish tiles of the (test x train) grid, in length order
    tr = max(1, min(len(train), int(np.sqrt(block))))
    tq = max(1, block // tr)
    for qs in range(0, len(test), tq):
        qi = qo[qs : qs + tq]
        for rs in range(0, len(train), tr):
            ri = ro[rs : rs + tr]
            qq, rr = np.repeat(qi, len(ri)), np.tile(ri, len(qi))
            N = max(test[i].shape[0] for i in qi)
            M = max(train[i].shape[0] for i in ri)
            # float32: half the memory traffic of float64; the distances only need to rank neighbours
            a = np.zeros((len(qq), N, C), dtype=np.float32)
            b = np.zeros((len(rr), M, C), dtype=np.float32)
            na = np.array([test[i].shape[0] for i in qq])
            nb = np.array([train[i].shape[0] for i in rr])
            for p, (i, j) in enumerate(zip(qq, rr)):
                a[p, : na[p]] = test[i]
                b[p, : nb[p]] = train[j]
            out[qq, rr] = _dtw_block(a, na, b, nb)
    return out


def nn1_dtw(train: Sequence[np.ndarray], y_train: np.ndarray, test: Sequence[np.ndarray]) -> np.ndarray:
    """Predicted labels of ``test`` by 1-NN with full-window DTW (unequal lengths are fine)."""
    return y_train[dtw_matrix(test, train).argmin(1)]


def dtw_reference(x: np.ndarray, y: np.ndarray) -> float:
    """The textbook O(N M) double loop, for checking :func:`dtw_matrix`."""
    n, m = x.shape[0], y.shape[0]
    D = np.full((n + 1, m + 1), np.inf)
    D[0, 0] = 0.0
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            D[i, j] = ((x[i - 1] - y[j - 1]) ** 2).sum() + min(D[i - 1, j - 1], D[i - 1, j], D[i, j - 1])
    return float(D[n, m])
