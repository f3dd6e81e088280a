"""Durations kept as histograms, so that days add up and a year's median is read from them.

Buckets grow by 2% (bucket b holds [1.02^b, 1.02^(b+1)) seconds; under a second is bucket -1),
so a percentile read from the buckets is within 1% of the exact one, whatever the period:
365 days of a busy workspace are a few hundred buckets, not a million durations. Counts are
exact; only the median and the 90th percentile are read to that precision.

In memory a histogram is a dense array of counts (`SIZE` buckets, bucket b at index b + 1), so
adding a month of days is one vector sum and a percentile one cumulative sum. Stored, it is its
non-empty buckets as (index, count) pairs packed little-endian (`encode`/`decode`): a report
over a year by account reads thousands of them, and a JSON object of text keys cost some 90 µs
each to turn back into numbers (measured at 1,000,000 tickets); the bytes cost a few.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

GROWTH = 1.02
_LOG_GROWTH = math.log(GROWTH)
UNDER_A_SECOND = -1
# Bucket -1 up to bucket 1200 (1.02^1200 s is some 600 years): longer is counted in the last.
SIZE = 1202

Counts = npt.NDArray[np.int64]
# Each array index's bucket bounds in seconds (index 0 is "under a second").
_LOWS = np.array([0.0] + [GROWTH**b for b in range(SIZE - 1)])
_HIGHS = np.array([1.0] + [GROWTH ** (b + 1) for b in range(SIZE - 1)])
_PAIR = np.dtype([("index", "<u2"), ("count", "<u4")])


def bucket(seconds: float) -> int:
    if seconds < 1.0:
        return UNDER_A_SECOND
    return min(math.floor(math.log(seconds) / _LOG_GROWTH + 1e-9), SIZE - 2)


def index_of(seconds: float) -> int:
    """Where a duration is counted in a histogram's array."""
    return bucket(max(seconds, 0.0)) + 1


def bounds(bucket_number: int) -> tuple[float, float]:
    if bucket_number == UNDER_A_SECOND:
        return 0.0, 1.0
    return GROWTH**bucket_number, GROWTH ** (bucket_number + 1)


def empty() -> Counts:
    return np.zeros(SIZE, dtype=np.int64)


def of(durations: Iterable[float]) -> Counts:
    """The histogram of these durations (seconds)."""
    return of_indexes([index_of(seconds) for seconds in durations])


def of_indexes(indexes: list[int]) -> Counts:
    """The histogram counting each of these array indexes (`index_of`) once per mention."""
    if not indexes:
        return empty()
    return np.bincount(np.asarray(indexes, dtype=np.intp), minlength=SIZE).astype(np.int64)


def encode(counts: Counts) -> bytes:
    (indexes,) = np.nonzero(counts)
    pairs = np.empty(len(indexes), dtype=_PAIR)
    pairs["index"] = indexes
    pairs["count"] = counts[indexes]
    return pairs.tobytes()


def decode(data: bytes) -> Counts:
    pairs = np.frombuffer(data, dtype=_PAIR)
    counts = empty()
    counts[pairs["index"]] = pairs["count"]
    return counts


def decode_all(chunks: list[bytes]) -> Counts:
    """The sum of these stored histograms, decoded at once."""
    pairs = np.frombuffer(b"".join(chunks), dtype=_PAIR)
    summed = np.bincount(pairs["index"], weights=pairs["count"], minlength=SIZE)
    return summed.astype(np.int64)  # float64 counts are exact far beyond any day's tickets


def percentiles_of_rows(
    rows: npt.NDArray[np.int64], fractions: Iterable[float]
) -> list[list[float | None]]:
    """`percentiles` of each row of a matrix of histograms (a day's each, a year of days) in
    a few array operations rather than one Python walk a row."""
    wanted = list(fractions)
    if len(rows) == 0:
        return []
    cumulative = np.cumsum(rows, axis=1)
    totals = cumulative[:, -1]
    # Each row's running totals lifted above the row before's, so that one sorted search of
    # the whole matrix finds, in each row, the bucket holding a rank of that row.
    numbers = np.arange(len(rows))
    lift = numbers * (int(totals.max()) + 1)
    lifted = (cumulative + lift[:, None]).ravel()

    def at(rank: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        found = np.searchsorted(lifted, rank + lift, side="right") - numbers * SIZE
        index = np.minimum(found, SIZE - 1)
        count = np.maximum(rows[numbers, index], 1)
        seen = cumulative[numbers, index] - count
        low, high = _LOWS[index], _HIGHS[index]
        return low + (high - low) * ((rank - seen) + 0.5) / count

    values = []
    for fraction in wanted:
        position = fraction * np.maximum(totals - 1, 0)
        low_rank, high_rank = np.floor(position), np.ceil(position)
        share = position - low_rank
        values.append(at(low_rank) * (1 - share) + at(high_rank) * share)
    return [
        [float(column[n]) for column in values] if totals[n] else [None for _ in wanted]
        for n in range(len(rows))
    ]


def percentiles(counts: Counts, fractions: Iterable[float]) -> list[float | None]:
    """As PostgreSQL's percentile_cont would give over the durations (linear between the two
    nearest ranks), each duration read as its place within its bucket: values in a bucket are
    taken as spread evenly over it."""
    wanted = list(fractions)
    cumulative = np.cumsum(counts)
    total = int(cumulative[-1])
    if total == 0:
        return [None for _ in wanted]

    def value(rank: int) -> float:
        # the bucket holding the rank-th duration (0-based): the first whose running total
        # passes it
        index = int(np.searchsorted(cumulative, rank, side="right"))
        count = int(counts[index])
        seen = int(cumulative[index]) - count
        low, high = bounds(index - 1)
        return low + (high - low) * ((rank - seen) + 0.5) / count

    found: list[float | None] = []
    for fraction in wanted:
        position = fraction * (total - 1)
        low_rank, high_rank = math.floor(position), math.ceil(position)
        share = position - low_rank
        found.append(value(low_rank) * (1 - share) + value(high_rank) * share)
    return found
