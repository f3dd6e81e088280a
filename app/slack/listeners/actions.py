"""The triage card's (and the Home tab's) buttons: Assign to me, priority, Waiting on customer,
Escalate, Resolve, Not a request.

Each click runs one transaction through the ticket flows (the card then updates itself from
the outbox) and is acknowledged after the commit. A refusal (not on the team, ticket already
closed) reaches only the person who clicked, as an ephemeral message sent through the outbox.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext

from app.errors import DomainError, InvalidInput
from app.flows.assignment import assign, set_priority
from app.flows.connectors import escalate
from app.flows.lifecycle import discard, resolve, wait_on_customer
from app.slack.ids import ActionId
from app.slack.interaction import Acting, acting, tell_refusal
from app.slack.values import priority_choice_of, ticket_id_of
from app.tickets.models import Ticket
from app.tickets.service import get_ticket

logger = logging.getLogger(__name__)

TicketWork = Callable[[Acting, Ticket], Awaitable[Any]]


async def _on_ticket(
    context: AsyncBoltContext, body: dict[str, Any], ticket_id: int | None, work: TicketWork
) -> None:
    """One click on one ticket, one transaction; a domain error reaches the clicker."""
    try:
        if ticket_id is None:
            raise InvalidInput("That button no longer points at a ticket.")
        async with acting(context, body) as it:
            ticket = await get_ticket(session=it.session, ticket_id=ticket_id, for_update=True)
            if ticket.workspace_id != it.workspace_id:
                raise InvalidInput("That ticket belongs to another workspace.")
            await work(it, ticket)
    except DomainError as exc:
        logger.info("action refused: %s", type(exc).__name__)
        await tell_refusal(context, body, exc)


async def assign_to_me(ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext) -> None:
    async def work(it: Acting, ticket: Ticket) -> None:
        await assign(
            session=it.session,
            ticket=ticket,
            assignee_user_id=it.user_id,
            actor=it.actor,
            now=it.now,
        )

    await _on_ticket(context, body, ticket_id_of(body), work)
    await ack()


async def resolve_ticket(ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext) -> None:
    async def work(it: Acting, ticket: Ticket) -> None:
        await resolve(session=it.session, ticket=ticket, actor=it.actor, now=it.now)

    await _on_ticket(context, body, ticket_id_of(body), work)
    await ack()


async def discard_ticket(ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext) -> None:
    async def work(it: Acting, ticket: Ticket) -> None:
        await discard(session=it.session, ticket=ticket, actor=it.actor, now=it.now)

    await _on_ticket(context, body, ticket_id_of(body), work)
    await ack()


async def wait_for_customer(ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext) -> None:
    async def work(it: Acting, ticket: Ticket) -> None:
        await wait_on_customer(session=it.session, ticket=ticket, actor=it.actor, now=it.now)

    await _on_ticket(context, body, ticket_id_of(body), work)
    await ack()


async def escalate_ticket(ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext) -> None:
    """Escalate to the issue tracker connected (a choice of tracker or project: `/ticket
    escalate`)."""

    async def work(it: Acting, ticket: Ticket) -> None:
        await escalate(
            session=it.session, ticket=ticket, vendor=None, target=None, actor=it.actor, now=it.now
        )

    await _on_ticket(context, body, ticket_id_of(body), work)
    await ack()


async def change_priority(ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext) -> None:
    ticket_id, priority = priority_choice_of(body)

    async def work(it: Acting, ticket: Ticket) -> None:
        if priority is None:
            raise InvalidInput("That is not a priority (low, normal, high, urgent).")
        await set_priority(
            session=it.session, ticket=ticket, priority=priority, actor=it.actor, now=it.now
        )

    await _on_ticket(context, body, ticket_id, work)
    await ack()


def register(app: AsyncApp) -> None:
    app.action(ActionId.ASSIGN_TO_ME)(assign_to_me)
    app.action(ActionId.RESOLVE)(resolve_ticket)
    app.action(ActionId.DISCARD)(discard_ticket)
    app.action(ActionId.WAIT_ON_CUSTOMER)(wait_for_customer)
    app.action(ActionId.SET_PRIORITY)(change_priority)
    app.action(ActionId.ESCALATE)(escalate_ticket)
