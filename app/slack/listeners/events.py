"""Events API listener. One listener takes every event (Bolt runs only the first match, and an
unhandled event is answered 404, which Slack retries), stores it, and hands it on by type.

The work happens before Bolt answers (`process_before_response=True`): when Slack gets its 200,
the event and its effects (ticket, conversation, outbox rows) are committed. A failure answers
503 or 500 (app/slack/app.py) and Slack retries; the retry finds nothing half-done because it
is all one transaction.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.request.async_request import AsyncBoltRequest
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.service import record_departure
from app.db import in_transaction
from app.flows.conversation import (
    receive_deletion,
    receive_edit,
    receive_message,
    receive_reaction,
)
from app.flows.installs import app_removed
from app.home.notifications import home_tab_opened
from app.inbox.service import record_event
from app.slack.context import SlackContext
from app.slack.installation import actor_of, channel_team_of
from app.slack.interaction import slack_context
from app.tickets.intake import IncomingMessage, incoming_message, is_spoken
from app.workspaces.models import Workspace

logger = logging.getLogger(__name__)


async def on_event(
    body: dict[str, Any], request: AsyncBoltRequest, context: AsyncBoltContext
) -> None:
    await handle_event(slack_context(context), body, retry_num=_retry_num(request))


def register(app: AsyncApp) -> None:
    app.event(re.compile(".*"))(on_event)


async def handle_event(ctx: SlackContext, envelope: dict[str, Any], *, retry_num: int) -> None:
    now = ctx.clock.now()

    async def take_in(session: AsyncSession) -> None:
        fresh = await record_event(session=session, envelope=envelope, retry_num=retry_num, now=now)
        if not fresh:
            ctx.metrics.slack_duplicates.inc()
            logger.info("skipping retried event %s", envelope.get("event_id"))
            return
        workspace_id = await ctx.workspace_id_for(session=session, body=envelope)
        workspace = await session.get(Workspace, workspace_id) if workspace_id else None
        if workspace is None:
            return  # not our installation (logged); stored in the inbox all the same
        handler = EVENT_HANDLERS.get(str((envelope.get("event") or {}).get("type")))
        if handler is not None:
            await handler(ctx, session, workspace, envelope, now)

    # Once more on a connection found dead (a database restart): Slack gets its 200 rather
    # than a 503 and a retry minutes later.
    await in_transaction(ctx.session_factory, take_in)


async def _on_message(
    ctx: SlackContext,
    session: AsyncSession,
    workspace: Workspace,
    envelope: dict[str, Any],
    now: datetime,
) -> None:
    event = envelope.get("event") or {}
    subtype = event.get("subtype")
    channel_id = event.get("channel")
    if not channel_id:
        return
    if subtype == "message_changed":
        changed = event.get("message") or {}
        # The edited message's ts; Slack's payloads also carry it in `previous_message`.
        edited_ts = changed.get("ts") or (event.get("previous_message") or {}).get("ts")
        if edited_ts and not changed.get("bot_id"):
            await receive_edit(
                session=session,
                workspace=workspace,
                channel_id=channel_id,
                ts=edited_ts,
                new_text=changed.get("text") or "",
                editor_user_id=changed.get("user"),
                now=now,
            )
        return
    if subtype == "message_deleted":
        if event.get("deleted_ts"):
            await receive_deletion(
                session=session,
                workspace=workspace,
                channel_id=channel_id,
                ts=event["deleted_ts"],
                now=now,
            )
        return
    # Subtypes other than spoken ones (joins, topic changes, ...) are stored in the inbox only.
    if not is_spoken(event):
        return
    await receive_message(
        session=session,
        workspace=workspace,
        message=message_of(envelope, bot_user_id=_bot_user_id(ctx, workspace)),
        rules=ctx.rules,
        now=now,
    )


def message_of(envelope: dict[str, Any], *, bot_user_id: str | None) -> IncomingMessage:
    """A `message` event as the ticket rules see it (app/tickets/intake.py builds it, for
    catch-up too); in a Slack Connect channel the writer's own workspace and org come from
    the envelope (app/slack/installation.py)."""
    event = envelope.get("event") or {}
    writer = actor_of(envelope)
    return incoming_message(
        event,
        channel_id=event["channel"],
        bot_user_id=bot_user_id,
        user_team_id=writer.team_id,
        user_enterprise_id=writer.enterprise_id,
        channel_team_id=channel_team_of(envelope),
    )


async def _on_reaction(
    ctx: SlackContext,
    session: AsyncSession,
    workspace: Workspace,
    envelope: dict[str, Any],
    now: datetime,
) -> None:
    event = envelope.get("event") or {}
    item = event.get("item") or {}
    if item.get("type") != "message" or not item.get("channel") or not item.get("ts"):
        return
    if event.get("user") in (None, _bot_user_id(ctx, workspace)):
        return
    await receive_reaction(
        session=session,
        workspace=workspace,
        reactor_user_id=event["user"],
        reaction=str(event.get("reaction", "")).split("::", 1)[0],
        channel_id=item["channel"],
        item_ts=item["ts"],
        item_user_id=event.get("item_user"),
        channel_team_id=channel_team_of(envelope),
        rules=ctx.rules,
        now=now,
    )


async def _on_home_opened(
    ctx: SlackContext,
    session: AsyncSession,
    workspace: Workspace,
    envelope: dict[str, Any],
    now: datetime,
) -> None:
    """The Home tab (already stored and deduped) is published as it is now; the Messages tab
    is left alone."""
    event = envelope.get("event") or {}
    user_id = event.get("user")
    if event.get("tab") != "home" or not user_id:
        return
    await home_tab_opened(session=session, workspace_id=workspace.id, user_id=user_id, now=now)


async def _on_uninstalled(
    ctx: SlackContext,
    session: AsyncSession,
    workspace: Workspace,
    envelope: dict[str, Any],
    now: datetime,
) -> None:
    """`app_uninstalled`, or `tokens_revoked` naming our bot: its token is forgotten and what
    the outbox still owed that workspace's Slack is failed with the reason (its webhooks are
    not Slack's and still go). Sources: docs.slack.dev/reference/events/app_uninstalled and
    /tokens_revoked (`tokens.bot` lists the revoked bots' user ids)."""
    event = envelope.get("event") or {}
    if event.get("type") == "tokens_revoked":
        bots = (event.get("tokens") or {}).get("bot") or []
        if not bots:
            return  # user tokens only: ticketbot keeps none
        reason = "its bot token was revoked"
    else:
        reason = "ticketbot was uninstalled from it"
    failed = await app_removed(session=session, workspace_id=workspace.id, reason=reason, now=now)
    if ctx.installations is not None:
        ctx.installations.forget(workspace.id)
    logger.warning(
        "workspace %s: %s; %d Slack call(s) it was owed failed",
        workspace.slack_team_id,
        reason,
        failed,
    )


async def _on_member_left(
    ctx: SlackContext,
    session: AsyncSession,
    workspace: Workspace,
    envelope: dict[str, Any],
    now: datetime,
) -> None:
    """Someone left a channel: kept, so that an account whose contacts leave its channels
    loses health (docs.slack.dev/reference/events/member_left_channel: `user`, `channel`)."""
    event = envelope.get("event") or {}
    if event.get("user") and event.get("channel"):
        await record_departure(
            session=session,
            workspace_id=workspace.id,
            channel_id=str(event["channel"]),
            user_id=str(event["user"]),
            now=now,
        )


def _bot_user_id(ctx: SlackContext, workspace: Workspace) -> str | None:
    return workspace.bot_user_id or ctx.identity.bot_user_id


EventHandler = Callable[
    [SlackContext, AsyncSession, Workspace, dict[str, Any], datetime], Awaitable[None]
]
# The event types ticketbot acts on; the rest are stored and acknowledged. slack_manifest.yml
# subscribes to exactly these (message as message.channels and message.groups).
EVENT_HANDLERS: dict[str, EventHandler] = {
    "message": _on_message,
    "reaction_added": _on_reaction,
    "app_home_opened": _on_home_opened,
    "app_uninstalled": _on_uninstalled,
    "tokens_revoked": _on_uninstalled,
    "member_left_channel": _on_member_left,
}


def _retry_num(request: AsyncBoltRequest) -> int:
    values = request.headers.get("x-slack-retry-num") or []
    try:
        return int(values[0]) if values else 0
    except ValueError:
        return 0
