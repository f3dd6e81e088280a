"""Messages and reactions from Slack channels, turned into tickets and their conversation.

The Slack adapter calls these with plain values (`IncomingMessage`); they decide what a
message means (a new request, a reply, an internal note, nothing) and change the database
and the outbox in the caller's transaction. Nothing here waits on Slack. New tickets are opened
through app/flows/open_ticket.py, like every other.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.flows.lifecycle import record_agent_reply, record_customer_reply, resolve
from app.flows.open_ticket import FirstMessage, Greeting, NewTicket, open_ticket
from app.flows.syncs import message_added
from app.flows.views import refresh_ticket_views
from app.team.enums import Role
from app.team.models import TeamMember
from app.team.service import get_role
from app.text_safety import quote
from app.tickets.actors import Actor
from app.tickets.audit import record_ticket_event
from app.tickets.enums import OPEN_STATUSES, AuthorKind, TicketSource, TicketStatus
from app.tickets.intake import IncomingMessage, is_request, subject_from
from app.tickets.models import Ticket, TicketMessage
from app.tickets.notifications import fetch_source_message, post_in_triage_thread
from app.tickets.service import add_message, find_ticket_by_root, find_ticket_by_triage_thread
from app.workspaces.channels import get_watched_channel
from app.workspaces.models import WatchedChannel, Workspace

MIRROR_MAX_LENGTH = 2800


@dataclass(frozen=True)
class IntakeRules:
    """The configurable parts of intake (from Settings; per channel where the channel says)."""

    grouping_window: timedelta
    not_a_request_phrases: tuple[str, ...]
    auto_reply_text: str
    ticket_reaction: str
    resolve_reaction: str
    default_triage_channel_id: str | None
    off_hours_reply_text: str = ""


async def receive_message(
    *,
    session: AsyncSession,
    workspace: Workspace,
    message: IncomingMessage,
    rules: IntakeRules,
    now: datetime,
) -> Ticket | None:
    """A new message in a channel ticketbot is in. Returns the ticket it joined or opened."""
    if message.is_bot or message.user_id is None:
        return None
    if message.is_thread_reply:
        return await _receive_thread_reply(
            session=session, workspace=workspace, message=message, now=now
        )
    # Already taken in (an event's late retry after catch-up read the same message back, or
    # the other way round): the message opened or joined a ticket once, never a second one.
    stored = await find_ticket_by_root(
        session=session,
        workspace_id=workspace.id,
        channel_id=message.channel_id,
        root_ts=message.ts,
    )
    if stored is not None:
        return stored
    watched = await _watched_channel_and_role(
        session=session,
        workspace_id=workspace.id,
        channel_id=message.channel_id,
        user_id=message.user_id,
    )
    if watched is None:
        return None
    channel, role = watched
    if role is not None:
        return None  # the team's own top-level posts (announcements, answers) are not requests
    grouped = await _recent_open_ticket(
        session=session,
        workspace_id=workspace.id,
        channel_id=message.channel_id,
        requester_user_id=message.user_id,
        since=now - rules.grouping_window,
    )
    if grouped is not None:
        await _add_customer_message(session=session, ticket=grouped, message=message, now=now)
        return grouped
    if not is_request(message.text, rules.not_a_request_phrases):
        return None
    return await _open_from_message(
        session=session,
        workspace=workspace,
        watched=channel,
        message=message,
        rules=rules,
        source=TicketSource.MESSAGE,
        now=now,
    )


async def receive_reaction(
    *,
    session: AsyncSession,
    workspace: Workspace,
    reactor_user_id: str,
    reaction: str,
    channel_id: str,
    item_ts: str,
    item_user_id: str | None,
    rules: IntakeRules,
    now: datetime,
    channel_team_id: str | None = None,
) -> Ticket | None:
    """`:ticket:` opens a ticket from any message (once); `:white_check_mark:` by an agent on the
    message that opened a ticket resolves it."""
    if reaction == rules.ticket_reaction:
        existing = await find_ticket_by_root(
            session=session, workspace_id=workspace.id, channel_id=channel_id, root_ts=item_ts
        )
        if existing is not None:
            return existing
        channel = await get_watched_channel(
            session=session, workspace_id=workspace.id, channel_id=channel_id
        )
        placeholder = IncomingMessage(
            channel_id=channel_id,
            ts=item_ts,
            user_id=item_user_id,
            text="",
            channel_team_id=channel_team_id,
        )
        opened = await _open_from_message(
            session=session,
            workspace=workspace,
            watched=channel,
            message=placeholder,
            rules=rules,
            source=TicketSource.REACTION,
            now=now,
            opened_by=reactor_user_id,
        )
        await fetch_source_message(session=session, ticket=opened, now=now)
        return opened
    if reaction == rules.resolve_reaction:
        role = await get_role(session=session, workspace_id=workspace.id, user_id=reactor_user_id)
        if role is None:
            return None
        ticket = await session.scalar(
            select(Ticket).where(
                Ticket.workspace_id == workspace.id,
                Ticket.channel_id == channel_id,
                Ticket.root_ts == item_ts,
            )
        )
        if ticket is None or ticket.status not in OPEN_STATUSES:
            return ticket
        await resolve(
            session=session, ticket=ticket, actor=Actor.user(reactor_user_id, role), now=now
        )
        return ticket
    return None


async def receive_edit(
    *,
    session: AsyncSession,
    workspace: Workspace,
    channel_id: str,
    ts: str,
    new_text: str,
    editor_user_id: str | None,
    now: datetime,
) -> Ticket | None:
    stored = await _stored_message(
        session=session, workspace_id=workspace.id, channel_id=channel_id, ts=ts
    )
    if stored is None:
        return None
    message, ticket = stored
    if message.text == new_text:
        return ticket
    previous = message.text
    message.text = new_text
    message.edited_at = now
    actor = Actor.user(editor_user_id, None) if editor_user_id else Actor.system()
    record_ticket_event(
        session=session,
        ticket=ticket,
        kind="message_edited",
        actor=actor,
        now=now,
        ts=ts,
        previous_text=previous,
    )
    if ticket.root_ts == ts and ticket.channel_id == channel_id:
        ticket.subject = subject_from(new_text)
        await refresh_ticket_views(session=session, ticket=ticket, now=now)
    if not message.is_internal:
        await post_in_triage_thread(
            session=session,
            ticket=ticket,
            text=f":pencil2: {_who(message.author_user_id)} edited a message:\n{_quote(new_text)}",
            now=now,
        )
    return ticket


async def receive_deletion(
    *, session: AsyncSession, workspace: Workspace, channel_id: str, ts: str, now: datetime
) -> Ticket | None:
    stored = await _stored_message(
        session=session, workspace_id=workspace.id, channel_id=channel_id, ts=ts
    )
    if stored is None:
        return None
    message, ticket = stored
    if message.deleted_at is not None:
        return ticket
    message.deleted_at = now
    record_ticket_event(
        session=session,
        ticket=ticket,
        kind="message_deleted",
        actor=Actor.system(),
        now=now,
        ts=ts,
    )
    if not message.is_internal:
        await post_in_triage_thread(
            session=session,
            ticket=ticket,
            text=f":wastebasket: {_who(message.author_user_id)} deleted a message.",
            now=now,
        )
    return ticket


# -- internals -----------------------------------------------------------------------------


async def _open_from_message(
    *,
    session: AsyncSession,
    workspace: Workspace,
    watched: WatchedChannel | None,
    message: IncomingMessage,
    rules: IntakeRules,
    source: TicketSource,
    now: datetime,
    opened_by: str | None = None,
) -> Ticket:
    ticket, _ = await open_ticket(
        session=session,
        new=NewTicket(
            workspace=workspace,
            source=source,
            subject=subject_from(message.text) if message.text else "(fetching the message…)",
            actor=Actor.user(opened_by, None) if opened_by else Actor.system(),
            requester_user_id=message.user_id,
            requester_team_id=message.user_team_id,
            requester_enterprise_id=message.user_enterprise_id,
            channel_id=message.channel_id,
            channel_team_id=message.channel_team_id,
            root_ts=message.ts,
            first_message=FirstMessage(
                text=message.text,
                author_user_id=message.user_id,
                author_kind=AuthorKind.CUSTOMER,
                channel_id=message.channel_id,
                ts=message.ts,
            ),
            greeting=Greeting(
                auto_reply_text=rules.auto_reply_text,
                off_hours_reply_text=rules.off_hours_reply_text,
            ),
        ),
        default_triage_channel_id=rules.default_triage_channel_id,
        now=now,
        watched=watched,
        root_checked=True,  # both callers have just looked for a ticket of this message
    )
    return ticket


async def _receive_thread_reply(
    *, session: AsyncSession, workspace: Workspace, message: IncomingMessage, now: datetime
) -> Ticket | None:
    assert message.thread_ts is not None
    ticket = await find_ticket_by_root(
        session=session,
        workspace_id=workspace.id,
        channel_id=message.channel_id,
        root_ts=message.thread_ts,
    )
    if ticket is not None:
        role = await get_role(
            session=session, workspace_id=workspace.id, user_id=message.user_id or ""
        )
        if role is None:
            await _add_customer_message(session=session, ticket=ticket, message=message, now=now)
        else:
            await _add_agent_message(session=session, ticket=ticket, message=message, now=now)
        return ticket
    ticket = await find_ticket_by_triage_thread(
        session=session,
        workspace_id=workspace.id,
        channel_id=message.channel_id,
        thread_ts=message.thread_ts,
    )
    if ticket is None:
        return None
    stored = await add_message(
        session=session,
        ticket=ticket,
        channel_id=message.channel_id,
        ts=message.ts,
        author_user_id=message.user_id,
        author_kind=AuthorKind.AGENT,
        text=message.text,
        now=now,
        is_internal=True,
    )
    if stored is not None:
        ticket.updated_at = now
        await message_added(session=session, ticket=ticket, message=stored, now=now)
    return ticket


async def _add_customer_message(
    *, session: AsyncSession, ticket: Ticket, message: IncomingMessage, now: datetime
) -> None:
    await _add_thread_message(
        session=session, ticket=ticket, message=message, kind=AuthorKind.CUSTOMER, now=now
    )


async def _add_agent_message(
    *, session: AsyncSession, ticket: Ticket, message: IncomingMessage, now: datetime
) -> None:
    await _add_thread_message(
        session=session, ticket=ticket, message=message, kind=AuthorKind.AGENT, now=now
    )


async def _add_thread_message(
    *,
    session: AsyncSession,
    ticket: Ticket,
    message: IncomingMessage,
    kind: AuthorKind,
    now: datetime,
) -> None:
    """Store a message of the customer's thread, apply what it means, mirror it for the team."""
    stored = await add_message(
        session=session,
        ticket=ticket,
        channel_id=message.channel_id,
        ts=message.ts,
        author_user_id=message.user_id,
        author_kind=kind,
        text=message.text,
        now=now,
    )
    if stored is None:
        return  # a retry of something already stored
    await message_added(session=session, ticket=ticket, message=stored, now=now)
    if kind is AuthorKind.CUSTOMER:
        await record_customer_reply(
            session=session, ticket=ticket, customer_user_id=message.user_id, now=now
        )
        heading = f":speech_balloon: {_who(message.user_id)} (customer):"
    else:
        if ticket.status in OPEN_STATUSES or ticket.status is TicketStatus.RESOLVED:
            await record_agent_reply(
                session=session, ticket=ticket, agent_user_id=message.user_id or "", now=now
            )
        heading = f":headphones: {_who(message.user_id)} replied:"
    await post_in_triage_thread(
        session=session, ticket=ticket, text=f"{heading}\n{_quote(message.text)}", now=now
    )


# Intake's reads, built once (see app/tickets/service.py).
_WATCHED_AND_ROLE = select(
    WatchedChannel,
    select(TeamMember.role)
    .where(
        TeamMember.workspace_id == bindparam("workspace_id"),
        TeamMember.slack_user_id == bindparam("user_id"),
    )
    .scalar_subquery(),
).where(
    WatchedChannel.workspace_id == bindparam("workspace_id"),
    WatchedChannel.slack_channel_id == bindparam("channel_id"),
    WatchedChannel.unwatched_at.is_(None),
)
_RECENT_OPEN = (
    select(Ticket)
    .where(
        Ticket.workspace_id == bindparam("workspace_id"),
        Ticket.requester_user_id == bindparam("requester_user_id"),
        Ticket.status.in_(OPEN_STATUSES),
        Ticket.channel_id == bindparam("channel_id"),
        Ticket.last_customer_message_at >= bindparam("since"),
    )
    .order_by(Ticket.last_customer_message_at.desc())
    .limit(1)
)


async def _watched_channel_and_role(
    *, session: AsyncSession, workspace_id: int, channel_id: str, user_id: str
) -> tuple[WatchedChannel, Role | None] | None:
    """The channel's watch settings and the writer's role, in one round trip (the hot path)."""
    row = (
        await session.execute(
            _WATCHED_AND_ROLE,
            {"workspace_id": workspace_id, "channel_id": channel_id, "user_id": user_id},
        )
    ).first()
    if row is None:
        return None
    return row[0], (Role(row[1]) if row[1] is not None else None)


async def _recent_open_ticket(
    *,
    session: AsyncSession,
    workspace_id: int,
    channel_id: str,
    requester_user_id: str,
    since: datetime,
) -> Ticket | None:
    return await session.scalar(
        _RECENT_OPEN,
        {
            "workspace_id": workspace_id,
            "requester_user_id": requester_user_id,
            "channel_id": channel_id,
            "since": since,
        },
    )


async def _stored_message(
    *, session: AsyncSession, workspace_id: int, channel_id: str, ts: str
) -> tuple[TicketMessage, Ticket] | None:
    row = (
        await session.execute(
            select(TicketMessage, Ticket)
            .join(Ticket, Ticket.id == TicketMessage.ticket_id)
            .where(
                Ticket.workspace_id == workspace_id,
                TicketMessage.channel_id == channel_id,
                TicketMessage.ts == ts,
            )
            .limit(1)
        )
    ).first()
    return (row[0], row[1]) if row else None


def _who(user_id: str | None) -> str:
    # A mention renders as the person's name; mirrored into the internal triage thread only.
    return f"<@{user_id}>" if user_id else "someone"


def _quote(slack_text: str) -> str:
    """What someone wrote in the customer's channel, quoted for the team: defused (no
    broadcast reaches the triage channel; mentions of people stay) and clipped."""
    quoted = quote(slack_text)
    return quoted if len(quoted) <= MIRROR_MAX_LENGTH else _clip(quoted) + "…"


def _clip(slack_text: str) -> str:
    """Cut at the limit, never inside a `<...>` sequence or an `&...;` entity."""
    cut = slack_text[:MIRROR_MAX_LENGTH]
    opened, ampersand = cut.rfind("<"), cut.rfind("&")
    if opened > cut.rfind(">"):
        cut = cut[:opened]
    if ampersand > cut.rfind(";"):
        cut = cut[:ampersand]
    return cut
