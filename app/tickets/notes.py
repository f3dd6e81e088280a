"""Internal notes: words for the team about a ticket, never shown to the customer.

A note is stored as an internal message of the ticket's conversation and posted in the triage
thread under the card. Notes do not come from Slack, so each gets a made-up `ts` (`note-...`)
to stay unique within the conversation.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import InvalidInput
from app.text_safety import defuse, escape, unescape
from app.tickets.actors import Actor
from app.tickets.audit import record_ticket_event
from app.tickets.enums import ActorKind, AuthorKind
from app.tickets.models import Ticket, TicketMessage
from app.tickets.notifications import post_in_triage_thread

MAX_NOTE_LENGTH = 4000
NO_TRIAGE_CHANNEL = "api"
"""The `channel_id` of notes on a ticket that has no triage channel."""


def note_ts() -> str:
    return f"note-{secrets.token_hex(12)}"  # fits TicketMessage.ts (32 characters)


async def add_note(
    *, session: AsyncSession, ticket: Ticket, text: str, actor: Actor, now: datetime
) -> TicketMessage:
    """`text` is Slack text, like every message of a conversation: what `/ticket note` got
    from Slack, or plain text from the API escaped by the API (`app.text_safety.escape`)."""
    text = text.strip()
    if not text:
        raise InvalidInput("A note needs some text.")
    if len(unescape(text)) > MAX_NOTE_LENGTH:
        raise InvalidInput(f"A note is at most {MAX_NOTE_LENGTH} characters.")
    if "\x00" in text:
        raise InvalidInput("A note must not contain NUL characters.")
    is_user = actor.kind is ActorKind.USER
    author_kind = AuthorKind.AGENT if is_user else AuthorKind.BOT
    message = TicketMessage(
        ticket_id=ticket.id,
        channel_id=ticket.triage_channel_id or NO_TRIAGE_CHANNEL,
        ts=note_ts(),
        author_user_id=actor.id if is_user else None,
        author_kind=author_kind,
        is_internal=True,
        text=text,
        created_at=now,
    )
    session.add(message)
    ticket.updated_at = now
    record_ticket_event(
        session=session,
        ticket=ticket,
        kind="note_added",
        actor=actor,
        now=now,
        ts=message.ts,
        author_kind=author_kind.value,
    )
    await post_in_triage_thread(
        session=session,
        ticket=ticket,
        text=f":memo: Note from {_who(actor)}:\n{defuse(text)}",
        now=now,
    )
    return message


def _who(actor: Actor) -> str:
    if actor.kind is ActorKind.USER and actor.id:
        return f"<@{actor.id}>"
    if actor.kind is ActorKind.API_KEY and actor.id:
        return f"API key `{escape(actor.id)}`"
    return "ticketbot"
