"""What a sender reports about one delivery attempt, and the backoff between attempts."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import Any, Protocol

BACKOFF_BASE_SECONDS = 1.0
BACKOFF_CAP_SECONDS = 600.0


class Verdict(StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"  # the far side may accept it later: 429, 5xx, timeout, connection error
    REJECTED = "rejected"  # retrying cannot help: bad channel, revoked token, malformed payload


@dataclass(frozen=True)
class DeliveryOutcome:
    verdict: Verdict
    result: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    status_code: int | None = None
    retry_after_seconds: float | None = None

    @classmethod
    def delivered(cls, result: dict[str, Any], status_code: int | None = 200) -> DeliveryOutcome:
        return cls(Verdict.DELIVERED, result=result, status_code=status_code)

    @classmethod
    def retry(
        cls, error: str, *, status_code: int | None = None, retry_after: float | None = None
    ) -> DeliveryOutcome:
        return cls(
            Verdict.RETRY, error=error, status_code=status_code, retry_after_seconds=retry_after
        )

    @classmethod
    def rejected(cls, error: str, *, status_code: int | None = None) -> DeliveryOutcome:
        return cls(Verdict.REJECTED, error=error, status_code=status_code)


class Sender(Protocol):
    """Delivers one kind of outbox row. Never raises: every failure is an outcome."""

    async def send(self, target: str, payload: dict[str, Any]) -> DeliveryOutcome: ...


def retry_delay(
    attempts: int, retry_after_seconds: float | None, *, rng: random.Random | None = None
) -> timedelta:
    """How long to wait before the next attempt, after `attempts` failed ones.

    A `Retry-After` from the far side is honoured as given (it is the one number that is
    certain to be right). Otherwise exponential backoff with jitter, so many rows that failed
    together do not all come back at once.
    """
    if retry_after_seconds is not None and retry_after_seconds >= 0:
        return timedelta(seconds=retry_after_seconds)
    ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** max(attempts - 1, 0))
    jitter = (rng or random).uniform(0.75, 1.0)
    return timedelta(seconds=ceiling * jitter)
