"""Inbound webhooks: another system opens and updates tickets by POSTing signed JSON.

Each source has a name (the last segment of its URL), a secret, and optionally a Slack channel.
The first request for an `external_id` opens a ticket; later ones update it. A new ticket is
posted in the source's channel as if its requester had written there (that post, once
delivered, becomes the ticket's root, so replies in its thread join the ticket), gets its
triage card and starts its SLA clocks, like a ticket opened by a customer's message.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import InvalidInput, NotFound
from app.outbox.handlers import DeliveryHandlers
from app.outbox.service import enqueue_slack_call
from app.sla.tracking import start_ticket_clocks
from app.text_safety import escape
from app.tickets.actors import Actor
from app.tickets.enums import (
    OPEN_STATUSES,
    ActorKind,
    AuthorKind,
    Priority,
    TicketSource,
    TicketStatus,
)
from app.tickets.intake import permalink
from app.tickets.models import Ticket
from app.tickets.notifications import post_triage_card, refresh_triage_card
from app.tickets.service import add_message, open_ticket, record_ticket_event
from app.tickets.updates import TicketChanges, update_ticket
from app.webhooks.enums import WebhookEventType
from app.webhooks.events import emit_ticket_event
from app.webhooks.models import InboundSource
from app.webhooks.signing import new_secret
from app.workspaces.channels import get_watched_channel
from app.workspaces.models import Workspace

SOURCE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{2,31}$")
MAX_SUBJECT_LENGTH = 255  # Ticket.subject
POST_MAX_DESCRIPTION = 2800
INBOUND_POST_DELIVERED = "webhooks.inbound_post_delivered"
SETTABLE_STATUSES = (TicketStatus.OPEN, TicketStatus.RESOLVED, TicketStatus.CLOSED)


@dataclass(frozen=True)
class CreatedSource:
    """A new source and its signing secret, returned to the caller this once."""

    source: InboundSource
    secret: str


@dataclass(frozen=True)
class Requester:
    email: str | None = None
    name: str | None = None
    slack_user_id: str | None = None

    def describe(self) -> str:
        """Who wrote, as the channel post says it."""
        if self.slack_user_id:
            return f"<@{self.slack_user_id}>"
        if self.name and self.email:
            return f"{escape(self.name)} ({escape(self.email)})"
        return escape(self.name or self.email or "someone")


@dataclass(frozen=True)
class InboundTicket:
    """One request from a source, already checked for shape by the adapter."""

    external_id: str
    subject: str
    description: str = ""
    requester: Requester = Requester()
    priority: Priority | None = None
    status: TicketStatus | None = None
    account: str | None = None


# -- sources -------------------------------------------------------------------------------


async def add_source(
    *,
    session: AsyncSession,
    workspace_id: int,
    name: str,
    channel_id: str | None,
    now: datetime,
) -> CreatedSource:
    name = name.strip().lower()
    if not SOURCE_NAME.fullmatch(name):
        raise InvalidInput(
            f"{name!r} cannot name a source: use up to 64 lowercase letters, digits, - and _."
        )
    if channel_id is not None and not CHANNEL_ID.fullmatch(channel_id):
        raise InvalidInput(f"{channel_id!r} is not a Slack channel id (like C0123ABCD).")
    taken = await session.scalar(select(InboundSource.id).where(InboundSource.name == name))
    if taken is not None:
        raise InvalidInput(f"There is already an inbound source named {name!r}.")
    secret = new_secret()
    source = InboundSource(
        workspace_id=workspace_id, name=name, secret=secret, channel_id=channel_id, created_at=now
    )
    session.add(source)
    await session.flush()
    return CreatedSource(source=source, secret=secret)


async def list_sources(*, session: AsyncSession) -> list[InboundSource]:
    return list(await session.scalars(select(InboundSource).order_by(InboundSource.name)))


async def find_source(*, session: AsyncSession, name: str) -> InboundSource:
    name = name.lower()
    source = (
        await session.scalar(select(InboundSource).where(InboundSource.name == name))
        if SOURCE_NAME.fullmatch(name)
        else None
    )
    if source is None:
        raise NotFound(f"There is no inbound source named {name!r}.")
    return source


async def remove_source(*, session: AsyncSession, name: str) -> InboundSource:
    """Forget a source: its URL answers 404 from now on. Its tickets stay."""
    source = await find_source(session=session, name=name)
    await session.delete(source)
    await session.flush()
    return source


# -- requests ------------------------------------------------------------------------------


def source_actor(source: InboundSource) -> Actor:
    return Actor(ActorKind.WEBHOOK, source.name)


async def receive(
    *,
    session: AsyncSession,
    source: InboundSource,
    request: InboundTicket,
    default_triage_channel_id: str | None,
    now: datetime,
) -> tuple[Ticket, bool]:
    """Open the ticket for `request.external_id`, or update the one it opened. (ticket, created)

    Ticket creation is serialised per workspace (the workspace row is locked to number the
    ticket), and the lookup is repeated under that lock, so concurrent retries of one request
    open one ticket. The unique (workspace, external source, external id) constraint backs this
    up: the caller answers an IntegrityError by running this again, which then updates.
    """
    ticket = await _find_ticket(session, source, request.external_id)
    if ticket is None:
        await session.get(Workspace, source.workspace_id, with_for_update={"key_share": True})
        ticket = await _find_ticket(session, source, request.external_id)
    if ticket is not None:
        await _update(session, source, ticket, request, now)
        return ticket, False
    return await _open(session, source, request, default_triage_channel_id, now), True


async def _find_ticket(
    session: AsyncSession, source: InboundSource, external_id: str
) -> Ticket | None:
    return await session.scalar(
        select(Ticket)
        .where(
            Ticket.workspace_id == source.workspace_id,
            Ticket.external_source == source.name,
            Ticket.external_id == external_id,
        )
        .with_for_update(key_share=True)
    )


async def _open(
    session: AsyncSession,
    source: InboundSource,
    request: InboundTicket,
    default_triage_channel_id: str | None,
    now: datetime,
) -> Ticket:
    workspace = await session.get(Workspace, source.workspace_id)
    if workspace is None:
        raise NotFound(f"Workspace {source.workspace_id} does not exist.")
    watched = (
        await get_watched_channel(
            session=session, workspace_id=workspace.id, channel_id=source.channel_id
        )
        if source.channel_id
        else None
    )
    ticket, _ = await open_ticket(
        session=session,
        workspace_id=workspace.id,
        source=TicketSource.INBOUND_WEBHOOK,
        subject=_subject(request.subject),
        requester_user_id=request.requester.slack_user_id,
        channel_id=source.channel_id,
        root_ts=None,
        now=now,
        actor=source_actor(source),
        account_name=request.account,
        priority=request.priority
        or (watched.default_priority if watched else None)
        or Priority.NORMAL,
        triage_channel_id=(watched.triage_channel_id if watched else None)
        or workspace.triage_channel_id
        or default_triage_channel_id,
        external_source=source.name,
        external_id=request.external_id,
    )
    await start_ticket_clocks(session=session, ticket=ticket, now=now)
    await add_message(
        session=session,
        ticket=ticket,
        # The request is the conversation's first message; a made-up ts keeps it unique.
        channel_id=source.channel_id or f"inbound:{source.name}",
        ts=f"inbound-{secrets.token_hex(12)}",
        author_user_id=request.requester.slack_user_id,
        author_kind=AuthorKind.CUSTOMER,
        text=escape(request.description.strip() or ticket.subject),  # stored as Slack text
        now=now,
        known_new=True,
    )
    await post_triage_card(session=session, ticket=ticket, now=now)
    if source.channel_id:
        await _post_in_channel(session, source, ticket, request, now)
    if request.status is not None:
        await _update(session, source, ticket, request, now)  # e.g. reported already resolved
    return ticket


async def _update(
    session: AsyncSession,
    source: InboundSource,
    ticket: Ticket,
    request: InboundTicket,
    now: datetime,
) -> None:
    """Apply what changed, each through the service that owns it (audit, card, webhooks)."""
    actor = source_actor(source)
    subject = _subject(request.subject)
    if subject != ticket.subject:
        previous, ticket.subject, ticket.updated_at = ticket.subject, subject, now
        await record_ticket_event(
            session=session,
            ticket=ticket,
            kind="subject_changed",
            actor=actor,
            now=now,
            previous=previous,
            subject=subject,
        )
        await refresh_triage_card(session=session, ticket=ticket, now=now)
        await emit_ticket_event(
            session=session,
            ticket=ticket,
            event_type=WebhookEventType.TICKET_UPDATED,
            now=now,
            changes={"subject": {"previous": previous, "current": subject}},
        )
    if request.account is not None and request.account != ticket.account_name:
        ticket.account_name, ticket.updated_at = request.account, now
        await refresh_triage_card(session=session, ticket=ticket, now=now)
    status = request.status
    if status is TicketStatus.OPEN and ticket.status in OPEN_STATUSES:
        status = None  # "open" from a source means "not resolved"; triage states stay ours
    elif status is TicketStatus.RESOLVED and ticket.status is TicketStatus.CLOSED:
        status = None  # closed is resolved for good
    elif status is ticket.status:
        status = None
    priority = request.priority if request.priority is not ticket.priority else None
    if ticket.status not in OPEN_STATUSES and status is not TicketStatus.OPEN:
        priority = None  # only an active ticket takes a new priority
    await update_ticket(
        session=session,
        ticket=ticket,
        changes=TicketChanges(priority=priority, status=status),
        actor=actor,
        now=now,
    )


async def _post_in_channel(
    session: AsyncSession,
    source: InboundSource,
    ticket: Ticket,
    request: InboundTicket,
    now: datetime,
) -> None:
    """Post the request in the source's channel as its requester's message; the post's thread
    becomes the ticket's conversation once it is delivered."""
    description = request.description.strip()
    if len(description) > POST_MAX_DESCRIPTION:
        description = description[:POST_MAX_DESCRIPTION] + "…"
    lines = [f"*{escape(ticket.subject)}*"]
    if description:
        lines.append(escape(description))
    lines.append(f"_{request.requester.describe()} via {source.name} · {ticket.display_number}_")
    payload: dict[str, Any] = {
        "channel": source.channel_id,
        "text": "\n".join(lines),
        "unfurl_links": False,
        "unfurl_media": False,
    }
    name = request.requester.name or request.requester.email
    if name and not request.requester.slack_user_id:
        payload["username"] = f"{name} (via {source.name})"[:80]
    await enqueue_slack_call(
        session=session,
        method="chat.postMessage",
        payload=payload,
        now=now,
        workspace_id=ticket.workspace_id,
        on_delivered=INBOUND_POST_DELIVERED,
        on_delivered_args={"ticket_id": ticket.id},
    )


async def inbound_post_delivered(
    session: AsyncSession, args: dict[str, Any], result: dict[str, Any], now: datetime
) -> None:
    """The channel post is out: its ts is the ticket's root, so thread replies join it."""
    ticket = await session.get(Ticket, args["ticket_id"], with_for_update={"key_share": True})
    if ticket is None or ticket.root_ts or not result.get("ts"):
        return
    ticket.channel_id = result.get("channel") or ticket.channel_id
    ticket.root_ts = result["ts"]
    workspace = await session.get(Workspace, ticket.workspace_id)
    if ticket.channel_id:
        ticket.permalink = permalink(
            workspace.domain if workspace else None, ticket.channel_id, ticket.root_ts
        )
    await refresh_triage_card(session=session, ticket=ticket, now=now)


def register_inbound_handlers(handlers: DeliveryHandlers) -> None:
    handlers.register(INBOUND_POST_DELIVERED, inbound_post_delivered)


def _subject(subject: str) -> str:
    subject = " ".join(subject.split())
    if not subject:
        raise InvalidInput("subject must not be empty.")
    if len(subject) > MAX_SUBJECT_LENGTH:
        subject = subject[: MAX_SUBJECT_LENGTH - 1] + "…"
    return subject
