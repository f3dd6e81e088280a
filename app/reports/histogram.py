"""Durations kept as histograms, so that days add up and a year's median is read from them.

Buckets grow by 2% (bucket b holds [1.02^b, 1.02^(b+1)) seconds; under a second is bucket -1),
so a percentile read from the buckets is within 1% of the exact one, whatever the period:
365 days of a busy workspace are a few hundred buckets, not a million durations. Counts are
exact; only the median and the 90th percentile are read to that precision.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

GROWTH = 1.02
_LOG_GROWTH = math.log(GROWTH)
UNDER_A_SECOND = -1


def bucket(seconds: float) -> int:
    if seconds < 1.0:
        return UNDER_A_SECOND
    return math.floor(math.log(seconds) / _LOG_GROWTH + 1e-9)


def bounds(index: int) -> tuple[float, float]:
    if index == UNDER_A_SECOND:
        return 0.0, 1.0
    return GROWTH**index, GROWTH ** (index + 1)


def percentiles(
    counts: Mapping[int, int] | Mapping[str, int], fractions: Iterable[float]
) -> list[float | None]:
    """As PostgreSQL's percentile_cont would give over the durations (linear between the two
    nearest ranks), each duration read as its place within its bucket: values in a bucket are
    taken as spread evenly over it. Keys may be the buckets or their JSON text."""
    ordered = sorted((int(index), count) for index, count in counts.items() if count)
    total = sum(count for _, count in ordered)
    if total == 0:
        return [None for _ in fractions]
    found: list[float | None] = []
    for fraction in fractions:
        position = fraction * (total - 1)
        low, high = math.floor(position), math.ceil(position)
        share = position - low
        found.append(_at_rank(ordered, low) * (1 - share) + _at_rank(ordered, high) * share)
    return found


def _at_rank(ordered: list[tuple[int, int]], rank: int) -> float:
    seen = 0
    for index, count in ordered:
        if rank < seen + count:
            low, high = bounds(index)
            return low + (high - low) * ((rank - seen) + 0.5) / count
        seen += count
    return bounds(ordered[-1][0])[1]


def to_json(counts: Mapping[int, int] | Mapping[str, int]) -> dict[str, int]:
    return {str(index): count for index, count in counts.items() if count}


def add(total: dict[str, int], more: Mapping[str, int]) -> None:
    """Add `more`'s counts into `total` (both keyed by the buckets' JSON text)."""
    for index, count in more.items():
        total[index] = total.get(index, 0) + count
