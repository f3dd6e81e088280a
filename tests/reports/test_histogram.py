"""Percentiles read from 2% histograms stay within 1% of the exact ones (PostgreSQL's
percentile_cont over the same durations), for spreads support work produces."""

from __future__ import annotations

import random

import numpy as np
import pytest

from app.reports import histogram
from app.reports.metrics import percentile_cont


def counts(values: list[float]) -> histogram.Counts:
    # stored and read back, as a rollup row keeps them
    return histogram.decode(histogram.encode(histogram.of(values)))


@pytest.mark.parametrize("seed", range(5))
def test_percentiles_are_within_one_percent(seed):
    chance = random.Random(seed)
    values = [chance.lognormvariate(8, 1.5) for _ in range(chance.randint(50, 5000))]
    exact = sorted(values)

    median, p90 = histogram.percentiles(counts(values), (0.5, 0.9))

    assert median == pytest.approx(percentile_cont(exact, 0.5), rel=0.01)
    assert p90 == pytest.approx(percentile_cont(exact, 0.9), rel=0.01)


def test_merged_days_give_the_periods_percentiles():
    chance = random.Random(7)
    days = [[chance.expovariate(1 / 3600) for _ in range(300)] for _ in range(30)]
    total = histogram.empty()
    for day in days:
        total += counts(day)

    [median] = histogram.percentiles(total, (0.5,))

    every = sorted(v for day in days for v in day)
    assert median == pytest.approx(percentile_cont(every, 0.5), rel=0.01)


def test_edges():
    assert histogram.percentiles(histogram.empty(), (0.5,)) == [None]
    assert histogram.encode(histogram.empty()) == b""
    assert histogram.bucket(0.2) == histogram.UNDER_A_SECOND
    # a duration beyond the last bucket is counted in it, not lost
    assert histogram.of([1e300]).sum() == 1
    [only] = histogram.percentiles(counts([600.0]), (0.5,))
    assert only == pytest.approx(600.0, rel=0.01)


def test_the_percentiles_of_many_histograms_at_once_are_each_ones_own():
    chance = random.Random(11)
    days = [
        counts([chance.lognormvariate(7, 1.2) for _ in range(chance.randint(0, 400))])
        for _ in range(60)
    ]
    matrix = np.stack(days)

    together = histogram.percentiles_of_rows(matrix, (0.5, 0.9))

    for day, found in zip(days, together, strict=True):
        assert found == pytest.approx(histogram.percentiles(day, (0.5, 0.9)))
