"""Several triage changes at once (`PATCH /api/tickets`, an inbound update, `/ticket status`),
made through the single-change flows so each writes its own audit entry and card update,
exactly as the same clicks in Slack would."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import InvalidInput
from app.flows import lifecycle
from app.flows.assignment import assign, set_priority
from app.flows.syncs import ticket_changed
from app.flows.views import refresh_ticket_views
from app.tickets.actors import Actor
from app.tickets.audit import record_ticket_event
from app.tickets.changes import SETTABLE_STATUSES, TicketChanges
from app.tickets.enums import OPEN_STATUSES, TicketStatus
from app.tickets.models import Ticket
from app.webhooks.enums import WebhookEventType
from app.webhooks.events import emit_ticket_event


async def set_status(
    *, session: AsyncSession, ticket: Ticket, status: TicketStatus, actor: Actor, now: datetime
) -> Ticket:
    """Move a ticket to `status` through the flow that owns that step of its life."""
    if status is TicketStatus.OPEN:
        if ticket.status in OPEN_STATUSES:
            return await lifecycle.resume(session=session, ticket=ticket, actor=actor, now=now)
        return await lifecycle.reopen(session=session, ticket=ticket, actor=actor, now=now)
    if status is TicketStatus.WAITING_ON_CUSTOMER:
        return await lifecycle.wait_on_customer(
            session=session, ticket=ticket, actor=actor, now=now
        )
    if status is TicketStatus.RESOLVED:
        return await lifecycle.resolve(session=session, ticket=ticket, actor=actor, now=now)
    if status is TicketStatus.CLOSED:
        return await lifecycle.close(session=session, ticket=ticket, actor=actor, now=now)
    choices = ", ".join(s.value for s in SETTABLE_STATUSES)
    raise InvalidInput(f"status can be set to {choices}; not {status.value}.")


async def update_ticket(
    *, session: AsyncSession, ticket: Ticket, changes: TicketChanges, actor: Actor, now: datetime
) -> Ticket:
    """Apply the changes in the order that makes them possible together: a ticket is reopened
    before it is assigned, and assigned before it is resolved or closed (only an active ticket
    takes an assignee or a priority)."""
    if changes.subject is not None and changes.subject != ticket.subject:
        await _change_subject(session, ticket, changes.subject, actor, now)
    if changes.account_name is not None and changes.account_name != ticket.account_name:
        ticket.account_name, ticket.updated_at = changes.account_name, now
        await refresh_ticket_views(session=session, ticket=ticket, now=now)
    reopening = changes.status is TicketStatus.OPEN
    if reopening:
        await set_status(
            session=session, ticket=ticket, status=TicketStatus.OPEN, actor=actor, now=now
        )
    if changes.assign:
        await assign(
            session=session,
            ticket=ticket,
            assignee_user_id=changes.assignee,
            actor=actor,
            now=now,
        )
    if changes.priority is not None:
        await set_priority(
            session=session, ticket=ticket, priority=changes.priority, actor=actor, now=now
        )
    if changes.status is not None and not reopening:
        await set_status(
            session=session, ticket=ticket, status=changes.status, actor=actor, now=now
        )
    return ticket


async def _change_subject(
    session: AsyncSession, ticket: Ticket, subject: str, actor: Actor, now: datetime
) -> None:
    previous, ticket.subject, ticket.updated_at = ticket.subject, subject, now
    record_ticket_event(
        session=session,
        ticket=ticket,
        kind="subject_changed",
        actor=actor,
        now=now,
        previous=previous,
        subject=subject,
    )
    await refresh_ticket_views(session=session, ticket=ticket, now=now)
    await emit_ticket_event(
        session=session,
        ticket=ticket,
        event_type=WebhookEventType.TICKET_UPDATED,
        now=now,
        changes={"subject": {"previous": previous, "current": subject}},
    )
    await ticket_changed(session=session, ticket=ticket, now=now)
