"""Renders outbox render specs (`{"$render": {...}}`) from the database at send time."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.slack.blocks.ticket_card import TicketCard, ticket_card
from app.tickets.models import Ticket
from app.tickets.notifications import TRIAGE_CARD_VIEW

RENDER_KEY = "$render"


class Renderer:
    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self._session_factory = session_factory

    async def render(self, spec: dict[str, Any]) -> dict[str, Any] | None:
        """The message fields for a spec, or None if what it shows no longer exists."""
        if spec.get("view") == TRIAGE_CARD_VIEW:
            async with self._session_factory() as session:
                ticket = await session.get(Ticket, spec["ticket_id"])
                return ticket_card(TicketCard.of(ticket)) if ticket is not None else None
        return None
