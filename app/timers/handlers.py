"""What each kind of timer does when it falls due, registered by the domain that owns the kind.

A handler runs inside the sweep's transaction for its timer, after the timer's row is locked:
whatever it writes (outbox rows, a ticket's SLA state) commits together with the timer being
marked done, or not at all. It must not commit, and should not call anything slow: the timer's
row (and any row the handler touches) stays locked until it returns.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar, cast

from sqlalchemy import inspect, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import scoped_to_transaction
from app.timers.models import Timer

_Row = TypeVar("_Row")
# PostgreSQL's "lock_not_available", what FOR UPDATE NOWAIT raises when another transaction holds
# the row (https://www.postgresql.org/docs/current/errcodes-appendix.html).
LOCK_NOT_AVAILABLE = "55P03"
# Rows `lock_for_handlers` locked in this transaction, by (entity, primary key).
LOCKED_FOR_HANDLERS = scoped_to_transaction("ticketbot.locked_for_handlers")


class TimerBusy(Exception):
    """A row the handler needs is held by another transaction (a command on the same ticket,
    another replica's sweep): not a failure. The timer is left due and untouched, and the sweep
    moves on; the next sweep takes it. Raise it with `lock_for_handler`."""


async def lock_for_handler(session: AsyncSession, entity: type[_Row], ident: Any) -> _Row | None:
    """The row, locked for the timer's transaction (None if it no longer exists), or TimerBusy
    at once if someone holds it: waiting could deadlock with a command that holds the row and
    waits for the timer's (SQLite has one writer and never gets here busy). A row locked
    already by `lock_for_handlers` (for a group of timers) comes from the session at no cost."""
    locked = session.info.get(LOCKED_FOR_HANDLERS, {}).get((entity, ident))
    if locked is not None:
        return cast(_Row, locked)
    try:
        return await session.get(entity, ident, with_for_update={"nowait": True})
    except DBAPIError as exc:
        if getattr(exc.orig, "sqlstate", None) == LOCK_NOT_AVAILABLE:
            raise TimerBusy(f"{entity.__name__} {ident} is held by another transaction") from exc
        raise


async def lock_for_handlers(session: AsyncSession, entity: type[Any], idents: set[Any]) -> None:
    """Lock these rows in one statement for the handlers of a group of timers (a `prepare`
    hook), so each handler's `lock_for_handler` costs nothing. TimerBusy if any is held: the
    sweeper then takes the group's timers one at a time."""
    if not idents:
        return
    key = inspect(entity).primary_key[0]
    try:
        rows = await session.scalars(
            select(entity).where(key.in_(sorted(idents))).with_for_update(nowait=True)
        )
    except DBAPIError as exc:
        if getattr(exc.orig, "sqlstate", None) == LOCK_NOT_AVAILABLE:
            raise TimerBusy(f"one of {len(idents)} {entity.__name__} rows is held") from exc
        raise
    # Held here, not only in the session's identity map, which forgets unreferenced rows.
    locked = session.info.setdefault(LOCKED_FOR_HANDLERS, {})
    locked.update(((entity, getattr(row, key.key)), row) for row in rows)


TimerHandler = Callable[[AsyncSession, Timer, datetime, bool], Awaitable[None]]
"""(session, the timer, now, late) -> None

`late` is true when the timer is handled more than the sweeper's grace period after it was
first due (the process was down, or earlier attempts failed): say "(late)" in what is sent.
Raising rolls back everything the handler wrote; the timer is retried with backoff and given up
after the sweeper's attempt limit, except for TimerBusy, which only leaves it for the next sweep.
"""


TimerGroupPrepare = Callable[[AsyncSession, list[Timer]], Awaitable[None]]
"""(session, the group's timers of this kind) -> None, run once before their handlers when the
sweeper handles several timers in one transaction: load or lock in one statement what each
handler would fetch alone. It may raise TimerBusy."""


class TimerHandlers:
    def __init__(self) -> None:
        self._handlers: dict[str, TimerHandler] = {}
        self._prepare: dict[str, TimerGroupPrepare] = {}

    def register(
        self, kind: str, handler: TimerHandler, *, prepare: TimerGroupPrepare | None = None
    ) -> None:
        if kind in self._handlers:
            raise ValueError(f"timer handler for {kind!r} registered twice")
        self._handlers[kind] = handler
        if prepare is not None:
            self._prepare[kind] = prepare

    def get(self, kind: str) -> TimerHandler | None:
        return self._handlers.get(kind)

    def prepare_for(self, kind: str) -> TimerGroupPrepare | None:
        return self._prepare.get(kind)

    def __contains__(self, kind: object) -> bool:
        return kind in self._handlers

    @property
    def kinds(self) -> frozenset[str]:
        return frozenset(self._handlers)
