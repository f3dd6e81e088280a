"""Opening a ticket by hand: a form filled in by an agent (from a message's "Create ticket"
shortcut, the global shortcut, `/ticket new` or the Home tab) or by an API client
(`POST /api/tickets`), instead of a customer's message opening it.

The form is checked here; the ticket is opened by app/flows/open_ticket.py like every other.
Made from a message, the ticket's root is that message, so replies in its thread join it (and a
second attempt finds it). Made without one but with a channel, ticketbot posts in that channel
and the post, once delivered, becomes the root.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import InvalidInput, NotAllowed, NotFound
from app.flows.open_ticket import FirstMessage, NewTicket, open_ticket
from app.team.service import get_role
from app.text_safety import escape
from app.tickets.actors import Actor
from app.tickets.enums import ActorKind, AuthorKind, Priority, TicketSource
from app.tickets.models import Ticket
from app.tickets.service import find_ticket_by_root
from app.workspaces.models import Workspace

MAX_SUBJECT_LENGTH = 255  # Ticket.subject
FORM_SOURCE = "slack_form"
"""`external_source` of tickets opened from a form; `external_id` is the form's id (the modal's
view id), so a form submitted twice opens one ticket."""


class InvalidField(InvalidInput):
    """One field of the form is wrong; `field` names it so the form can show the message there."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message, field=field)


@dataclass(frozen=True)
class SourceMessage:
    """The Slack message a ticket is made from."""

    channel_id: str
    ts: str
    author_user_id: str | None = None
    author_team_id: str | None = None


@dataclass(frozen=True)
class TicketForm:
    """The form as filled in (plain text). `priority` is the raw choice, checked here."""

    subject: str
    description: str = ""
    priority: str = Priority.NORMAL.value
    requester_user_id: str | None = None
    channel_id: str | None = None
    source: SourceMessage | None = None
    form_id: str | None = None
    form_source: str = FORM_SOURCE


async def open_ticket_by_hand(
    *,
    session: AsyncSession,
    workspace_id: int,
    form: TicketForm,
    actor: Actor,
    default_triage_channel_id: str | None,
    now: datetime,
) -> tuple[Ticket, bool]:
    """Open the ticket, or return the one this form already opened. (ticket, created)

    Raises NotAllowed for anyone not on the support team, InvalidField for a wrong field
    (including a message that already is a ticket).
    """
    if not actor.may_triage:
        raise NotAllowed("Sorry, only support agents and leads can create tickets.")
    subject, priority = _checked(form)
    # Two submissions at the same moment are told apart by the unique constraints (form id,
    # source message): the second is turned away (409 in the API, a retry in Slack) and, sent
    # again, finds the first below.
    workspace = await session.get(Workspace, workspace_id, with_for_update={"key_share": True})
    if workspace is None:
        raise NotFound(f"Workspace {workspace_id} does not exist.")
    if form.form_id:
        already = await session.scalar(
            select(Ticket).where(
                Ticket.workspace_id == workspace_id,
                Ticket.external_source == form.form_source,
                Ticket.external_id == form.form_id,
            )
        )
        if already is not None:
            return already, False
    source = form.source
    if source is not None:
        existing = await find_ticket_by_root(
            session=session,
            workspace_id=workspace_id,
            channel_id=source.channel_id,
            root_ts=source.ts,
        )
        if existing is not None:
            raise InvalidField("subject", f"This message is already {existing.display_number}.")
    channel_id = source.channel_id if source else form.channel_id
    requester = form.requester_user_id
    return await open_ticket(
        session=session,
        new=NewTicket(
            workspace=workspace,
            source=TicketSource.COMMAND if actor.kind is ActorKind.USER else TicketSource.API,
            subject=subject,
            actor=actor,
            requester_user_id=requester,
            requester_team_id=(
                source.author_team_id if source and requester == source.author_user_id else None
            ),
            channel_id=channel_id,
            root_ts=source.ts if source else None,
            priority=priority,
            first_message=await _description(session, workspace_id, form, actor),
            external_source=form.form_source if form.form_id else None,
            external_id=form.form_id,
            channel_post=_channel_post,
        ),
        default_triage_channel_id=default_triage_channel_id,
        now=now,
        root_checked=True,  # looked for above
    )


def _checked(form: TicketForm) -> tuple[str, Priority]:
    subject = form.subject.strip()
    if not subject:
        raise InvalidField("subject", "Write a subject.")
    if len(subject) > MAX_SUBJECT_LENGTH:
        raise InvalidField(
            "subject",
            f"Keep the subject to {MAX_SUBJECT_LENGTH} characters (it has {len(subject)}).",
        )
    try:
        priority = Priority(form.priority)
    except ValueError:
        raise InvalidField("priority", f"Unknown priority {form.priority!r}.") from None
    if form.source and form.channel_id and form.channel_id != form.source.channel_id:
        raise InvalidField(
            "channel", "A ticket made from a message stays in that message's channel."
        )
    return subject, priority


async def _description(
    session: AsyncSession, workspace_id: int, form: TicketForm, actor: Actor
) -> FirstMessage | None:
    """The description is the conversation's first message, written by the requester (typed
    in the form: plain text, stored as Slack text like every message)."""
    text = escape(form.description.strip())
    if not text:
        return None
    author, kind = actor.id if actor.kind is ActorKind.USER else None, AuthorKind.AGENT
    if form.requester_user_id:
        on_team = await get_role(
            session=session, workspace_id=workspace_id, user_id=form.requester_user_id
        )
        author, kind = form.requester_user_id, AuthorKind.AGENT if on_team else AuthorKind.CUSTOMER
    source = form.source
    return FirstMessage(
        text=text,
        author_user_id=author,
        author_kind=kind,
        # Without a source message the text comes from the form: a made-up ts keeps it unique.
        channel_id=source.channel_id if source else (form.channel_id or "form"),
        ts=source.ts if source else f"form-{secrets.token_hex(12)}",
    )


def _channel_post(ticket: Ticket) -> str:
    """Tell the channel; the post's thread becomes the ticket's conversation once delivered."""
    who = f"<@{ticket.requester_user_id}> we've" if ticket.requester_user_id else "We've"
    return f"{who} opened *{ticket.display_number}* for you: {escape(ticket.subject)}"
