"""Messages and reactions from Slack channels, turned into tickets and their conversation.

The Slack adapter calls these with plain values (`IncomingMessage`); they decide what a
message means (a new request, a reply, an internal note, nothing) and change the database
and the outbox in the caller's transaction. Nothing here waits on Slack.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.directory.service import request_team_info, team_name
from app.sla.policies import calendar_for
from app.sla.tracking import start_ticket_clocks
from app.team.auto_assign import choose_assignee
from app.team.enums import Role
from app.team.models import TeamMember
from app.team.service import get_role
from app.text_safety import date, defuse, quote
from app.tickets.actors import Actor
from app.tickets.enums import OPEN_STATUSES, AuthorKind, Priority, TicketSource, TicketStatus
from app.tickets.intake import IncomingMessage, is_request, permalink, subject_from
from app.tickets.models import Ticket, TicketMessage
from app.tickets.notifications import (
    fetch_source_message,
    post_in_customer_thread,
    post_in_triage_thread,
    post_triage_card,
    refresh_triage_card,
)
from app.tickets.service import (
    add_message,
    assign,
    find_ticket_by_root,
    find_ticket_by_triage_thread,
    open_ticket,
    record_agent_reply,
    record_customer_reply,
    record_ticket_event,
    resolve,
)
from app.workspaces.channels import get_watched_channel
from app.workspaces.models import WatchedChannel, Workspace
from app.workspaces.service import is_outside

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
        channel=channel,
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
            channel_id=channel_id, ts=item_ts, user_id=item_user_id, text=""
        )
        opened = await _open_from_message(
            session=session,
            workspace=workspace,
            channel=channel,
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
    await record_ticket_event(
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
        await refresh_triage_card(session=session, ticket=ticket, now=now)
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
    await record_ticket_event(
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
    channel: WatchedChannel | None,
    message: IncomingMessage,
    rules: IntakeRules,
    source: TicketSource,
    now: datetime,
    opened_by: str | None = None,
) -> Ticket:
    # The customer's own organisation is the account: its workspace, or its Grid org.
    requester_team = message.user_team_id or message.user_enterprise_id
    is_external = is_outside(
        workspace, team_id=message.user_team_id, enterprise_id=message.user_enterprise_id
    )
    account = (
        await team_name(session=session, team_id=requester_team)
        if is_external and requester_team
        else None
    )
    triage_channel = (
        (channel.triage_channel_id if channel and channel.triage_channel_id else None)
        or workspace.triage_channel_id
        or rules.default_triage_channel_id
    )
    ticket, created = await open_ticket(
        session=session,
        workspace_id=workspace.id,
        source=source,
        subject=subject_from(message.text) if message.text else "(fetching the message…)",
        requester_user_id=message.user_id,
        requester_team_id=requester_team,
        is_external=is_external,
        account_name=account,
        channel_id=message.channel_id,
        root_ts=message.ts,
        priority=channel.default_priority if channel else Priority.NORMAL,
        triage_channel_id=triage_channel,
        permalink=permalink(workspace.domain, message.channel_id, message.ts),
        now=now,
        actor=Actor.user(opened_by, None) if opened_by else Actor.system(),
    )
    if not created:
        return ticket
    await start_ticket_clocks(session=session, ticket=ticket, now=now)
    if message.text:
        await add_message(
            session=session,
            ticket=ticket,
            channel_id=message.channel_id,
            ts=message.ts,
            author_user_id=message.user_id,
            author_kind=AuthorKind.CUSTOMER,
            text=message.text,
            now=now,
            known_new=True,
        )
    await post_triage_card(session=session, ticket=ticket, now=now)
    if channel is not None:
        await _auto_assign(session=session, ticket=ticket, channel=channel, now=now)
    if channel is None or channel.auto_reply_enabled:
        template = (channel.auto_reply_text if channel else None) or rules.auto_reply_text
        await post_in_customer_thread(
            session=session,
            ticket=ticket,
            text=defuse(template.replace("{ticket}", ticket.display_number)),
            now=now,
        )
    if channel is not None and channel.off_hours_reply_enabled:
        await _reply_if_off_hours(
            session=session, ticket=ticket, channel=channel, rules=rules, now=now
        )
    if is_external and requester_team and account is None:
        await request_team_info(
            session=session, workspace_id=workspace.id, team_id=requester_team, now=now
        )
    return ticket


async def _auto_assign(
    *, session: AsyncSession, ticket: Ticket, channel: WatchedChannel, now: datetime
) -> None:
    choice = await choose_assignee(session=session, channel=channel, now=now)
    if choice is None:
        return
    assignee, load = choice
    mode = channel.auto_assign.value.replace("_", " ")
    await assign(
        session=session,
        ticket=ticket,
        assignee_user_id=assignee,
        actor=Actor.system(),
        now=now,
        reason=f"auto-assigned ({mode}, {load} open before)",
    )


async def _reply_if_off_hours(
    *,
    session: AsyncSession,
    ticket: Ticket,
    channel: WatchedChannel,
    rules: IntakeRules,
    now: datetime,
) -> None:
    """Outside business hours, tell the customer when the team is back."""
    calendar = await calendar_for(
        session=session, workspace_id=ticket.workspace_id, years=range(now.year, now.year + 2)
    )
    if calendar.is_open(now):
        return
    back, _ = next(calendar.open_intervals(now))
    when = date(back, "{date_short_pretty} at {time}", "%A %H:%M UTC")
    template = defuse(channel.off_hours_reply_text or rules.off_hours_reply_text)
    await post_in_customer_thread(
        session=session, ticket=ticket, text=template.replace("{back}", when), now=now
    )


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


async def _watched_channel_and_role(
    *, session: AsyncSession, workspace_id: int, channel_id: str, user_id: str
) -> tuple[WatchedChannel, Role | None] | None:
    """The channel's watch settings and the writer's role, in one round trip (the hot path)."""
    role = (
        select(TeamMember.role)
        .where(TeamMember.workspace_id == workspace_id, TeamMember.slack_user_id == user_id)
        .scalar_subquery()
    )
    row = (
        await session.execute(
            select(WatchedChannel, role).where(
                WatchedChannel.workspace_id == workspace_id,
                WatchedChannel.slack_channel_id == channel_id,
                WatchedChannel.unwatched_at.is_(None),
            )
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
        select(Ticket)
        .where(
            Ticket.workspace_id == workspace_id,
            Ticket.requester_user_id == requester_user_id,
            Ticket.status.in_(OPEN_STATUSES),
            Ticket.channel_id == channel_id,
            Ticket.last_customer_message_at >= since,
        )
        .order_by(Ticket.last_customer_message_at.desc())
        .limit(1)
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
