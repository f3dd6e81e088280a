"""Several triage changes at once (the REST API's PATCH), made through the single-change services
so each writes its own audit event and card update, exactly as the same clicks in Slack would.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import InvalidInput
from app.tickets import service
from app.tickets.actors import Actor
from app.tickets.enums import OPEN_STATUSES, Priority, TicketStatus
from app.tickets.models import Ticket

SETTABLE_STATUSES = (
    TicketStatus.OPEN,
    TicketStatus.WAITING_ON_CUSTOMER,
    TicketStatus.RESOLVED,
    TicketStatus.CLOSED,
)


@dataclass(frozen=True)
class TicketChanges:
    """What to change; `assign` says whether `assignee` (which may be None: unassign) applies."""

    assign: bool = False
    assignee: str | None = None
    priority: Priority | None = None
    status: TicketStatus | None = None


async def set_status(
    *, session: AsyncSession, ticket: Ticket, status: TicketStatus, actor: Actor, now: datetime
) -> Ticket:
    """Move a ticket to `status` through the service that owns that step of its life."""
    if status is TicketStatus.OPEN:
        if ticket.status in OPEN_STATUSES:
            return await service.resume(session=session, ticket=ticket, actor=actor, now=now)
        return await service.reopen(session=session, ticket=ticket, actor=actor, now=now)
    if status is TicketStatus.WAITING_ON_CUSTOMER:
        return await service.wait_on_customer(session=session, ticket=ticket, actor=actor, now=now)
    if status is TicketStatus.RESOLVED:
        return await service.resolve(session=session, ticket=ticket, actor=actor, now=now)
    if status is TicketStatus.CLOSED:
        return await service.close(session=session, ticket=ticket, actor=actor, now=now)
    choices = ", ".join(s.value for s in SETTABLE_STATUSES)
    raise InvalidInput(f"status can be set to {choices}; not {status.value}.")


async def update_ticket(
    *, session: AsyncSession, ticket: Ticket, changes: TicketChanges, actor: Actor, now: datetime
) -> Ticket:
    """Apply the changes in the order that makes them possible together: a ticket is reopened
    before it is assigned, and assigned before it is resolved or closed (only an active ticket
    takes an assignee or a priority)."""
    reopening = changes.status is TicketStatus.OPEN
    if reopening:
        await set_status(
            session=session, ticket=ticket, status=TicketStatus.OPEN, actor=actor, now=now
        )
    if changes.assign:
        await service.assign(
            session=session,
            ticket=ticket,
            assignee_user_id=changes.assignee,
            actor=actor,
            now=now,
        )
    if changes.priority is not None:
        await service.set_priority(
            session=session, ticket=ticket, priority=changes.priority, actor=actor, now=now
        )
    if changes.status is not None and not reopening:
        await set_status(
            session=session, ticket=ticket, status=changes.status, actor=actor, now=now
        )
    return ticket
