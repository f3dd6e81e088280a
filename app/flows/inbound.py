"""What an inbound webhook request does: the first request for an `external_id` opens a ticket
(through app/flows/open_ticket.py, like every other), later ones update it (through
app/flows/changes.py, like `/ticket` and `PATCH /api/tickets`).

A new ticket is posted in the source's channel as if its requester had written there; that
post, once delivered, becomes the ticket's root, so replies in its thread join the ticket.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import InvalidInput, NotFound
from app.flows.changes import update_ticket
from app.flows.open_ticket import FirstMessage, NewTicket, open_ticket
from app.text_safety import escape
from app.tickets.changes import TicketChanges
from app.tickets.enums import OPEN_STATUSES, AuthorKind, TicketSource, TicketStatus
from app.tickets.models import Ticket
from app.webhooks.inbound import InboundTicket, source_actor
from app.webhooks.models import InboundSource
from app.workspaces.models import Workspace

MAX_SUBJECT_LENGTH = 255  # Ticket.subject
POST_MAX_DESCRIPTION = 2800


async def receive(
    *,
    session: AsyncSession,
    source: InboundSource,
    request: InboundTicket,
    default_triage_channel_id: str | None,
    now: datetime,
) -> tuple[Ticket, bool]:
    """Open the ticket for `request.external_id`, or update the one it opened. (ticket, created)

    Concurrent retries of one request open one ticket: the later one's insert waits for the
    first to commit, stores nothing (`insert_ticket`, on the unique workspace + source +
    external id), and updates the first's ticket instead. The caller answers an IntegrityError
    (a race on any other constraint) by running this again, which then updates.
    """
    ticket = await _find_ticket(session, source, request.external_id)
    if ticket is not None:
        await _update(session, source, ticket, request, now)
        return ticket, False
    return await _open(session, source, request, default_triage_channel_id, now)


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
) -> tuple[Ticket, bool]:
    workspace = await session.get(Workspace, source.workspace_id)
    if workspace is None:
        raise NotFound(f"Workspace {source.workspace_id} does not exist.")
    requester = request.requester
    name = requester.name or requester.email
    ticket, created = await open_ticket(
        session=session,
        new=NewTicket(
            workspace=workspace,
            source=TicketSource.INBOUND_WEBHOOK,
            subject=_subject(request.subject),
            actor=source_actor(source),
            requester_user_id=requester.slack_user_id,
            account_name=request.account,
            requester_email=requester.email,
            channel_id=source.channel_id,
            priority=request.priority,
            first_message=FirstMessage(
                # Stored as Slack text; a made-up ts keeps it unique in the conversation.
                text=escape(request.description.strip() or _subject(request.subject)),
                author_user_id=requester.slack_user_id,
                author_kind=AuthorKind.CUSTOMER,
                channel_id=source.channel_id or f"inbound:{source.name}",
                ts=f"inbound-{secrets.token_hex(12)}",
            ),
            external_source=source.name,
            external_id=request.external_id,
            channel_post=lambda ticket: _channel_post(source, ticket, request),
            post_as=(
                f"{name} (via {source.name})" if name and not requester.slack_user_id else None
            ),
        ),
        default_triage_channel_id=default_triage_channel_id,
        now=now,
    )
    if not created:  # the same request, opened at this very moment: this one updates it
        await _update(session, source, ticket, request, now)
    elif request.status is not None:
        await _update(session, source, ticket, request, now)  # e.g. reported already resolved
    return ticket, created


async def _update(
    session: AsyncSession,
    source: InboundSource,
    ticket: Ticket,
    request: InboundTicket,
    now: datetime,
) -> None:
    """What the source says has changed, applied by the same path as every other update."""
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
        changes=TicketChanges(
            subject=_subject(request.subject),
            account_name=request.account,
            priority=priority,
            status=status,
        ),
        actor=source_actor(source),
        now=now,
    )


def _channel_post(source: InboundSource, ticket: Ticket, request: InboundTicket) -> str:
    """The request in the source's channel, as its requester's message."""
    description = request.description.strip()
    if len(description) > POST_MAX_DESCRIPTION:
        description = description[:POST_MAX_DESCRIPTION] + "…"
    lines = [f"*{escape(ticket.subject)}*"]
    if description:
        lines.append(escape(description))
    lines.append(f"_{request.requester.describe()} via {source.name} · {ticket.display_number}_")
    return "\n".join(lines)


def _subject(subject: str) -> str:
    subject = " ".join(subject.split())
    if not subject:
        raise InvalidInput("subject must not be empty.")
    if len(subject) > MAX_SUBJECT_LENGTH:
        subject = subject[: MAX_SUBJECT_LENGTH - 1] + "…"
    return subject
