"""A ticket's life: `new → open → waiting_on_customer ⇄ open → resolved → closed` (or
discarded). `transition` is the one writer of a ticket's status: it writes the audit entry,
redraws the card and Home tabs, and tells webhook subscribers. The steps around it (SLA clocks,
the CSAT survey, auto-close) are here too, each in the caller's transaction.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.csat.surveys import cancel_scheduled_survey, schedule_survey
from app.errors import InvalidTransition, NotAllowed
from app.flows.syncs import ticket_changed
from app.flows.views import refresh_ticket_views
from app.sla import tracking as sla
from app.tickets.actors import Actor
from app.tickets.audit import record_ticket_event
from app.tickets.enums import OPEN_STATUSES, WAITING_STATUSES, TicketStatus
from app.tickets.models import Ticket
from app.tickets.rules import require_active, require_triage
from app.tickets.timer_locks import lock_tickets_and_their_cards
from app.timers.handlers import TimerHandlers, lock_for_handler
from app.timers.models import Timer
from app.timers.service import cancel_timers, schedule_timer
from app.webhooks.enums import WebhookEventType
from app.webhooks.events import emit_ticket_event

# The webhook event a status change is, by its audit entry's kind (any other: ticket.updated).
_STATUS_EVENTS = {
    "resolved": WebhookEventType.TICKET_RESOLVED,
    "reopened": WebhookEventType.TICKET_REOPENED,
}
AUTO_CLOSE = "ticket.auto_close"
DEFAULT_AUTO_CLOSE_AFTER = timedelta(days=3)


async def transition(
    *,
    session: AsyncSession,
    ticket: Ticket,
    status: TicketStatus,
    actor: Actor,
    now: datetime,
    kind: str = "status_changed",
    reason: str | None = None,
) -> None:
    """Move the ticket to `status`: the audit entry (`kind`), the card and Home tabs, and the
    webhook event. The only place a ticket's status is written."""
    previous = ticket.status
    ticket.status = status
    ticket.updated_at = now
    if status is TicketStatus.CLOSED:
        ticket.closed_at = now
    record_ticket_event(
        session=session,
        ticket=ticket,
        kind=kind,
        actor=actor,
        now=now,
        previous=previous.value,
        status=status.value,
        **({"reason": reason} if reason else {}),
    )
    await refresh_ticket_views(session=session, ticket=ticket, now=now)
    await emit_ticket_event(
        session=session,
        ticket=ticket,
        event_type=_STATUS_EVENTS.get(kind, WebhookEventType.TICKET_UPDATED),
        now=now,
        changes={"status": {"previous": previous.value, "current": status.value}},
    )
    await ticket_changed(session=session, ticket=ticket, now=now)


async def resolve(*, session: AsyncSession, ticket: Ticket, actor: Actor, now: datetime) -> Ticket:
    require_triage(actor)
    if ticket.status is TicketStatus.RESOLVED:
        return ticket
    require_active(ticket, "resolve")
    ticket.resolved_at = now
    await sla.stop_all(session=session, ticket=ticket, now=now, reason="resolved")
    await arm_auto_close(session=session, ticket=ticket, now=now)
    await transition(
        session=session,
        ticket=ticket,
        status=TicketStatus.RESOLVED,
        actor=actor,
        now=now,
        kind="resolved",
    )
    await schedule_survey(session=session, ticket=ticket, now=now)
    return ticket


async def reopen(*, session: AsyncSession, ticket: Ticket, actor: Actor, now: datetime) -> Ticket:
    """Open a resolved or closed ticket again: its resolution clock starts over."""
    require_triage(actor)
    if ticket.status in OPEN_STATUSES:
        return ticket
    if ticket.status is TicketStatus.DISCARDED:
        raise InvalidTransition(
            f"{ticket.display_number} was marked as not a request; it cannot be reopened."
        )
    await _reopen(session=session, ticket=ticket, actor=actor, now=now)
    return ticket


async def _reopen(*, session: AsyncSession, ticket: Ticket, actor: Actor, now: datetime) -> None:
    ticket.resolved_at = None
    ticket.closed_at = None
    await sla.restart_resolution(session=session, ticket=ticket, now=now)
    await disarm_auto_close(session=session, ticket=ticket, now=now)
    await cancel_scheduled_survey(session=session, ticket=ticket, now=now)
    await transition(
        session=session,
        ticket=ticket,
        status=TicketStatus.OPEN,
        actor=actor,
        now=now,
        kind="reopened",
    )


async def close(*, session: AsyncSession, ticket: Ticket, actor: Actor, now: datetime) -> Ticket:
    """Close a ticket for good (a resolved one would otherwise close itself after a few days)."""
    if not actor.is_lead:
        raise NotAllowed("Sorry, only support leads can close tickets.")
    if ticket.status is TicketStatus.CLOSED:
        return ticket
    if ticket.status is TicketStatus.DISCARDED:
        raise InvalidTransition(f"{ticket.display_number} was marked as not a request.")
    if ticket.status in OPEN_STATUSES:
        await sla.stop_all(session=session, ticket=ticket, now=now, reason="closed")
        ticket.resolved_at = ticket.resolved_at or now
    await disarm_auto_close(session=session, ticket=ticket, now=now)
    await transition(
        session=session,
        ticket=ticket,
        status=TicketStatus.CLOSED,
        actor=actor,
        now=now,
        kind="closed",
    )
    return ticket


async def wait_on_customer(
    *, session: AsyncSession, ticket: Ticket, actor: Actor, now: datetime
) -> Ticket:
    """The team asked the customer something: the resolution clock pauses until they answer."""
    return await _wait(session, ticket, actor, now, TicketStatus.WAITING_ON_CUSTOMER)


async def wait_on_engineering(
    *, session: AsyncSession, ticket: Ticket, actor: Actor, now: datetime
) -> Ticket:
    """Escalated to engineering: the resolution clock pauses until their issue is done (or the
    team takes the ticket back)."""
    return await _wait(session, ticket, actor, now, TicketStatus.WAITING_ON_ENGINEERING)


async def _wait(
    session: AsyncSession, ticket: Ticket, actor: Actor, now: datetime, status: TicketStatus
) -> Ticket:
    require_triage(actor)
    if ticket.status is status:
        return ticket
    waiting = status.value.replace("_", " ")
    require_active(ticket, f"set {waiting} for")
    await sla.pause_resolution(session=session, ticket=ticket, now=now, reason=waiting)
    await transition(session=session, ticket=ticket, status=status, actor=actor, now=now)
    return ticket


async def engineering_done(
    *, session: AsyncSession, ticket: Ticket, reason: str, now: datetime
) -> bool:
    """The engineering issue is done: a ticket waiting on it is open again, its resolution
    clock running on. False if it was not waiting on engineering (left as it is)."""
    if ticket.status is not TicketStatus.WAITING_ON_ENGINEERING:
        return False
    await sla.resume_resolution(session=session, ticket=ticket, now=now, reason=reason)
    await transition(
        session=session, ticket=ticket, status=TicketStatus.OPEN, actor=Actor.system(), now=now
    )
    return True


async def resume(*, session: AsyncSession, ticket: Ticket, actor: Actor, now: datetime) -> Ticket:
    """Back with the team: a ticket waiting on the customer or on engineering is open again and
    its resolution clock runs on (as when the customer replies); a new ticket is marked open."""
    require_triage(actor)
    if ticket.status is TicketStatus.OPEN:
        return ticket
    require_active(ticket, "resume")
    if ticket.status in WAITING_STATUSES:
        await sla.resume_resolution(
            session=session, ticket=ticket, now=now, reason="back with the team"
        )
    await transition(session=session, ticket=ticket, status=TicketStatus.OPEN, actor=actor, now=now)
    return ticket


async def discard(*, session: AsyncSession, ticket: Ticket, actor: Actor, now: datetime) -> Ticket:
    """Not a request: the ticket leaves every list and number, but stays in the audit trail."""
    require_triage(actor)
    if ticket.status is TicketStatus.DISCARDED:
        return ticket
    await sla.stop_all(session=session, ticket=ticket, now=now, reason="not a request")
    await cancel_scheduled_survey(session=session, ticket=ticket, now=now)
    await transition(
        session=session,
        ticket=ticket,
        status=TicketStatus.DISCARDED,
        actor=actor,
        now=now,
        kind="discarded",
    )
    return ticket


# -- what the conversation moves -----------------------------------------------------------------


async def record_agent_reply(
    *, session: AsyncSession, ticket: Ticket, agent_user_id: str, now: datetime
) -> None:
    """An agent answered in the thread: the first answer stops the first-response clock."""
    await sla.target_met(
        session=session, ticket=ticket, target=sla.NEXT_RESPONSE, now=now, reason="agent replied"
    )
    if ticket.first_response_at is None:
        ticket.first_response_at = now
        await sla.target_met(
            session=session,
            ticket=ticket,
            target=sla.FIRST_RESPONSE,
            now=now,
            reason="agent replied",
        )
        record_ticket_event(
            session=session,
            ticket=ticket,
            kind="first_response",
            actor=Actor.user(agent_user_id, None),
            now=now,
        )
    if ticket.status is TicketStatus.NEW:
        await transition(
            session=session,
            ticket=ticket,
            status=TicketStatus.OPEN,
            actor=Actor.user(agent_user_id, None),
            now=now,
        )
    ticket.updated_at = now


async def record_customer_reply(
    *, session: AsyncSession, ticket: Ticket, customer_user_id: str | None, now: datetime
) -> None:
    """The customer wrote: a resolved ticket reopens, a waiting one is back with the team."""
    ticket.last_customer_message_at = now
    ticket.updated_at = now
    actor = Actor.user(customer_user_id, None) if customer_user_id else Actor.system()
    if ticket.status is TicketStatus.RESOLVED:
        await _reopen(session=session, ticket=ticket, actor=actor, now=now)
    elif ticket.status is TicketStatus.WAITING_ON_CUSTOMER:
        await sla.resume_resolution(
            session=session, ticket=ticket, now=now, reason="customer replied"
        )
        await transition(
            session=session, ticket=ticket, status=TicketStatus.OPEN, actor=actor, now=now
        )
    await sla.start_next_response(session=session, ticket=ticket, now=now)


# -- auto-close ----------------------------------------------------------------------------------
# A resolved ticket nobody writes on again is closed after a few days. The close is a timer armed
# when the ticket is resolved and cancelled if it reopens, so it happens once, on any replica,
# even if ticketbot was down when it fell due.


def _auto_close_key(ticket: Ticket) -> str:
    return f"auto_close:{ticket.id}"


async def arm_auto_close(
    *, session: AsyncSession, ticket: Ticket, now: datetime, after: timedelta | None = None
) -> None:
    await schedule_timer(
        session=session,
        kind=AUTO_CLOSE,
        key=_auto_close_key(ticket),
        workspace_id=ticket.workspace_id,
        ticket_id=ticket.id,
        due_at=now + (after or DEFAULT_AUTO_CLOSE_AFTER),
        now=now,
    )


async def disarm_auto_close(*, session: AsyncSession, ticket: Ticket, now: datetime) -> None:
    await cancel_timers(session=session, now=now, key=_auto_close_key(ticket))


async def on_auto_close(session: AsyncSession, timer: Timer, now: datetime, late: bool) -> None:
    """Close a ticket still resolved, through `transition` like any close (webhook included)."""
    ticket = await lock_for_handler(session, Ticket, timer.ticket_id) if timer.ticket_id else None
    if ticket is None or ticket.status is not TicketStatus.RESOLVED:
        return
    await transition(
        session=session,
        ticket=ticket,
        status=TicketStatus.CLOSED,
        actor=Actor.system(),
        now=now,
        kind="closed",
        reason="no reply since it was resolved",
    )


def register_auto_close_handler(handlers: TimerHandlers) -> None:
    handlers.register(AUTO_CLOSE, on_auto_close, prepare=lock_tickets_and_their_cards)
