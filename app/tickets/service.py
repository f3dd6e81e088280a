"""Ticket rules: opening, the conversation, triage changes. Every change writes its audit event
and queues the triage card update in the same transaction.

Functions are keyword-only, take a session, raise domain errors, and never talk to Slack.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.csat.surveys import cancel_scheduled_survey, schedule_survey
from app.errors import InvalidInput, InvalidTransition, NotAllowed, NotFound
from app.home.notifications import refresh_home_tabs
from app.sla import tracking as sla
from app.team.enums import Role
from app.team.service import get_role
from app.tickets.actors import Actor
from app.tickets.auto_close import arm_auto_close, disarm_auto_close
from app.tickets.enums import (
    OPEN_STATUSES,
    AuthorKind,
    Priority,
    TicketSource,
    TicketStatus,
)
from app.tickets.models import Ticket, TicketEvent, TicketMessage
from app.tickets.notifications import refresh_triage_card, tell_assignee
from app.webhooks.enums import WebhookEventType
from app.webhooks.events import emit_ticket_event
from app.workspaces.models import Workspace

# The webhook event a status change is, by its audit event's kind (any other: ticket.updated).
_STATUS_EVENTS = {
    "resolved": WebhookEventType.TICKET_RESOLVED,
    "reopened": WebhookEventType.TICKET_REOPENED,
}


async def get_ticket(*, session: AsyncSession, ticket_id: int, for_update: bool = False) -> Ticket:
    lock = {"key_share": True} if for_update else None  # FOR NO KEY UPDATE, like an UPDATE
    ticket = await session.get(Ticket, ticket_id, with_for_update=lock)
    if ticket is None:
        raise NotFound(f"Ticket {ticket_id} does not exist.")
    return ticket


async def find_ticket_by_root(
    *, session: AsyncSession, workspace_id: int, channel_id: str, root_ts: str
) -> Ticket | None:
    """The ticket a customer-channel message belongs to: the one it opened, or the one it was
    grouped into (so a reply in that message's thread joins the same ticket)."""
    opened = select(Ticket.id).where(
        Ticket.workspace_id == workspace_id,
        Ticket.channel_id == channel_id,
        Ticket.root_ts == root_ts,
    )
    grouped = (
        select(TicketMessage.ticket_id)
        .join(Ticket, Ticket.id == TicketMessage.ticket_id)
        .where(
            Ticket.workspace_id == workspace_id,
            TicketMessage.channel_id == channel_id,
            TicketMessage.ts == root_ts,
            TicketMessage.is_internal.is_(False),
        )
    )
    return await session.scalar(
        select(Ticket).where(Ticket.id.in_(opened.union(grouped))).order_by(Ticket.id).limit(1)
    )


async def find_ticket_by_triage_thread(
    *, session: AsyncSession, workspace_id: int, channel_id: str, thread_ts: str
) -> Ticket | None:
    return await session.scalar(
        select(Ticket).where(
            Ticket.triage_channel_id == channel_id,
            Ticket.triage_card_ts == thread_ts,
            Ticket.workspace_id == workspace_id,
        )
    )


async def open_ticket(
    *,
    session: AsyncSession,
    workspace_id: int,
    source: TicketSource,
    subject: str,
    requester_user_id: str | None,
    channel_id: str | None,
    root_ts: str | None,
    now: datetime,
    actor: Actor,
    requester_team_id: str | None = None,
    is_external: bool = False,
    account_name: str | None = None,
    priority: Priority = Priority.NORMAL,
    triage_channel_id: str | None = None,
    permalink: str | None = None,
    external_source: str | None = None,
    external_id: str | None = None,
) -> tuple[Ticket, bool]:
    """Open a ticket, or return the one this message already opened. (ticket, created)

    The workspace row allocates the number (T-<n>); a retried event with a new event_id finds
    the ticket its first delivery opened.
    """
    # Allocating the number locks the workspace row until commit: ticket creation in a
    # workspace is serialised, so the "already opened?" check below cannot race.
    number = await session.scalar(
        update(Workspace)
        .where(Workspace.id == workspace_id)
        .values(next_ticket_number=Workspace.next_ticket_number + 1)
        .returning(Workspace.next_ticket_number - 1)
    )
    if number is None:
        raise NotFound(f"Workspace {workspace_id} does not exist.")
    if channel_id and root_ts:
        existing = await find_ticket_by_root(
            session=session, workspace_id=workspace_id, channel_id=channel_id, root_ts=root_ts
        )
        if existing is not None:
            await session.execute(  # give the number back; we still hold the row lock
                update(Workspace)
                .where(Workspace.id == workspace_id)
                .values(next_ticket_number=Workspace.next_ticket_number - 1)
            )
            return existing, False
    ticket = Ticket(
        workspace_id=workspace_id,
        number=number,
        subject=subject,
        status=TicketStatus.NEW,
        priority=priority,
        source=source,
        requester_user_id=requester_user_id,
        requester_team_id=requester_team_id,
        is_external=is_external,
        account_name=account_name,
        channel_id=channel_id,
        root_ts=root_ts,
        permalink=permalink,
        triage_channel_id=triage_channel_id,
        external_source=external_source,
        external_id=external_id,
        created_at=now,
        updated_at=now,
        last_customer_message_at=now,
    )
    session.add(ticket)
    await session.flush()
    await record_ticket_event(
        session=session,
        ticket=ticket,
        kind="created",
        actor=actor,
        now=now,
        source=source.value,
        channel_id=channel_id,
        subject=subject,
    )
    await emit_ticket_event(
        session=session, ticket=ticket, event_type=WebhookEventType.TICKET_CREATED, now=now
    )
    return ticket, True


async def record_ticket_event(
    *, session: AsyncSession, ticket: Ticket, kind: str, actor: Actor, now: datetime, **data: Any
) -> None:
    session.add(
        TicketEvent(
            ticket_id=ticket.id,
            kind=kind,
            actor_kind=actor.kind,
            actor_id=actor.id,
            data=data,
            created_at=now,
        )
    )


async def add_message(
    *,
    session: AsyncSession,
    ticket: Ticket,
    channel_id: str,
    ts: str,
    author_user_id: str | None,
    author_kind: AuthorKind,
    text: str,
    now: datetime,
    is_internal: bool = False,
    known_new: bool = False,
) -> TicketMessage | None:
    """Store one message of the conversation; None if it is already stored (a retry).

    `known_new` skips the lookup for the message that opened the ticket in this transaction.
    """
    if not known_new:
        existing = await session.scalar(
            select(TicketMessage.id).where(
                TicketMessage.ticket_id == ticket.id,
                TicketMessage.channel_id == channel_id,
                TicketMessage.ts == ts,
            )
        )
        if existing is not None:
            return None
    message = TicketMessage(
        ticket_id=ticket.id,
        channel_id=channel_id,
        ts=ts,
        author_user_id=author_user_id,
        author_kind=author_kind,
        is_internal=is_internal,
        text=text,
        created_at=now,
    )
    session.add(message)
    await record_ticket_event(
        session=session,
        ticket=ticket,
        kind="note_added" if is_internal else "message_added",
        actor=Actor.system() if author_user_id is None else _author(author_user_id, author_kind),
        now=now,
        ts=ts,
        author_kind=author_kind.value,
    )
    return message


def _author(user_id: str, kind: AuthorKind) -> Actor:
    return Actor.user(user_id, Role.AGENT if kind is AuthorKind.AGENT else None)


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
        await record_ticket_event(
            session=session,
            ticket=ticket,
            kind="first_response",
            actor=Actor.user(agent_user_id, None),
            now=now,
        )
    if ticket.status is TicketStatus.NEW:
        await _change_status(
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
        await _change_status(
            session=session, ticket=ticket, status=TicketStatus.OPEN, actor=actor, now=now
        )
    await sla.start_next_response(session=session, ticket=ticket, now=now)


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
    _require_triage(actor)
    _require_active(ticket, "assign")
    if ticket.assignee_user_id == assignee_user_id:
        return ticket
    if assignee_user_id is not None and assignee_user_id != actor.id:
        role = await get_role(
            session=session, workspace_id=ticket.workspace_id, user_id=assignee_user_id
        )
        if role is None:
            raise InvalidInput(f"<@{assignee_user_id}> is not on the support team.")
    if not actor.is_lead:
        if assignee_user_id is not None and assignee_user_id != actor.id:
            raise NotAllowed("Sorry, only support leads can assign tickets to someone else.")
        if assignee_user_id is None and ticket.assignee_user_id != actor.id:
            raise NotAllowed("Sorry, only support leads can unassign someone else.")
    previous = ticket.assignee_user_id
    ticket.assignee_user_id = assignee_user_id
    ticket.updated_at = now
    await record_ticket_event(
        session=session,
        ticket=ticket,
        kind="assigned",
        actor=actor,
        now=now,
        previous=previous,
        assignee=assignee_user_id,
        **({"reason": reason} if reason else {}),
    )
    await refresh_triage_card(session=session, ticket=ticket, now=now)
    await emit_ticket_event(
        session=session,
        ticket=ticket,
        event_type=WebhookEventType.TICKET_UPDATED,
        now=now,
        changes={"assignee": {"previous": previous, "current": assignee_user_id}},
    )
    await refresh_home_tabs(
        session=session, workspace_id=ticket.workspace_id, user_ids=[previous], now=now
    )
    if assignee_user_id is not None and assignee_user_id != actor.id:
        await tell_assignee(session=session, ticket=ticket, actor=actor, reason=reason, now=now)
    return ticket


async def set_priority(
    *, session: AsyncSession, ticket: Ticket, priority: Priority, actor: Actor, now: datetime
) -> Ticket:
    _require_triage(actor)
    _require_active(ticket, "change the priority of")
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
    await record_ticket_event(
        session=session,
        ticket=ticket,
        kind="priority_changed",
        actor=actor,
        now=now,
        previous=previous.value,
        priority=priority.value,
    )
    await refresh_triage_card(session=session, ticket=ticket, now=now)
    await emit_ticket_event(
        session=session,
        ticket=ticket,
        event_type=WebhookEventType.TICKET_UPDATED,
        now=now,
        changes={"priority": {"previous": previous.value, "current": priority.value}},
    )
    return ticket


async def resolve(*, session: AsyncSession, ticket: Ticket, actor: Actor, now: datetime) -> Ticket:
    _require_triage(actor)
    if ticket.status is TicketStatus.RESOLVED:
        return ticket
    _require_active(ticket, "resolve")
    ticket.resolved_at = now
    await sla.stop_all(session=session, ticket=ticket, now=now, reason="resolved")
    await arm_auto_close(session=session, ticket=ticket, now=now)
    await _change_status(
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
    _require_triage(actor)
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
    await _change_status(
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
    await _change_status(
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
    _require_triage(actor)
    if ticket.status is TicketStatus.WAITING_ON_CUSTOMER:
        return ticket
    _require_active(ticket, "set waiting on customer for")
    await sla.pause_resolution(
        session=session, ticket=ticket, now=now, reason="waiting on customer"
    )
    await _change_status(
        session=session,
        ticket=ticket,
        status=TicketStatus.WAITING_ON_CUSTOMER,
        actor=actor,
        now=now,
    )
    return ticket


async def discard(*, session: AsyncSession, ticket: Ticket, actor: Actor, now: datetime) -> Ticket:
    """Not a request: the ticket leaves every list and number, but stays in the audit trail."""
    _require_triage(actor)
    if ticket.status is TicketStatus.DISCARDED:
        return ticket
    await sla.stop_all(session=session, ticket=ticket, now=now, reason="not a request")
    await cancel_scheduled_survey(session=session, ticket=ticket, now=now)
    await _change_status(
        session=session,
        ticket=ticket,
        status=TicketStatus.DISCARDED,
        actor=actor,
        now=now,
        kind="discarded",
    )
    return ticket


async def _change_status(
    *,
    session: AsyncSession,
    ticket: Ticket,
    status: TicketStatus,
    actor: Actor,
    now: datetime,
    kind: str = "status_changed",
) -> None:
    previous = ticket.status
    ticket.status = status
    ticket.updated_at = now
    if status is TicketStatus.CLOSED:
        ticket.closed_at = now
    await record_ticket_event(
        session=session,
        ticket=ticket,
        kind=kind,
        actor=actor,
        now=now,
        previous=previous.value,
        status=status.value,
    )
    await refresh_triage_card(session=session, ticket=ticket, now=now)
    await emit_ticket_event(
        session=session,
        ticket=ticket,
        event_type=_STATUS_EVENTS.get(kind, WebhookEventType.TICKET_UPDATED),
        now=now,
        changes={"status": {"previous": previous.value, "current": status.value}},
    )


def _require_triage(actor: Actor) -> None:
    if not actor.may_triage:
        raise NotAllowed("Sorry, only support agents and leads can triage tickets.")


def _require_active(ticket: Ticket, verb: str) -> None:
    if ticket.status not in OPEN_STATUSES:
        raise InvalidTransition(
            f"{ticket.display_number} is {ticket.status.value.replace('_', ' ')}; cannot {verb} it."
        )


async def resume(*, session: AsyncSession, ticket: Ticket, actor: Actor, now: datetime) -> Ticket:
    """Back with the team: a ticket waiting on the customer is open again and its resolution
    clock runs on (as when the customer replies); a new ticket is marked open."""
    _require_triage(actor)
    if ticket.status is TicketStatus.OPEN:
        return ticket
    _require_active(ticket, "resume")
    if ticket.status is TicketStatus.WAITING_ON_CUSTOMER:
        await sla.resume_resolution(
            session=session, ticket=ticket, now=now, reason="back with the team"
        )
    await _change_status(
        session=session, ticket=ticket, status=TicketStatus.OPEN, actor=actor, now=now
    )
    return ticket
