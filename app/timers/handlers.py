"""What each kind of timer does when it falls due, registered by the domain that owns the kind.

A handler runs inside the sweep's transaction for its timer, after the timer's row is locked:
whatever it writes (outbox rows, a ticket's SLA state) commits together with the timer being
marked done, or not at all. It must not commit, and should not call anything slow: the timer's
row (and any row the handler touches) stays locked until it returns.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.timers.models import Timer

TimerHandler = Callable[[AsyncSession, Timer, datetime, bool], Awaitable[None]]
"""(session, the timer, now, late) -> None

`late` is true when the timer is handled more than the sweeper's grace period after it was
first due (the process was down, or earlier attempts failed): say "(late)" in what is sent.
Raising rolls back everything the handler wrote; the timer is retried with backoff and given up
after the sweeper's attempt limit.
"""


class TimerHandlers:
    def __init__(self) -> None:
        self._handlers: dict[str, TimerHandler] = {}

    def register(self, kind: str, handler: TimerHandler) -> None:
        if kind in self._handlers:
            raise ValueError(f"timer handler for {kind!r} registered twice")
        self._handlers[kind] = handler

    def get(self, kind: str) -> TimerHandler | None:
        return self._handlers.get(kind)

    def __contains__(self, kind: object) -> bool:
        return kind in self._handlers

    @property
    def kinds(self) -> frozenset[str]:
        return frozenset(self._handlers)
