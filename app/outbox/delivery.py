"""What a sender reports about one delivery attempt, and the backoff between attempts."""

from __future__ import annotations

import email.utils
import random
from collections.abc import Hashable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

BACKOFF_BASE_SECONDS = 1.0
BACKOFF_CAP_SECONDS = 600.0


class Verdict(StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"  # the far side may accept it later: 429, 5xx, timeout, connection error
    REJECTED = "rejected"  # retrying cannot help: bad channel, revoked token, malformed payload
    CANCELLED = "cancelled"  # no longer owed: e.g. the webhook subscription was deleted
    # Not sent, not an attempt: its rate limit's pace reserved it a later slot (`not_before`).
    DEFERRED = "deferred"


@dataclass(frozen=True)
class DeliveryOutcome:
    verdict: Verdict
    result: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    status_code: int | None = None
    retry_after_seconds: float | None = None
    # A retry whose attempt may have reached the far side (a timeout, a dropped connection).
    unknown: bool = False
    not_before: datetime | None = None

    @classmethod
    def delivered(cls, result: dict[str, Any], status_code: int | None = 200) -> DeliveryOutcome:
        return cls(Verdict.DELIVERED, result=result, status_code=status_code)

    @classmethod
    def retry(
        cls,
        error: str,
        *,
        status_code: int | None = None,
        retry_after: float | None = None,
        unknown: bool = False,
    ) -> DeliveryOutcome:
        return cls(
            Verdict.RETRY,
            error=error,
            status_code=status_code,
            retry_after_seconds=retry_after,
            unknown=unknown,
        )

    @classmethod
    def rejected(cls, error: str, *, status_code: int | None = None) -> DeliveryOutcome:
        return cls(Verdict.REJECTED, error=error, status_code=status_code)

    @classmethod
    def cancelled(cls, reason: str) -> DeliveryOutcome:
        return cls(Verdict.CANCELLED, error=reason)

    @classmethod
    def deferred(cls, slot: datetime) -> DeliveryOutcome:
        """Held back, unsent, until the paced slot reserved for it (app/outbox/pacing.py)."""
        return cls(Verdict.DEFERRED, not_before=slot)


@dataclass(frozen=True)
class Attempt:
    """Which row is being sent, and since when an earlier attempt may have reached the far
    side (None: none did), so a sender can look before sending twice."""

    outbox_id: int
    maybe_sent_since: datetime | None = None
    # The paced slot this row was deferred to and now holds: it goes without reserving again.
    paced_slot_at: datetime | None = None
    # What the sender's `prepare` loaded for this row together with the rest of its claim (see
    # `Preparing`); None if it loaded nothing for it.
    prepared: Any = None
    # The workspace the row is for (a sender of several workspaces picks its token by it).
    workspace_id: int | None = None


class Sender(Protocol):
    """Delivers one kind of outbox row. Never raises: every failure is an outcome."""

    async def send(
        self, target: str, payload: dict[str, Any], attempt: Attempt
    ) -> DeliveryOutcome: ...


@runtime_checkable
class Ordered(Protocol):
    """A sender some of whose rows must reach the far side in the order they were written
    (the posts of one conversation): rows with the same key are sent one after another."""

    def order_key(self, target: str, payload: dict[str, Any]) -> Hashable | None: ...


@runtime_checkable
class Preparing(Protocol):
    """A sender that loads at once what the rows of a claim need before they are sent (e.g.
    the tickets their messages render), rather than each row on its own."""

    async def prepare(self, rows: list[tuple[int, str, dict[str, Any]]]) -> dict[int, Any]:
        """(outbox id, target, payload) of each row -> what `send` finds in its
        `Attempt.prepared`; rows it has nothing for are left out."""
        ...


def retry_delay(
    attempts: int,
    retry_after_seconds: float | None,
    *,
    rng: random.Random | None = None,
    cap_seconds: float = BACKOFF_CAP_SECONDS,
) -> timedelta:
    """How long to wait before the next attempt, after `attempts` failed ones.

    A `Retry-After` from the far side is honoured as given (it is the one number that is
    certain to be right). Otherwise exponential backoff with jitter, so many rows that failed
    together do not all come back at once.
    """
    if retry_after_seconds is not None and retry_after_seconds >= 0:
        return timedelta(seconds=retry_after_seconds)
    ceiling = min(cap_seconds, BACKOFF_BASE_SECONDS * 2 ** max(attempts - 1, 0))
    jitter = (rng or random).uniform(0.75, 1.0)
    return timedelta(seconds=ceiling * jitter)


@dataclass(frozen=True)
class RetryPolicy:
    """How one kind of row is retried: how often at most, how far apart, and for how long.

    Slack calls give up after a number of attempts (about two hours of backoff); webhook
    receivers are owed a day of retries, an hour apart at most, so they get a time limit too.
    """

    max_attempts: int
    backoff_cap_seconds: float = BACKOFF_CAP_SECONDS
    # Counted from the row's creation; no attempt is planned past it, and the last one falls on it.
    give_up_after: timedelta | None = None

    def exhausted(self, *, attempts: int, created_at: datetime | None, now: datetime) -> bool:
        if attempts >= self.max_attempts:
            return True
        deadline = self._deadline(created_at)
        return deadline is not None and now >= deadline

    def next_attempt_at(
        self,
        *,
        attempts: int,
        retry_after_seconds: float | None,
        created_at: datetime | None,
        now: datetime,
    ) -> datetime:
        delay = retry_delay(attempts, retry_after_seconds, cap_seconds=self.backoff_cap_seconds)
        deadline = self._deadline(created_at)
        return now + delay if deadline is None else min(now + delay, deadline)

    def _deadline(self, created_at: datetime | None) -> datetime | None:
        if self.give_up_after is None or created_at is None:
            return None
        return created_at + self.give_up_after


def retry_after_seconds(raw: str | None, now: datetime) -> float | None:
    """RFC 9110 `Retry-After`: delay seconds, or an HTTP date; None if absent or unreadable."""
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        return max(float(raw), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max((when - now).total_seconds(), 0.0)
