"""Opening a ticket by hand: an agent fills in a form (from a message's "Create ticket"
shortcut, the global shortcut, `/ticket new` or the Home tab) instead of a customer's message
opening it.

One transaction does what a message-opened ticket gets: the ticket, its audit event, the
description as its first message, the SLA clocks and the triage card. Made from a message, the
ticket's root is that message, so replies in its thread join it (and a second attempt finds
it). Made without one but with a channel, ticketbot posts in that channel and the post, once
delivered, becomes the root.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.directory.service import request_team_info, team_name
from app.errors import InvalidInput, NotAllowed, NotFound
from app.outbox.handlers import DeliveryHandlers
from app.outbox.service import enqueue_slack_call
from app.sla.tracking import start_ticket_clocks
from app.team.service import get_role
from app.text_safety import escape
from app.tickets.actors import Actor
from app.tickets.enums import AuthorKind, Priority, TicketSource
from app.tickets.intake import permalink
from app.tickets.models import Ticket
from app.tickets.notifications import post_triage_card, refresh_triage_card
from app.tickets.service import add_message, find_ticket_by_root, open_ticket
from app.workspaces.channels import get_watched_channel
from app.workspaces.models import Workspace
from app.workspaces.service import is_outside

MAX_SUBJECT_LENGTH = 255  # Ticket.subject
FORM_SOURCE = "slack_form"
"""`external_source` of tickets opened from a form; `external_id` is the form's id (the modal's
view id), so a form submitted twice opens one ticket."""
CHANNEL_POST_DELIVERED = "ticket.manual_channel_post_delivered"


class InvalidField(InvalidInput):
    """One field of the form is wrong; `field` names it so the form can show the message there."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class SourceMessage:
    """The Slack message a ticket is made from."""

    channel_id: str
    ts: str
    author_user_id: str | None = None
    author_team_id: str | None = None


@dataclass(frozen=True)
class NewTicket:
    """The form as filled in. `priority` is the raw choice (checked here, like the rest)."""

    subject: str
    description: str = ""
    priority: str = Priority.NORMAL.value
    requester_user_id: str | None = None
    channel_id: str | None = None
    source: SourceMessage | None = None
    form_id: str | None = None


async def open_ticket_by_hand(
    *,
    session: AsyncSession,
    workspace_id: int,
    new: NewTicket,
    actor_user_id: str,
    default_triage_channel_id: str | None,
    now: datetime,
) -> tuple[Ticket, bool]:
    """Open the ticket, or return the one this form already opened. (ticket, created)

    Raises NotAllowed for anyone not on the support team, InvalidField for a wrong field
    (including a message that already is a ticket).
    """
    role = await get_role(session=session, workspace_id=workspace_id, user_id=actor_user_id)
    if role is None:
        raise NotAllowed("Sorry, only support agents and leads can create tickets.")
    subject, priority = _checked(new)
    # The workspace row's lock (taken again by open_ticket to number the ticket) serialises
    # ticket creation, so the look-ups below cannot race a concurrent submission.
    workspace = await session.get(Workspace, workspace_id, with_for_update={"key_share": True})
    if workspace is None:
        raise NotFound(f"Workspace {workspace_id} does not exist.")
    if new.form_id:
        already = await session.scalar(
            select(Ticket).where(
                Ticket.workspace_id == workspace_id,
                Ticket.external_source == FORM_SOURCE,
                Ticket.external_id == new.form_id,
            )
        )
        if already is not None:
            return already, False
    source = new.source
    if source is not None:
        existing = await find_ticket_by_root(
            session=session,
            workspace_id=workspace_id,
            channel_id=source.channel_id,
            root_ts=source.ts,
        )
        if existing is not None:
            raise InvalidField("subject", f"This message is already {existing.display_number}.")
    channel_id = source.channel_id if source else new.channel_id
    requester = new.requester_user_id
    requester_team = (
        source.author_team_id if source and requester == source.author_user_id else None
    )
    is_external = bool(requester_team) and is_outside(
        workspace, team_id=requester_team, enterprise_id=None
    )
    account = (
        await team_name(session=session, team_id=requester_team)
        if is_external and requester_team
        else None
    )
    ticket, created = await open_ticket(
        session=session,
        workspace_id=workspace_id,
        source=TicketSource.COMMAND,
        subject=subject,
        requester_user_id=requester,
        requester_team_id=requester_team,
        is_external=is_external,
        account_name=account,
        channel_id=channel_id,
        root_ts=source.ts if source else None,
        priority=priority,
        triage_channel_id=await _triage_channel(
            session, workspace, channel_id, default_triage_channel_id
        ),
        permalink=permalink(workspace.domain, source.channel_id, source.ts) if source else None,
        now=now,
        actor=Actor.user(actor_user_id, role),
    )
    if not created:  # unreachable while the workspace lock is held; kept for safety
        return ticket, False
    if new.form_id:
        ticket.external_source, ticket.external_id = FORM_SOURCE, new.form_id
    await start_ticket_clocks(session=session, ticket=ticket, now=now)
    await _store_description(session, ticket, new, actor_user_id, now)
    await post_triage_card(session=session, ticket=ticket, now=now)
    if source is None and channel_id:
        await _post_in_channel(session, ticket, channel_id, now)
    if is_external and requester_team and account is None:
        await request_team_info(
            session=session, workspace_id=workspace_id, team_id=requester_team, now=now
        )
    return ticket, True


def _checked(new: NewTicket) -> tuple[str, Priority]:
    subject = new.subject.strip()
    if not subject:
        raise InvalidField("subject", "Write a subject.")
    if len(subject) > MAX_SUBJECT_LENGTH:
        raise InvalidField(
            "subject",
            f"Keep the subject to {MAX_SUBJECT_LENGTH} characters (it has {len(subject)}).",
        )
    try:
        priority = Priority(new.priority)
    except ValueError:
        raise InvalidField("priority", f"Unknown priority {new.priority!r}.") from None
    if new.source and new.channel_id and new.channel_id != new.source.channel_id:
        raise InvalidField(
            "channel", "A ticket made from a message stays in that message's channel."
        )
    return subject, priority


async def _triage_channel(
    session: AsyncSession, workspace: Workspace, channel_id: str | None, default: str | None
) -> str | None:
    """As for a message-opened ticket: the channel's own triage channel, else the workspace's."""
    watched = (
        await get_watched_channel(session=session, workspace_id=workspace.id, channel_id=channel_id)
        if channel_id
        else None
    )
    return (
        (watched.triage_channel_id if watched else None) or workspace.triage_channel_id or default
    )


async def _store_description(
    session: AsyncSession, ticket: Ticket, new: NewTicket, actor_user_id: str, now: datetime
) -> None:
    """The description is the conversation's first message, written by the requester (typed
    in the form: plain text, stored as Slack text like every message)."""
    text = escape(new.description.strip())
    if not text:
        return
    author, kind = actor_user_id, AuthorKind.AGENT
    if new.requester_user_id:
        on_team = await get_role(
            session=session, workspace_id=ticket.workspace_id, user_id=new.requester_user_id
        )
        author, kind = new.requester_user_id, AuthorKind.AGENT if on_team else AuthorKind.CUSTOMER
    source = new.source
    await add_message(
        session=session,
        ticket=ticket,
        # Without a source message the text comes from the form: a made-up ts keeps it unique.
        channel_id=source.channel_id if source else (ticket.channel_id or "form"),
        ts=source.ts if source else f"form-{secrets.token_hex(12)}",
        author_user_id=author,
        author_kind=kind,
        text=text,
        now=now,
        known_new=True,
    )


async def _post_in_channel(
    session: AsyncSession, ticket: Ticket, channel_id: str, now: datetime
) -> None:
    """Tell the channel; the post's thread becomes the ticket's conversation once delivered."""
    who = f"<@{ticket.requester_user_id}> we've" if ticket.requester_user_id else "We've"
    subject = escape(ticket.subject)
    await enqueue_slack_call(
        session=session,
        method="chat.postMessage",
        payload={
            "channel": channel_id,
            "text": f"{who} opened *{ticket.display_number}* for you: {subject}",
            "unfurl_links": False,
            "unfurl_media": False,
        },
        now=now,
        workspace_id=ticket.workspace_id,
        on_delivered=CHANNEL_POST_DELIVERED,
        on_delivered_args={"ticket_id": ticket.id},
    )


async def channel_post_delivered(
    session: AsyncSession, args: dict[str, Any], result: dict[str, Any], now: datetime
) -> None:
    """The channel post is out: its ts is the ticket's root, so thread replies join it."""
    ticket = await session.get(Ticket, args["ticket_id"])
    if ticket is None or ticket.root_ts or not result.get("ts"):
        return
    ticket.channel_id = result.get("channel") or ticket.channel_id
    ticket.root_ts = result["ts"]
    workspace = await session.get(Workspace, ticket.workspace_id)
    if ticket.channel_id:
        domain = workspace.domain if workspace else None
        ticket.permalink = permalink(domain, ticket.channel_id, ticket.root_ts)
    await refresh_triage_card(session=session, ticket=ticket, now=now)


def register_manual_ticket_handlers(handlers: DeliveryHandlers) -> None:
    handlers.register(CHANNEL_POST_DELIVERED, channel_post_delivered)
