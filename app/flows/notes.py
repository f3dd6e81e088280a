"""An internal note on a ticket, from Slack, the API or the dashboard: stored (and posted under
its triage card by the tickets domain) and owed to a connected helpdesk as a private comment."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.flows.syncs import message_added
from app.tickets.actors import Actor
from app.tickets.models import Ticket, TicketMessage
from app.tickets.notes import add_note


async def add_internal_note(
    *, session: AsyncSession, ticket: Ticket, text: str, actor: Actor, now: datetime
) -> TicketMessage:
    message = await add_note(session=session, ticket=ticket, text=text, actor=actor, now=now)
    await message_added(session=session, ticket=ticket, message=message, now=now)
    return message
