"""Small-sample statistics for the audit, exact where it matters and without scipy.

- ``wilson_interval``: the Wilson score interval of a binomial proportion (Wilson 1927). Unlike
  the percentile bootstrap it never collapses to a point: 0 of 3 gives [0%, 56.1%], not
  [0%, 0%].
- ``fisher_exact``: Fisher's exact test of a 2x2 table, two-sided (the probabilities of all
  tables with the same margins that are no more likely than the observed one; integer
  arithmetic, so ties are exact), or one-sided.
- ``benjamini_hochberg`` / ``holm``: adjusted p-values for many tests at once (false discovery
  rate, family-wise error rate).
- ``rejection_region`` / ``power`` / ``minimum_detectable_rate``: the exact power of "Fisher's
  two-sided test at level t finds the persona's rate above the baseline's", by enumerating
  every pair of binomial outcomes (no simulation), and the smallest persona rate reaching a
  target power.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import cache
from statistics import NormalDist
from typing import Literal

import numpy as np
import numpy.typing as npt

Alternative = Literal["two-sided", "greater", "less"]
# Relative tolerance for "no more likely than the observed table" in the floating-point
# rejection region (the same as scipy's); the single-table test is exact integers.
_RELATIVE_TOLERANCE = 1e-7


def wilson_interval(failures: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for ``failures`` out of ``n`` (n >= 1)."""
    if n < 1:
        raise ValueError("wilson_interval needs n >= 1")
    if not 0 <= failures <= n:
        raise ValueError(f"failures must lie in [0, {n}], got {failures}")
    z = NormalDist().inv_cdf(0.5 + confidence / 2.0)
    rate = failures / n
    denominator = 1.0 + z * z / n
    centre = (rate + z * z / (2 * n)) / denominator
    half = z * math.sqrt(rate * (1.0 - rate) / n + z * z / (4 * n * n)) / denominator
    # Exact at the edges (0 of n starts at 0, n of n ends at 1), not 1e-17 off.
    low = 0.0 if failures == 0 else max(0.0, centre - half)
    high = 1.0 if failures == n else min(1.0, centre + half)
    return low, high


def fisher_exact(table: Sequence[Sequence[int]], alternative: Alternative = "two-sided") -> float:
    """p-value of Fisher's exact test of ``[[a, b], [c, d]]``.

    Rows are the groups (persona, baseline), columns the outcomes (failed, passed). With the
    margins fixed, ``a`` is hypergeometric. "greater": the first row's failure share is larger
    (P(A >= a)); "less": smaller; "two-sided": the total probability of tables no more likely
    than the observed one.
    """
    (a, b), (c, d) = table
    if min(a, b, c, d) < 0:
        raise ValueError("a 2x2 table of counts cannot hold negative numbers")
    row1, row2, column1 = a + b, c + d, a + c
    low, high = max(0, column1 - row2), min(column1, row1)
    # Integer weights C(row1, x) C(row2, column1 - x); their sum is C(row1 + row2, column1).
    weights = {x: math.comb(row1, x) * math.comb(row2, column1 - x) for x in range(low, high + 1)}
    total = sum(weights.values())
    if alternative == "greater":
        tail = sum(w for x, w in weights.items() if x >= a)
    elif alternative == "less":
        tail = sum(w for x, w in weights.items() if x <= a)
    elif alternative == "two-sided":
        observed = weights[a]
        tail = sum(w for w in weights.values() if w <= observed)
    else:
        raise ValueError(f"unknown alternative {alternative!r}")
    return min(1.0, tail / total)


def benjamini_hochberg(p_values: Sequence[float]) -> list[float]:
    """Benjamini-Hochberg adjusted p-values (q-values), in the input order.

    ``q_(i) = min over j >= i of p_(j) * m / j`` on the sorted p-values; rejecting every
    hypothesis with q <= alpha controls the false discovery rate at alpha (for independent or
    positively dependent tests).
    """
    m = len(p_values)
    order = sorted(range(m), key=lambda index: p_values[index])
    adjusted = [0.0] * m
    running = 1.0
    for rank in range(m, 0, -1):
        index = order[rank - 1]
        running = min(running, p_values[index] * m / rank)
        adjusted[index] = min(1.0, running)
    return adjusted


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the input order (family-wise error control).

    ``adj_(i) = max over j <= i of (m - j + 1) * p_(j)`` on the sorted p-values.
    """
    m = len(p_values)
    order = sorted(range(m), key=lambda index: p_values[index])
    adjusted = [0.0] * m
    running = 0.0
    for rank, index in enumerate(order, start=1):
        running = max(running, (m - rank + 1) * p_values[index])
        adjusted[index] = min(1.0, running)
    return adjusted


@cache
def _log_factorials(limit: int) -> npt.NDArray[np.float64]:
    values = np.zeros(limit + 1)
    if limit:
        values[1:] = np.cumsum(np.log(np.arange(1, limit + 1, dtype=float)))
    return values


def _log_comb(n: int, k: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
    table = _log_factorials(n)
    return table[n] - table[k] - table[n - k]


@cache
def rejection_region(n1: int, n0: int, level: float) -> npt.NDArray[np.bool_]:
    """``region[x1, x0]``: Fisher's two-sided test of x1/n1 (persona) vs x0/n0 (baseline) has
    p <= ``level`` and the persona's rate is the higher one (what the audit flags)."""
    region = np.zeros((n1 + 1, n0 + 1), dtype=bool)
    for column in range(n1 + n0 + 1):  # failures in both groups together: the fixed margin
        x1 = np.arange(max(0, column - n0), min(column, n1) + 1)
        x0 = column - x1
        log_weights = _log_comb(n1, x1) + _log_comb(n0, x0)
        weights = np.exp(log_weights - log_weights.max())
        ordered = np.sort(weights)
        cumulative = np.cumsum(ordered)
        # p(x) = total weight of outcomes no more likely than x, over the total weight.
        reach = np.searchsorted(ordered, weights * (1.0 + _RELATIVE_TOLERANCE), side="right")
        p_values = cumulative[reach - 1] / cumulative[-1]
        above = x1 * n0 > x0 * n1
        chosen = (p_values <= level) & above
        region[x1[chosen], x0[chosen]] = True
    return region


def _binomial_pmf(n: int, rates: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """``pmf[i, x]`` = P(X = x) for X ~ Binomial(n, rates[i])."""
    x = np.arange(n + 1)
    rates = np.asarray(rates, dtype=float).reshape(-1, 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_pmf = _log_comb(n, x) + x * np.log(rates) + (n - x) * np.log1p(-rates)
    pmf = np.exp(log_pmf)
    # 0 * log(0) is 0: the edges are exact point masses.
    pmf[rates[:, 0] == 0.0] = np.eye(1, n + 1, 0)
    pmf[rates[:, 0] == 1.0] = np.eye(1, n + 1, n)
    return np.nan_to_num(pmf)


def power(persona_rate: float, baseline_rate: float, n1: int, n0: int, level: float) -> float:
    """P(the audit flags the persona) when its true failure rate is ``persona_rate`` over
    ``n1`` replies and the baseline's is ``baseline_rate`` over ``n0``; exact."""
    region = rejection_region(n1, n0, level).astype(float)
    persona = _binomial_pmf(n1, np.array([persona_rate]))[0]
    baseline = _binomial_pmf(n0, np.array([baseline_rate]))[0]
    return float(persona @ region @ baseline)


def minimum_detectable_rate(
    baseline_rate: float, n1: int, n0: int, level: float, target: float = 0.8, step: float = 0.001
) -> float | None:
    """The smallest persona failure rate (on a grid of ``step``) that would be flagged with
    probability >= ``target``; None when even a persona failing every reply would not be."""
    if n1 < 1 or n0 < 1:
        return None
    region = rejection_region(n1, n0, level).astype(float)
    steps = round(1.0 / step)
    grid = np.arange(0, steps + 1) / steps
    grid = grid[grid > baseline_rate]
    if not len(grid):
        return None
    baseline = _binomial_pmf(n0, np.array([baseline_rate]))[0]
    powers = _binomial_pmf(n1, grid) @ (region @ baseline)
    reached = np.nonzero(powers >= target)[0]
    return float(grid[reached[0]]) if len(reached) else None


def smallest_p_value(n1: int, n0: int) -> float:
    """The smallest p-value Fisher's two-sided test can give with these group sizes."""
    if n1 < 1 or n0 < 1:
        return 1.0
    return min(fisher_exact([[n1, 0], [0, n0]]), fisher_exact([[0, n1], [n0, 0]]))
