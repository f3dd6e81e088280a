"""Ticket volume for a period: how many were opened and how many resolved."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.tickets.enums import TicketStatus
from app.tickets.models import Ticket


@dataclass(frozen=True)
class Volume:
    opened: int
    resolved: int


async def ticket_volume(
    *, session: AsyncSession, workspace_id: int, start: datetime, end: datetime
) -> Volume:
    """Tickets opened in [start, end) and tickets resolved in it; "not a request" is left out."""
    counted = (Ticket.workspace_id == workspace_id, Ticket.status != TicketStatus.DISCARDED)
    opened = await session.scalar(
        select(func.count()).where(*counted, Ticket.created_at >= start, Ticket.created_at < end)
    )
    resolved = await session.scalar(
        select(func.count()).where(*counted, Ticket.resolved_at >= start, Ticket.resolved_at < end)
    )
    return Volume(opened=opened or 0, resolved=resolved or 0)
