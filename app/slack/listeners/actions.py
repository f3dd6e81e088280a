"""The triage card's buttons: Assign to me, priority, Resolve, Not a request.

Each click runs one transaction through the ticket services (the card then updates itself from
the outbox) and is acknowledged after the commit. A refusal (not on the team, ticket already
closed) reaches only the person who clicked, as an ephemeral message sent through the outbox.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import DomainError, InvalidInput
from app.flows.assignment import assign, set_priority
from app.flows.lifecycle import discard, resolve, wait_on_customer
from app.outbox.service import enqueue_slack_call
from app.slack.context import SlackContext
from app.slack.ids import ActionId
from app.slack.installation import actor_of
from app.slack.replies import explain
from app.team.service import get_role
from app.tickets.actors import Actor
from app.tickets.enums import Priority
from app.tickets.models import Ticket
from app.tickets.service import get_ticket

logger = logging.getLogger(__name__)

TicketAction = Callable[[AsyncSession, Ticket, Actor, datetime], Awaitable[Any]]


def register(app: AsyncApp, ctx: SlackContext) -> None:
    async def assign_to_me(
        session: AsyncSession, ticket: Ticket, actor: Actor, now: datetime
    ) -> None:
        await assign(
            session=session, ticket=ticket, assignee_user_id=actor.id, actor=actor, now=now
        )

    async def resolve_ticket(
        session: AsyncSession, ticket: Ticket, actor: Actor, now: datetime
    ) -> None:
        await resolve(session=session, ticket=ticket, actor=actor, now=now)

    async def discard_ticket(
        session: AsyncSession, ticket: Ticket, actor: Actor, now: datetime
    ) -> None:
        await discard(session=session, ticket=ticket, actor=actor, now=now)

    async def wait_for_customer(
        session: AsyncSession, ticket: Ticket, actor: Actor, now: datetime
    ) -> None:
        await wait_on_customer(session=session, ticket=ticket, actor=actor, now=now)

    buttons: dict[ActionId, TicketAction] = {
        ActionId.WAIT_ON_CUSTOMER: wait_for_customer,
        ActionId.ASSIGN_TO_ME: assign_to_me,
        ActionId.RESOLVE: resolve_ticket,
        ActionId.DISCARD: discard_ticket,
    }
    for action_id, work in buttons.items():
        _register_button(app, ctx, action_id, work)

    @app.action(ActionId.SET_PRIORITY)
    async def on_priority(ack: AsyncAck, body: dict[str, Any]) -> None:
        selected = (_action(body).get("selected_option") or {}).get("value", "")
        ticket_id, _, value = selected.partition(":")

        async def change(
            session: AsyncSession, ticket: Ticket, actor: Actor, now: datetime
        ) -> None:
            try:
                priority = Priority(value)
            except ValueError:
                raise InvalidInput(f"Unknown priority {value!r}.") from None
            await set_priority(
                session=session, ticket=ticket, priority=priority, actor=actor, now=now
            )

        await _run(ctx, body, int_or_none(ticket_id), change)
        await ack()


def _register_button(
    app: AsyncApp, ctx: SlackContext, action_id: ActionId, work: TicketAction
) -> None:
    @app.action(action_id)
    async def on_button(ack: AsyncAck, body: dict[str, Any]) -> None:
        await _run(ctx, body, _ticket_id_from_value(_action(body).get("value")), work)
        await ack()


async def _run(
    ctx: SlackContext, body: dict[str, Any], ticket_id: int | None, work: TicketAction
) -> None:
    """One click, one transaction; a domain error becomes an ephemeral note to the clicker."""
    user_id = actor_of(body).user_id
    now = ctx.clock.now()
    try:
        if ticket_id is None or not user_id:
            raise InvalidInput("That button no longer points at a ticket.")
        async with ctx.session_factory() as session, session.begin():
            workspace_id = await ctx.require_workspace_id(session=session, body=body)
            ticket = await get_ticket(session=session, ticket_id=ticket_id, for_update=True)
            if ticket.workspace_id != workspace_id:
                raise InvalidInput("That ticket belongs to another workspace.")
            role = await get_role(session=session, workspace_id=workspace_id, user_id=user_id)
            await work(session, ticket, Actor.user(user_id, role), now)
    except DomainError as exc:
        logger.info("action refused for %s: %s", user_id, type(exc).__name__)
        await tell_clicker(ctx, body, explain(exc), now)


async def tell_clicker(ctx: SlackContext, body: dict[str, Any], text: str, now: datetime) -> None:
    channel = (body.get("container") or {}).get("channel_id") or (body.get("channel") or {}).get(
        "id"
    )
    user_id = (body.get("user") or {}).get("id")
    if not channel or not user_id:
        return
    async with ctx.session_factory() as session, session.begin():
        await enqueue_slack_call(
            session=session,
            method="chat.postEphemeral",
            payload={"channel": channel, "user": user_id, "text": text},
            now=now,
        )


def _action(body: dict[str, Any]) -> dict[str, Any]:
    actions = body.get("actions") or [{}]
    return actions[0] or {}


def _ticket_id_from_value(value: object) -> int | None:
    try:
        decoded = json.loads(value) if isinstance(value, str) else None
    except ValueError:
        return None
    return int_or_none(decoded.get("ticket_id")) if isinstance(decoded, dict) else None


def int_or_none(value: object) -> int | None:
    if not isinstance(value, str | int | float):  # None, a list, an object: not a number
        return None
    try:
        return int(value)
    except (ValueError, OverflowError):  # OverflowError: JSON's Infinity
        return None
