"""One place for what every Slack listener needs: the installation's workspace, the person
acting (their own team, and their role on the support team), an open transaction, and a
refusal that reaches only them.

Listeners are module-level functions registered per trigger, as in Bolt's own templates; the
running app's `SlackContext` reaches them through Bolt's `context` (a middleware puts it there,
app/slack/app.py). `acting()` opens the unit of work of one request; a domain error raised in
it is the listener's to show (`tell_refusal` for a click, a form error for a modal), in the
words of `app.slack.replies.explain`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import DomainError, InvalidInput
from app.outbox.service import enqueue_slack_call
from app.slack.context import SlackContext
from app.slack.installation import SlackActor, actor_of
from app.slack.replies import explain
from app.team.service import get_role
from app.tickets.actors import Actor

logger = logging.getLogger(__name__)

SLACK_CONTEXT = "ticketbot"
"""Where the middleware puts the running app's SlackContext in Bolt's context."""


def slack_context(context: AsyncBoltContext) -> SlackContext:
    ctx = context.get(SLACK_CONTEXT)
    if not isinstance(ctx, SlackContext):
        raise RuntimeError("the ticketbot middleware did not run")  # a wiring bug
    return ctx


@dataclass(frozen=True)
class Acting:
    """One Slack request's unit of work."""

    ctx: SlackContext
    session: AsyncSession
    workspace_id: int
    person: SlackActor
    actor: Actor  # the person with their role on the support team (None: not on it)
    now: datetime

    @property
    def user_id(self) -> str:
        assert self.person.user_id is not None  # acting() refuses a request without one
        return self.person.user_id


@asynccontextmanager
async def acting(
    context: AsyncBoltContext, body: Mapping[str, Any], *, write: bool = True
) -> AsyncIterator[Acting]:
    """The workspace of the request's installation (refusing another installation's), who acts
    and their role, in one transaction (`write`) or a read-only session."""
    ctx = slack_context(context)
    person = actor_of(body)
    if not person.user_id:
        raise InvalidInput("Slack did not say who you are; please try again.")
    async with ctx.session_factory() as session:
        if write:
            await session.begin()
        workspace_id = await ctx.require_workspace_id(session=session, body=body)
        role = await get_role(session=session, workspace_id=workspace_id, user_id=person.user_id)
        yield Acting(
            ctx=ctx,
            session=session,
            workspace_id=workspace_id,
            person=person,
            actor=Actor.user(person.user_id, role),
            now=ctx.clock.now(),
        )
        if write:
            await session.commit()


async def tell_refusal(
    context: AsyncBoltContext, body: Mapping[str, Any], error: DomainError
) -> None:
    """Why a click was refused, as a message only the clicker sees (through the outbox)."""
    await tell_clicker(slack_context(context), body, explain(error))


async def tell_clicker(ctx: SlackContext, body: Mapping[str, Any], text: str) -> None:
    """A message only the person who clicked sees, in the channel of the click (a click in a
    view has none: nothing to say it in)."""
    container = body.get("container") or {}
    channel = container.get("channel_id") or (body.get("channel") or {}).get("id")
    user_id = actor_of(body).user_id
    if not channel or not user_id:
        return
    async with ctx.session_factory() as session, session.begin():
        # Sent with its installation's token: none, when the click is not from one of ours.
        workspace_id = await ctx.workspace_id_for(session=session, body=body)
        await enqueue_slack_call(
            session=session,
            method="chat.postEphemeral",
            payload={"channel": channel, "user": user_id, "text": text},
            now=ctx.clock.now(),
            workspace_id=workspace_id,
        )


DID_NOT_OPEN = "Sorry, the form did not open. Please tap the button again."


async def open_form_now(
    client: AsyncWebClient,
    context: AsyncBoltContext,
    body: Mapping[str, Any],
    modal: dict[str, Any],
    *,
    what: str,
) -> None:
    """Open a modal for a click: now, not through the outbox, because its trigger id expires
    3 s after the click (docs.slack.dev/reference/methods/views.open). If Slack refuses, the
    clicker is told to tap again."""
    try:
        await client.views_open(trigger_id=body.get("trigger_id", ""), view=modal)
    except SlackApiError as exc:
        logger.warning("views.open for %s failed: %s", what, exc.response.get("error"))
        await tell_clicker(slack_context(context), body, DID_NOT_OPEN)
