"""Paced slots shared by every replica, so calls stay under a far side's rate limits before it
has to refuse them.

Each limit is a key ("posts in channel C1", "chat.update calls") with a pace: one call an
interval, after a burst of a few at once. A call takes a slot of each of its keys at once and
learns when it may go: now, or a reserved moment later (the dispatcher defers the row to it).
The pace is the generic cell rate algorithm: a key stores the moment by which every call it
has let through would have gone out one interval apart (`filled_until`); the next call may go
once that is at most a burst's worth of intervals ahead of now.

The keys are database rows, locked while a slot is taken, so every replica shares one pace:
nothing here is a process-local counter. A reserved slot is never given to another call, so
rows deferred to their slots go out in the order they reserved them, and a burst of 200 posts
into one channel is spread over 200 seconds rather than refused 170 times.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.clock import Clock
from app.outbox.models import PacedKey


@dataclass(frozen=True)
class Pace:
    """At most `burst` calls at once, then one every `interval`: never more than
    `burst + window / interval` calls in any window."""

    interval: timedelta
    burst: int = 1

    @property
    def tolerance(self) -> timedelta:
        """How far ahead of now a key may already be filled and still let a call through."""
        return self.interval * (self.burst - 1)


class Pacer:
    def __init__(self, session_factory: async_sessionmaker[AsyncSession], clock: Clock) -> None:
        self._session_factory = session_factory
        self._clock = clock

    def now(self) -> datetime:
        return self._clock.now()

    async def reserve(self, paces: Mapping[str, Pace]) -> datetime | None:
        """Take a slot of every key at once. None: go now. Otherwise the moment reserved for
        this call; it must wait until then, and then go without reserving again."""
        if not paces:
            return None
        now = self._clock.now()
        async with self._session_factory() as session, session.begin():
            keys = await _locked(session, paces, now)
            slot = max(max(now, key.filled_until - paces[key.key].tolerance) for key in keys)
            for key in keys:
                key.filled_until = max(key.filled_until, slot) + paces[key.key].interval
        return slot if slot > now else None

    async def hold(self, paces: Mapping[str, Pace], until: datetime) -> None:
        """The far side said to wait (a 429's Retry-After): no slot of these keys before
        `until`; slots already reserved past it stand."""
        if not paces:
            return
        now = self._clock.now()
        async with self._session_factory() as session, session.begin():
            for key in await _locked(session, paces, now):
                key.filled_until = max(key.filled_until, until + paces[key.key].tolerance)


async def _locked(
    session: AsyncSession, paces: Mapping[str, Pace], now: datetime
) -> list[PacedKey]:
    """The keys' rows, created free if new, locked in one order (no deadlock between replicas)."""
    keys = sorted(paces)
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    await session.execute(
        insert(PacedKey)
        .values([{"key": key, "filled_until": now} for key in keys])
        .on_conflict_do_nothing(index_elements=[PacedKey.key])
    )
    rows = await session.scalars(
        select(PacedKey).where(PacedKey.key.in_(keys)).order_by(PacedKey.key).with_for_update()
    )
    return list(rows.all())
