"""Recording Slack events as they arrive; a retried event is recognised by its `event_id`."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from app.inbox.models import SlackEvent

# Built once (building a statement costs more CPU than running it); run with its values.
_RECORD = {
    "postgresql": pg_insert(SlackEvent)
    .on_conflict_do_nothing(index_elements=[SlackEvent.event_id])
    .returning(SlackEvent.event_id),
    "sqlite": sqlite_insert(SlackEvent)
    .on_conflict_do_nothing(index_elements=[SlackEvent.event_id])
    .returning(SlackEvent.event_id),
}


async def record_event(
    *, session: AsyncSession, envelope: dict[str, Any], retry_num: int, now: datetime
) -> bool:
    """Store the envelope. Returns False if this `event_id` was stored before (a retry).

    Run it in the same transaction as the event's effect: a retry then either finds both or
    neither, so an event is never half-handled.
    """
    event = envelope.get("event") or {}
    values = {
        "event_id": str(envelope["event_id"]),
        "team_id": envelope.get("team_id"),
        "event_type": str(event.get("type", "unknown"))[:64],
        "event_subtype": (str(event["subtype"])[:64] if event.get("subtype") else None),
        "retry_num": retry_num,
        "payload": envelope,
        "received_at": now,
    }
    statement = _RECORD[session.get_bind().dialect.name]
    inserted = (await session.execute(statement, values)).scalar_one_or_none()
    return inserted is not None


async def prune_events(*, session: AsyncSession, now: datetime, keep: timedelta) -> int:
    """Forget events older than `keep`; Slack stops retrying an event within minutes."""
    # An UPDATE/DELETE without RETURNING gives a CursorResult; Session.execute is typed Result.
    result = cast(
        "CursorResult[Any]",
        await session.execute(delete(SlackEvent).where(SlackEvent.received_at < now - keep)),
    )
    return result.rowcount or 0
