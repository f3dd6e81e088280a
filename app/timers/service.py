"""Scheduling and cancelling timers. Call inside the transaction of the change that causes them.

A timer's `key` names one occurrence of one piece of time-based work, e.g.
`sla:42:first_response:breach`. Scheduling is idempotent on the key:

- no timer with the key yet: one is created;
- an active one (not done, not cancelled): its due time and payload are replaced (a recomputed
  SLA target moves its alert; attempts start again from zero);
- a cancelled one: it is revived with the new due time and payload (a paused SLA clock resumes;
  a ticket resolved again re-arms its auto-close). Cancelling means the work did not happen, so
  asking for it again is a new request;
- a done one: left alone and returned as it is (check `done_at`), and no new timer is created.
  The work has happened: a Slack retry, a replayed command or a recomputation must never send a
  second breach alert. Work that recurs (the next-response target after every customer reply)
  puts the occurrence in the key (`sla:42:next_response:3:breach`).

A key belongs to one kind, workspace and ticket; scheduling it for another is a bug and raises.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, and_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from app.timers.models import Timer

# The sweeper's own notes in a timer's payload: when it was first due (retries push `due_at`),
# the last handler error, and why it was given up.
SWEEP_NOTES = "_sweep"


async def schedule_timer(
    *,
    session: AsyncSession,
    kind: str,
    key: str,
    workspace_id: int,
    due_at: datetime,
    now: datetime,
    ticket_id: int | None = None,
    payload: dict[str, Any] | None = None,
) -> Timer:
    """Have `kind`'s handler run at `due_at` (or at the first sweep after it), once per key.

    One statement (an upsert) in the common cases, and safe against a concurrent schedule of
    the same key: PostgreSQL makes the second wait for the first and then update its row.
    """
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = insert(Timer).values(
        kind=kind,
        key=key,
        workspace_id=workspace_id,
        ticket_id=ticket_id,
        due_at=due_at,
        payload=payload or {},
        attempts=0,
        created_at=now,
    )
    proposed = statement.excluded
    upsert = statement.on_conflict_do_update(
        index_elements=[Timer.key],
        set_={
            "due_at": proposed.due_at,
            "payload": proposed.payload,
            "attempts": 0,
            "claimed_at": None,
            "claimed_by": None,
            "cancelled_at": None,
        },
        where=and_(
            Timer.done_at.is_(None),
            Timer.kind == proposed.kind,
            Timer.workspace_id == proposed.workspace_id,
            Timer.ticket_id.is_not_distinct_from(proposed.ticket_id),
        ),
    ).returning(Timer)
    timer = await session.scalar(upsert, execution_options={"populate_existing": True})
    if timer is not None:
        return timer
    # The key is taken by a done timer, or by a timer of another kind, workspace or ticket.
    existing = await session.scalar(
        select(Timer).where(Timer.key == key).execution_options(populate_existing=True)
    )
    if existing is None:  # pragma: no cover - the upsert found a conflicting row a moment ago
        raise RuntimeError(f"timer {key!r} neither inserted nor found")
    if (existing.kind, existing.workspace_id, existing.ticket_id) != (
        kind,
        workspace_id,
        ticket_id,
    ):
        raise ValueError(
            f"timer key {key!r} is taken by a {existing.kind!r} timer of workspace "
            f"{existing.workspace_id}, ticket {existing.ticket_id}"
        )
    return existing


async def is_armed(*, session: AsyncSession, key: str) -> bool:
    """Whether a timer with `key` is still to run (neither done nor cancelled)."""
    found = await session.scalar(
        select(Timer.id).where(
            Timer.key == key, Timer.done_at.is_(None), Timer.cancelled_at.is_(None)
        )
    )
    return found is not None


async def cancel_timers(
    *,
    session: AsyncSession,
    now: datetime,
    key: str | None = None,
    ticket_id: int | None = None,
    kinds: Collection[str] | None = None,
) -> int:
    """Cancel the active timers with `key`, or of `ticket_id` (only `kinds`, if given).

    Returns how many were cancelled. Done timers are history and stay as they are. A timer
    being handled by a sweep right now is locked: this waits for it, and finds it done.
    """
    if key is None and ticket_id is None:
        raise ValueError("cancel_timers needs a key or a ticket_id")
    if isinstance(kinds, str):
        raise TypeError("kinds is a collection of kinds; wrap a single kind in a tuple")
    conditions: list[ColumnElement[bool]] = [Timer.done_at.is_(None), Timer.cancelled_at.is_(None)]
    if key is not None:
        conditions.append(Timer.key == key)
    if ticket_id is not None:
        conditions.append(Timer.ticket_id == ticket_id)
    if kinds is not None:
        if not kinds:
            return 0
        conditions.append(Timer.kind.in_(list(kinds)))
    # An UPDATE/DELETE without RETURNING gives a CursorResult; Session.execute is typed Result.
    result = cast(
        "CursorResult[Any]",
        await session.execute(update(Timer).where(*conditions).values(cancelled_at=now)),
    )
    return result.rowcount or 0


def first_due_at(timer: Timer) -> datetime:
    """When the timer was first due: retries after a failed handler push `due_at` later."""
    notes = (timer.payload or {}).get(SWEEP_NOTES) or {}
    first = notes.get("first_due_at")
    return datetime.fromisoformat(first) if first else timer.due_at
