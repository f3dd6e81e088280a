"""A ticket's audit trail. One function writes it; every change of a ticket calls it in the
change's own transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.tickets.actors import Actor
from app.tickets.models import Ticket, TicketEvent


def record_ticket_event(
    *,
    session: AsyncSession,
    ticket: Ticket | int,
    kind: str,
    actor: Actor,
    now: datetime,
    **data: Any,
) -> None:
    """Add one entry (`kind`, who, when, `data`) to the trail of `ticket` (or of its id)."""
    session.add(
        TicketEvent(
            ticket_id=ticket if isinstance(ticket, int) else ticket.id,
            kind=kind,
            actor_kind=actor.kind,
            actor_id=actor.id,
            data=data,
            created_at=now,
        )
    )
