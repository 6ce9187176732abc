"""A forecast combination chosen on validation windows, with intervals calibrated on them.

The members (the network, ETS, ARIMA, ...) each forecast H steps from every origin ``o`` of the
validation span, in the transformed units ``v`` (``log y`` or ``y``) where all models work. With
``e_j`` member j's mean absolute error over those ``N x H`` validation points:

    inverse:          w_j = e_j^-1 / sum_i e_i^-1     (weights by accuracy; Bates & Granger's idea)
    inverse-squared:  w_j = e_j^-2 / sum_i e_i^-2     (sharper: the better member weighs more)
    equal:            w_j = 1 / J
    best:             w_j = 1 for the smallest e_j, else 0  (selection)
    top2:             w_j = 1/2 for the two smallest e_j, else 0  (the mean of the two best)

    mean = sum_j w_j mean_j,   std = c s,   with the members' spread s (``spread``):
        mean:     s = sum_j w_j std_j                                     (the members' own widths)
        mixture:  s = sqrt(sum_j w_j (std_j^2 + (mean_j - mean)^2))       (the linear pool's: the members'
                  disagreement widens it, Gneiting & Ranjan 2013)

The factor ``c`` calibrates the intervals (split-conformal, on the normalised scores
``|v - mean| / s`` of all validation points): with ``c_0`` the ``ceil(0.8 (n + 1)) / n``
empirical quantile of the ``n`` scores over ``z_0.9`` (the factor that puts 80% of the validation
actuals inside the 80% intervals), ``c = c_0`` when it widens the members' intervals and
``c = (1 + c_0) / 2`` when it would narrow them: a few overlapping windows that happened to be easy
are weak evidence against the members' own uncertainty. The members' ``std`` keep the shape over
the horizon, the validation errors fix the width. Nothing of the test span enters the weights or
``c``; the default scheme, rule and spread were chosen on two development periods whose test spans
lie before the benchmark's (benchmarks/README.md).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from rnnkit.errors import RnnkitError

SCHEMES = ("inverse", "inverse-squared", "equal", "best", "top2")
RULES = ("halfway", "conformal", "widen")  # how the conformal factor c_0 becomes c (fit)
SPREADS = ("mean", "mixture")  # the width the factor scales (module docstring)
Z80 = 1.2815515655446004  # the 0.9 quantile of the standard normal


@dataclasses.dataclass
class Combination:
    """Member names, their weights, the interval factor, and the validation errors they came from."""

    members: list[str]
    weights: list[float]
    factor: float
    scheme: str
    valid_mae: list[float]
    windows: int
    spread: str = "mean"  # runs saved before the option existed used the members' mean width

    def forecast(self, means: dict[str, np.ndarray], stds: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """The combined ``(mean, std)`` from each member's forecasts (any equal shapes)."""
        pairs = list(zip(self.members, self.weights))
        mean = np.asarray(sum(w * means[m] for m, w in pairs))
        if self.spread == "mixture":
            std = np.sqrt(sum(w * (stds[m] ** 2 + (means[m] - mean) ** 2) for m, w in pairs))
        else:
            std = sum(w * stds[m] for m, w in pairs)
        return mean, self.factor * np.asarray(std)


def weights(errors: list[float], scheme: str) -> list[float]:
    """The weights of members with validation errors ``errors`` (module docstring)."""
    if scheme not in SCHEMES:
        raise RnnkitError(f"--combine must be one of {', '.join(SCHEMES)} or none, got {scheme!r}")
    e = np.maximum(np.asarray(errors, dtype=np.float64), 1e-12)
    if scheme == "equal":
        w = np.ones_like(e)
    elif scheme == "best":
        w = (np.arange(len(e)) == int(np.argmin(e))).astype(np.float64)
    elif scheme == "top2":
        w = np.isin(np.arange(len(e)), np.argsort(e, kind="stable")[:2]).astype(np.float64)
    else:
        w = 1 / e if scheme == "inverse" else 1 / e**2
    return (w / w.sum()).tolist()


def conformal_factor(scores: np.ndarray, coverage: float = 0.8) -> float:
    """The factor on a unit-normal interval's half-width that covers ``coverage`` of ``scores``
    (``|error| / std``), with the finite-sample level ``ceil(coverage (n + 1)) / n``."""
    s = np.sort(np.asarray(scores, dtype=np.float64).ravel())
    s = s[np.isfinite(s)]
    if not s.size:
        return 1.0
    k = min(len(s), math.ceil(coverage * (len(s) + 1)))
    return float(s[k - 1] / Z80)


def factor_rule(c0: float, rule: str) -> float:
    """The interval factor from the conformal one: ``halfway`` (c_0 when it widens, else halfway
    back to 1), ``conformal`` (c_0 itself) or ``widen`` (max(1, c_0): never narrower than the
    members' own intervals)."""
    if rule not in RULES:
        raise RnnkitError(f"interval rule must be one of {', '.join(RULES)}, got {rule!r}")
    if rule == "conformal":
        return c0
    return max(1.0, c0) if rule == "widen" else (c0 if c0 >= 1 else (1 + c0) / 2)


def fit(actual: np.ndarray, means: dict[str, np.ndarray], stds: dict[str, np.ndarray], scheme: str,
        rule: str = "halfway", spread: str = "mean") -> Combination:
    """The combination of the members in ``means`` from their validation forecasts: ``actual``,
    ``means[j]``, ``stds[j]`` (N, H) in the transformed units, N the validation windows; ``rule``
    turns the conformal factor into the interval factor (:func:`factor_rule`), which scales the
    ``spread`` (module docstring)."""
    if spread not in SPREADS:
        raise RnnkitError(f"interval spread must be one of {', '.join(SPREADS)}, got {spread!r}")
    names = [m for m in means if np.isfinite(means[m]).all() and np.isfinite(stds[m]).all()]
    if not names:
        raise RnnkitError("combination: no member forecast the validation span")
    errors = [float(np.mean(np.abs(actual - means[m]))) for m in names]
    comb = Combination(names, weights(errors, scheme), 1.0, scheme, errors, int(actual.shape[0]), spread)
    mean, std = comb.forecast(means, stds)
    c0 = conformal_factor(np.abs(actual - mean) / np.maximum(std, 1e-12))
    comb.factor = factor_rule(c0, rule)
    return comb
