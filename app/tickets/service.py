"""Tickets as stored: finding them, numbering a new one, adding a message to a conversation.

Plain persistence, below every other domain: what a change means elsewhere (SLA clocks, the
triage card, webhooks, surveys, Home tabs) is decided in app/flows. Functions are keyword-only,
take a session, raise domain errors, and never talk to Slack.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import NotFound
from app.team.enums import Role
from app.tickets.actors import Actor
from app.tickets.audit import record_ticket_event
from app.tickets.enums import AuthorKind, Priority, TicketSource, TicketStatus
from app.tickets.models import Ticket, TicketMessage

# Intake's statements are built once, with parameters: building and caching a statement costs
# more CPU than running it (find_ticket_by_root: 0.67 ms a call built each time, 0.30 ms
# prebuilt, on PostgreSQL).
_OPENED_FROM = select(Ticket.id).where(
    Ticket.workspace_id == bindparam("workspace_id"),
    Ticket.channel_id == bindparam("channel_id"),
    Ticket.root_ts == bindparam("root_ts"),
)
_GROUPED_INTO = (
    select(TicketMessage.ticket_id)
    .join(Ticket, Ticket.id == TicketMessage.ticket_id)
    .where(
        Ticket.workspace_id == bindparam("workspace_id"),
        TicketMessage.channel_id == bindparam("channel_id"),
        TicketMessage.ts == bindparam("root_ts"),
        TicketMessage.is_internal.is_(False),
    )
)
_BY_ROOT = (
    select(Ticket)
    .where(Ticket.id.in_(_OPENED_FROM.union(_GROUPED_INTO)))
    .order_by(Ticket.id)
    .limit(1)
)
_BY_TRIAGE_THREAD = select(Ticket).where(
    Ticket.triage_channel_id == bindparam("channel_id"),
    Ticket.triage_card_ts == bindparam("thread_ts"),
    Ticket.workspace_id == bindparam("workspace_id"),
)
_STORED_MESSAGE = select(TicketMessage.id).where(
    TicketMessage.ticket_id == bindparam("ticket_id"),
    TicketMessage.channel_id == bindparam("channel_id"),
    TicketMessage.ts == bindparam("ts"),
)
# A new ticket, unless one with its root message or external id was stored meanwhile.
_INSERT_TICKET = {
    "postgresql": postgresql.insert(Ticket).on_conflict_do_nothing().returning(Ticket),
    "sqlite": sqlite.insert(Ticket).on_conflict_do_nothing().returning(Ticket),
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
    return await session.scalar(
        _BY_ROOT, {"workspace_id": workspace_id, "channel_id": channel_id, "root_ts": root_ts}
    )


async def find_ticket_by_triage_thread(
    *, session: AsyncSession, workspace_id: int, channel_id: str, thread_ts: str
) -> Ticket | None:
    return await session.scalar(
        _BY_TRIAGE_THREAD,
        {"workspace_id": workspace_id, "channel_id": channel_id, "thread_ts": thread_ts},
    )


async def insert_ticket(
    *,
    session: AsyncSession,
    workspace_id: int,
    number: int,
    source: TicketSource,
    subject: str,
    requester_user_id: str | None,
    channel_id: str | None,
    root_ts: str | None,
    now: datetime,
    actor: Actor,
    requester_team_id: str | None = None,
    channel_team_id: str | None = None,
    is_external: bool = False,
    account_name: str | None = None,
    account_id: int | None = None,
    priority: Priority = Priority.NORMAL,
    triage_channel_id: str | None = None,
    permalink: str | None = None,
    external_source: str | None = None,
    external_id: str | None = None,
    due_dates: Mapping[str, datetime] | None = None,
) -> Ticket | None:
    """Store a new ticket numbered `number` (from `take_ticket_number`), with its "created"
    audit entry; app/flows/open_ticket.py does the rest. `due_dates`: its SLA clocks' due times
    by target (`first_response`, `resolution`), stored with it rather than updated after.

    None if a concurrent transaction has just stored a ticket with the same root message or
    external id (the insert waits for it to commit and then stores nothing): the caller gives
    the number back and returns that one.
    """
    values = {
        "workspace_id": workspace_id,
        "number": number,
        "subject": subject,
        "status": TicketStatus.NEW,
        "priority": priority,
        "source": source,
        "requester_user_id": requester_user_id,
        "requester_team_id": requester_team_id,
        "is_external": is_external,
        "account_name": account_name,
        "account_id": account_id,
        "channel_id": channel_id,
        "channel_team_id": channel_team_id,
        "root_ts": root_ts,
        "permalink": permalink,
        "triage_channel_id": triage_channel_id,
        "external_source": external_source,
        "external_id": external_id,
        "created_at": now,
        "updated_at": now,
        "last_customer_message_at": now,
        **{f"{target}_due_at": due for target, due in (due_dates or {}).items()},
    }
    ticket = await session.scalar(_INSERT_TICKET[session.get_bind().dialect.name], values)
    if ticket is None:
        return None
    record_ticket_event(
        session=session,
        ticket=ticket,
        kind="created",
        actor=actor,
        now=now,
        source=source.value,
        channel_id=channel_id,
        subject=subject,
    )
    return ticket


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
            _STORED_MESSAGE, {"ticket_id": ticket.id, "channel_id": channel_id, "ts": ts}
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
    record_ticket_event(
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
