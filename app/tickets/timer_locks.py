"""Locking the tickets of a group of timers at once, for handlers that work on tickets."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from app.tickets.models import Ticket
from app.tickets.notifications import prefetch_card_updates
from app.timers.handlers import lock_for_handlers
from app.timers.models import Timer


async def lock_tickets(session: AsyncSession, timers: list[Timer]) -> None:
    """The group's tickets, locked in one statement (a `TimerGroupPrepare` hook): each
    handler's `lock_for_handler(session, Ticket, ...)` then finds its ticket held already."""
    await lock_for_handlers(session, Ticket, {t.ticket_id for t in timers if t.ticket_id})


async def lock_tickets_and_their_cards(session: AsyncSession, timers: list[Timer]) -> None:
    """`lock_tickets`, and the tickets' waiting card updates looked up at once, for handlers
    that redraw the card of each ticket."""
    await lock_tickets(session, timers)
    await prefetch_card_updates(
        session=session, ticket_ids={t.ticket_id for t in timers if t.ticket_id}
    )
