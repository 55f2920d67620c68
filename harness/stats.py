"""Deciding a wall-clock regression: a significance test plus a minimum effect size.

The rule is asv's: a candidate is slower than its baseline only when the two samples differ
significantly (a one-sided Mann-Whitney U test, exact, so it needs no normality and no
approximation for the small samples a gate can afford) *and* the ratio of their medians exceeds
a factor. Significance alone would fail a release for a real but harmless 2 % difference;
a factor alone would fail it for one unlucky sample.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

__all__ = ["Comparison", "compare", "mann_whitney_greater"]


@lru_cache(maxsize=256)
def _u_counts(m: int, n: int) -> tuple[int, ...]:
    """How many of the C(m+n, m) orderings of two untied samples give each U = 0 .. m*n.

    The recurrence counts orderings by where the largest value comes from: the candidate
    side adds the m baseline values below it to U, the baseline side adds nothing.
    """
    if m == 0 or n == 0:
        return (1,)
    counts = [0] * (m * n + 1)
    for u, ways in enumerate(_u_counts(m, n - 1)):  # largest from the candidate side
        counts[u + m] += ways
    for u, ways in enumerate(_u_counts(m - 1, n)):  # largest from the baseline side
        counts[u] += ways
    return tuple(counts)


def mann_whitney_greater(baseline: Sequence[float], candidate: Sequence[float]) -> float:
    """Exact one-sided p-value that `candidate` tends to be larger than `baseline`.

    U counts the pairs in which the candidate value is the larger (a tie counts one half);
    the p-value is the share of all orderings with a U at least as large. Ties are rare in
    timings; with them the exact no-tie distribution is a close, slightly conservative stand-in.
    """
    m, n = len(baseline), len(candidate)
    if m == 0 or n == 0:
        raise ValueError("both samples need at least one value")
    u = sum(1.0 if c > b else 0.5 if c == b else 0.0 for b in baseline for c in candidate)
    counts = _u_counts(m, n)
    at_least = sum(ways for value, ways in enumerate(counts) if value >= u - 1e-9)
    return at_least / sum(counts)


@dataclass(frozen=True)
class Comparison:
    """Two timing samples and the verdict on them: slower by more than `factor`, significantly."""

    baseline: tuple[float, ...]
    candidate: tuple[float, ...]
    factor: float
    alpha: float
    ratio: float
    p_value: float

    @property
    def slower(self) -> bool:
        return self.ratio > self.factor and self.p_value < self.alpha

    @property
    def baseline_median(self) -> float:
        return statistics.median(self.baseline)

    @property
    def candidate_median(self) -> float:
        return statistics.median(self.candidate)

    def describe(self, baseline_name: str, candidate_name: str) -> str:
        return (
            f"{candidate_name}/{baseline_name} {self.ratio:.3f} (limit {self.factor:.2f}; "
            f"p = {self.p_value:.2g}, alpha {self.alpha:g}; {baseline_name} "
            f"{self.baseline_median * 1000:.1f} ms, {candidate_name} "
            f"{self.candidate_median * 1000:.1f} ms, {len(self.candidate)} samples)"
        )


def compare(
    baseline: Sequence[float], candidate: Sequence[float], *, factor: float, alpha: float
) -> Comparison:
    """Compare two samples of the same work's wall time (seconds)."""
    base_median = statistics.median(baseline)
    cand_median = statistics.median(candidate)
    if base_median > 0:
        ratio = cand_median / base_median
    else:
        ratio = 1.0 if cand_median == 0 else float("inf")
    return Comparison(
        tuple(baseline),
        tuple(candidate),
        factor,
        alpha,
        ratio,
        mann_whitney_greater(baseline, candidate),
    )
