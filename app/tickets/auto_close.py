"""Auto-close: a resolved ticket nobody writes on again is closed after a few days.

The close is a timer armed when the ticket is resolved and cancelled if it reopens, so it
happens once, on any replica, even if ticketbot was down when it fell due.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.tickets.actors import Actor
from app.tickets.enums import TicketStatus
from app.tickets.models import Ticket
from app.tickets.notifications import refresh_triage_card
from app.timers.handlers import TimerHandlers, lock_for_handler
from app.timers.models import Timer
from app.timers.service import cancel_timers, schedule_timer

AUTO_CLOSE = "ticket.auto_close"
DEFAULT_AUTO_CLOSE_AFTER = timedelta(days=3)


def _key(ticket: Ticket) -> str:
    return f"auto_close:{ticket.id}"


async def arm_auto_close(
    *, session: AsyncSession, ticket: Ticket, now: datetime, after: timedelta | None = None
) -> None:
    await schedule_timer(
        session=session,
        kind=AUTO_CLOSE,
        key=_key(ticket),
        workspace_id=ticket.workspace_id,
        ticket_id=ticket.id,
        due_at=now + (after or DEFAULT_AUTO_CLOSE_AFTER),
        now=now,
    )


async def disarm_auto_close(*, session: AsyncSession, ticket: Ticket, now: datetime) -> None:
    await cancel_timers(session=session, now=now, key=_key(ticket))


async def on_auto_close(session: AsyncSession, timer: Timer, now: datetime, late: bool) -> None:
    from app.tickets.service import record_ticket_event

    ticket = await lock_for_handler(session, Ticket, timer.ticket_id) if timer.ticket_id else None
    if ticket is None or ticket.status is not TicketStatus.RESOLVED:
        return
    ticket.status = TicketStatus.CLOSED
    ticket.closed_at = now
    ticket.updated_at = now
    await record_ticket_event(
        session=session,
        ticket=ticket,
        kind="closed",
        actor=Actor.system(),
        now=now,
        previous=TicketStatus.RESOLVED.value,
        status=TicketStatus.CLOSED.value,
        reason="no reply since it was resolved",
    )
    await refresh_triage_card(session=session, ticket=ticket, now=now)


def register_auto_close_handler(handlers: TimerHandlers) -> None:
    handlers.register(AUTO_CLOSE, on_auto_close)
