"""Keeping the outbox small: delivered rows are history, and history has a retention period."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import delete, select
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from app.outbox.enums import OutboxStatus
from app.outbox.models import OutboxMessage


async def prune_delivered(*, session: AsyncSession, now: datetime, keep: timedelta) -> int:
    """Delete delivered rows older than `keep` that no pending row still depends on."""
    still_needed = select(OutboxMessage.depends_on_id).where(
        OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.depends_on_id.is_not(None)
    )
    # An UPDATE/DELETE without RETURNING gives a CursorResult; Session.execute is typed Result.
    result = await session.execute(
        delete(OutboxMessage).where(
            OutboxMessage.status == OutboxStatus.DELIVERED,
            OutboxMessage.delivered_at < now - keep,
            OutboxMessage.id.not_in(still_needed),
        )
    )
    return cast("CursorResult[Any]", result).rowcount or 0
