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
    ordered = sorted((_index(key), count) for key, count in counts.items() if count)
    total = sum(count for _, count in ordered)
    wanted = list(fractions)
    if total == 0:
        return [None for _ in wanted]
    positions = [fraction * (total - 1) for fraction in wanted]
    ranks = sorted({r for p in positions for r in (math.floor(p), math.ceil(p))})
    value: dict[int, float] = {}
    seen, next_rank = 0, 0
    for index, count in ordered:  # one walk for every rank asked for
        while next_rank < len(ranks) and ranks[next_rank] < seen + count:
            low, high = bounds(index)
            rank = ranks[next_rank]
            value[rank] = low + (high - low) * ((rank - seen) + 0.5) / count
            next_rank += 1
        seen += count
    found: list[float | None] = []
    for position in positions:
        low_rank, high_rank = math.floor(position), math.ceil(position)
        share = position - low_rank
        found.append(value[low_rank] * (1 - share) + value[high_rank] * share)
    return found


def _index(key: int | str) -> int:
    if isinstance(key, int):
        return key
    found = _INDEXES.get(key)
    if found is None:
        found = _INDEXES[key] = int(key)
    return found


_INDEXES: dict[str, int] = {}


def to_json(counts: Mapping[int, int] | Mapping[str, int]) -> dict[str, int]:
    return {str(index): count for index, count in counts.items() if count}


def add(total: dict[str, int], more: Mapping[str, int]) -> None:
    """Add `more`'s counts into `total` (both keyed by the buckets' JSON text)."""
    for index, count in more.items():
        total[index] = total.get(index, 0) + count
