"""Who works on a ticket, and how urgent it is: the card, Home tabs, webhook and (for an
assignee given the ticket by someone else) a direct message follow each change."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import InvalidInput, NotAllowed
from app.flows.syncs import ticket_changed
from app.flows.views import refresh_ticket_views
from app.sla import tracking as sla
from app.team.service import get_role
from app.tickets.actors import Actor
from app.tickets.audit import record_ticket_event
from app.tickets.enums import Priority
from app.tickets.models import Ticket
from app.tickets.notifications import tell_assignee
from app.tickets.rules import require_active, require_triage
from app.webhooks.enums import WebhookEventType
from app.webhooks.events import emit_ticket_event


async def assign(
    *,
    session: AsyncSession,
    ticket: Ticket,
    assignee_user_id: str | None,
    actor: Actor,
    now: datetime,
    reason: str | None = None,
) -> Ticket:
    """Give the ticket to a team member (or to nobody). Someone given a ticket by somebody else
    (a lead, auto-assignment, an API key) is told by direct message."""
    require_triage(actor)
    require_active(ticket, "assign")
    if ticket.assignee_user_id == assignee_user_id:
        return ticket
    if assignee_user_id is not None and assignee_user_id != actor.id:
        role = await get_role(
            session=session, workspace_id=ticket.workspace_id, user_id=assignee_user_id
        )
        if role is None:
            raise InvalidInput(
                "{user} is not on the support team.",
                code="not_on_team",
                field="assignee",
                people={"user": assignee_user_id},
            )
    if not actor.is_lead:
        if assignee_user_id is not None and assignee_user_id != actor.id:
            raise NotAllowed("Sorry, only support leads can assign tickets to someone else.")
        if assignee_user_id is None and ticket.assignee_user_id != actor.id:
            raise NotAllowed("Sorry, only support leads can unassign someone else.")
    previous = ticket.assignee_user_id
    ticket.assignee_user_id = assignee_user_id
    ticket.updated_at = now
    record_ticket_event(
        session=session,
        ticket=ticket,
        kind="assigned",
        actor=actor,
        now=now,
        previous=previous,
        assignee=assignee_user_id,
        **({"reason": reason} if reason else {}),
    )
    await refresh_ticket_views(session=session, ticket=ticket, now=now, also=[previous])
    await emit_ticket_event(
        session=session,
        ticket=ticket,
        event_type=WebhookEventType.TICKET_UPDATED,
        now=now,
        changes={"assignee": {"previous": previous, "current": assignee_user_id}},
    )
    await ticket_changed(session=session, ticket=ticket, now=now)
    if assignee_user_id is not None and assignee_user_id != actor.id:
        await tell_assignee(session=session, ticket=ticket, actor=actor, reason=reason, now=now)
    return ticket


async def set_priority(
    *, session: AsyncSession, ticket: Ticket, priority: Priority, actor: Actor, now: datetime
) -> Ticket:
    require_triage(actor)
    require_active(ticket, "change the priority of")
    if ticket.priority is priority:
        return ticket
    previous = ticket.priority
    ticket.priority = priority
    ticket.updated_at = now
    await sla.replan(
        session=session,
        ticket=ticket,
        now=now,
        reason=f"priority {previous.value} -> {priority.value}",
    )
    record_ticket_event(
        session=session,
        ticket=ticket,
        kind="priority_changed",
        actor=actor,
        now=now,
        previous=previous.value,
        priority=priority.value,
    )
    await refresh_ticket_views(session=session, ticket=ticket, now=now)
    await emit_ticket_event(
        session=session,
        ticket=ticket,
        event_type=WebhookEventType.TICKET_UPDATED,
        now=now,
        changes={"priority": {"previous": previous.value, "current": priority.value}},
    )
    await ticket_changed(session=session, ticket=ticket, now=now)
    return ticket
