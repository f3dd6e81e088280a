"""Durations kept as histograms, so that days add up and a year's median is read from them.

Buckets grow by 2% (bucket b holds [1.02^b, 1.02^(b+1)) seconds; under a second is bucket -1),
so a percentile read from the buckets is within 1% of the exact one, whatever the period:
365 days of a busy workspace are a few hundred buckets, not a million durations. Counts are
exact; only the median and the 90th percentile are read to that precision.
"""

from __future__ import annotations

import math
from collections import Counter
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


def histogram(seconds: Iterable[float]) -> Counter[int]:
    return Counter(bucket(max(value, 0.0)) for value in seconds)


def merge(histograms: Iterable[Mapping[int, int]]) -> Counter[int]:
    total: Counter[int] = Counter()
    for one in histograms:
        total.update(one)
    return total


def percentile(counts: Mapping[int, int], fraction: float) -> float | None:
    """As PostgreSQL's percentile_cont would give over the durations (linear between the two
    nearest ranks), each duration read as its place within its bucket: values in a bucket are
    taken as spread evenly over it."""
    total = sum(counts.values())
    if total == 0:
        return None
    position = fraction * (total - 1)
    return (_at_rank(counts, math.floor(position)) * (1 - (position % 1))) + (
        _at_rank(counts, math.ceil(position)) * (position % 1)
    )


def _at_rank(counts: Mapping[int, int], rank: int) -> float:
    seen = 0
    for index in sorted(counts):
        count = counts[index]
        if rank < seen + count:
            low, high = bounds(index)
            return low + (high - low) * ((rank - seen) + 0.5) / count
        seen += count
    low, high = bounds(max(counts))
    return high


def to_json(counts: Mapping[int, int]) -> dict[str, int]:
    return {str(index): count for index, count in counts.items() if count}


def from_json(data: Mapping[str, int]) -> Counter[int]:
    return Counter({int(index): int(count) for index, count in data.items()})
