"""What ticket changes owe Slack, written to the outbox in the same transaction as the change.

Block Kit is not built here (services never import the Slack adapter): the triage card is
queued as a render spec, `{"$render": {"view": "triage_card", "ticket_id": ...}}`, and the
adapter renders the ticket's state at the moment of sending. One pending card update therefore
carries every change made before it goes out, so updates are coalesced per ticket.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.outbox.enums import OutboxStatus
from app.outbox.models import OutboxMessage
from app.outbox.service import enqueue_slack_call, prefetch_waiting
from app.text_safety import escape, link
from app.tickets.actors import Actor
from app.tickets.enums import ActorKind
from app.tickets.models import Ticket

TRIAGE_CARD_VIEW = "triage_card"
TRIAGE_CARD_POSTED = "ticket.triage_card_posted"
SOURCE_MESSAGE_FETCHED = "ticket.source_message_fetched"


def _card_spec(ticket: Ticket) -> dict[str, object]:
    return {"$render": {"view": TRIAGE_CARD_VIEW, "ticket_id": ticket.id}}


def _card_post_key(ticket: Ticket) -> str:
    return f"triage_card_post:{ticket.id}"


async def _card_ts_or_pending_post(
    session: AsyncSession, ticket: Ticket
) -> tuple[str | None, OutboxMessage | None]:
    """The card's ts if it is posted, else its chat.postMessage still on its way.

    The ticket row is re-read under lock first: the transaction recording the card's delivery
    may be committing right now, and reading the ticket before it and the outbox after it would
    find neither the ts nor a pending post.
    """
    if ticket.triage_card_ts:
        return ticket.triage_card_ts, None
    await session.flush()  # the post may have been queued in this very transaction
    await session.refresh(
        ticket, attribute_names=["triage_card_ts"], with_for_update={"key_share": True}
    )
    if ticket.triage_card_ts:
        return ticket.triage_card_ts, None
    return None, await session.scalar(
        select(OutboxMessage).where(
            OutboxMessage.coalesce_key == _card_post_key(ticket),
            OutboxMessage.status == OutboxStatus.PENDING,
        )
    )


async def post_triage_card(*, session: AsyncSession, ticket: Ticket, now: datetime) -> None:
    """Post the ticket's card to its triage channel; its ts comes back to the ticket."""
    if not ticket.triage_channel_id:
        return
    await enqueue_slack_call(
        session=session,
        method="chat.postMessage",
        payload={"channel": ticket.triage_channel_id, **_card_spec(ticket)},
        now=now,
        workspace_id=ticket.workspace_id,
        on_delivered=TRIAGE_CARD_POSTED,
        on_delivered_args={"ticket_id": ticket.id},
        coalesce_key=_card_post_key(ticket),
        coalesce=False,
        flush=False,
    )


def _card_update_key(ticket_id: int) -> str:
    return f"triage_card:{ticket_id}"


async def prefetch_card_updates(*, session: AsyncSession, ticket_ids: Iterable[int]) -> None:
    """Look up the waiting card updates of these tickets at once, for a group of timers that
    each redraw their ticket's card (see `prefetch_waiting`)."""
    await prefetch_waiting(
        session=session, coalesce_keys=[_card_update_key(ticket_id) for ticket_id in ticket_ids]
    )


async def refresh_triage_card(*, session: AsyncSession, ticket: Ticket, now: datetime) -> None:
    """Edit the card in place to show the ticket as it is when the update is sent."""
    options: dict[str, object] = {}
    payload: dict[str, object] = {"channel": ticket.triage_channel_id, **_card_spec(ticket)}
    card_ts, card_post = await _card_ts_or_pending_post(session, ticket)
    if card_ts:
        payload["ts"] = card_ts
    elif card_post is not None:
        options = {"depends_on": card_post, "payload_from_dependency": {"ts": "ts"}}
    else:
        return
    await enqueue_slack_call(
        session=session,
        method="chat.update",
        payload=payload,
        now=now,
        workspace_id=ticket.workspace_id,
        coalesce_key=_card_update_key(ticket.id),
        flush=False,  # written with the transaction's next flush: nobody needs its id now
        **options,
    )


async def post_in_triage_thread(
    *, session: AsyncSession, ticket: Ticket, text: str, now: datetime
) -> None:
    """Post under the triage card (the team's view of the conversation)."""
    if not ticket.triage_channel_id:
        return
    payload: dict[str, object] = {
        "channel": ticket.triage_channel_id,
        "text": text,
        "unfurl_links": False,
        "unfurl_media": False,
    }
    options: dict[str, object] = {}
    card_ts, card_post = await _card_ts_or_pending_post(session, ticket)
    if card_ts:
        payload["thread_ts"] = card_ts
    elif card_post is not None:
        options = {"depends_on": card_post, "payload_from_dependency": {"thread_ts": "ts"}}
    else:
        return
    await enqueue_slack_call(
        session=session,
        method="chat.postMessage",
        payload=payload,
        now=now,
        workspace_id=ticket.workspace_id,
        flush=False,  # written with the transaction's next flush: nobody needs its id now
        **options,
    )


async def post_in_customer_thread(
    *, session: AsyncSession, ticket: Ticket, text: str, now: datetime
) -> None:
    """Reply to the customer, in the thread of the message that opened the ticket."""
    if not (ticket.channel_id and ticket.root_ts):
        return
    await enqueue_slack_call(
        session=session,
        method="chat.postMessage",
        payload={"channel": ticket.channel_id, "thread_ts": ticket.root_ts, "text": text},
        now=now,
        workspace_id=ticket.workspace_id,
        flush=False,
    )


async def fetch_source_message(*, session: AsyncSession, ticket: Ticket, now: datetime) -> None:
    """Read the message a reaction turned into a ticket (reaction events carry no text)."""
    if not (ticket.channel_id and ticket.root_ts):
        return
    await enqueue_slack_call(
        session=session,
        method="conversations.history",
        payload={
            "channel": ticket.channel_id,
            "latest": ticket.root_ts,
            "oldest": ticket.root_ts,
            "inclusive": True,
            "limit": 1,
        },
        now=now,
        workspace_id=ticket.workspace_id,
        on_delivered=SOURCE_MESSAGE_FETCHED,
        on_delivered_args={"ticket_id": ticket.id, "ts": ticket.root_ts},
    )


async def tell_assignee(
    *, session: AsyncSession, ticket: Ticket, actor: Actor, reason: str | None, now: datetime
) -> None:
    """A direct message to the person the ticket was just given to."""
    if not ticket.assignee_user_id:
        return
    by = (
        f"<@{actor.id}>"
        if actor.kind is ActorKind.USER and actor.id
        else escape(reason or "ticketbot")
    )
    where = f" in <#{ticket.channel_id}>" if ticket.channel_id else ""
    conversation = f" {link(ticket.permalink, 'View the conversation')}" if ticket.permalink else ""
    subject = escape(ticket.subject)
    await enqueue_slack_call(
        session=session,
        method="chat.postMessage",
        payload={
            "channel": ticket.assignee_user_id,
            "text": f"You've been assigned *{ticket.display_number}* · {subject}{where}"
            f" (by {by}).{conversation}",
            "unfurl_links": False,
        },
        now=now,
        workspace_id=ticket.workspace_id,
        flush=False,
    )
