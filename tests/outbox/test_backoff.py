"""Backoff between delivery attempts (pure)."""

from __future__ import annotations

import random
from datetime import timedelta

from app.outbox.delivery import BACKOFF_CAP_SECONDS, retry_delay
from app.outbox.dispatcher import DispatcherSettings


def test_retry_after_is_honoured_exactly():
    assert retry_delay(5, 30) == timedelta(seconds=30)
    assert retry_delay(1, 0) == timedelta(0)


def test_backoff_doubles_with_jitter_and_is_capped():
    rng = random.Random(7)
    for attempts in range(1, 40):
        ceiling = min(BACKOFF_CAP_SECONDS, 2 ** (attempts - 1))
        delay = retry_delay(attempts, None, rng=rng).total_seconds()
        assert 0.75 * ceiling <= delay <= ceiling


def test_default_attempts_outlast_a_long_outage():
    """The default attempts keep a message alive through more than 1.8 hours of outage."""
    low = random.Random()
    low.uniform = lambda a, b: a  # type: ignore[method-assign]
    attempts = DispatcherSettings().max_attempts
    total = sum(retry_delay(n, None, rng=low).total_seconds() for n in range(1, attempts))
    assert total > 1.8 * 3600
