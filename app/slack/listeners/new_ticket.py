"""Creating a ticket by hand: the "Create ticket" shortcuts (on a message, and global), the Home
tab's "New ticket" button, `/ticket new` (through `open_new_ticket_modal`), and the modal.

The modal opens at once with the Bolt client (a trigger id expires 3 s after the click), not
through the outbox; if Slack refuses, the person is told in the channel when there is one. The
submission is one transaction through app/tickets/manual.py; a wrong field is shown in the
modal (`response_action: errors`).
"""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from app.errors import DomainError, InvalidInput
from app.flows.manual import InvalidField, SourceMessage, TicketForm, open_ticket_by_hand
from app.outbox.service import enqueue_slack_call
from app.slack.blocks.new_ticket import (
    NewTicketForm,
    created_modal,
    new_ticket_modal,
    refusal_modal,
    source_from_metadata,
)
from app.slack.context import SlackContext
from app.slack.ids import ActionId, BlockId, CallbackId
from app.slack.installation import actor_of
from app.slack.replies import explain
from app.team.service import get_role
from app.text_safety import readable
from app.tickets.actors import Actor
from app.tickets.intake import subject_from

logger = logging.getLogger(__name__)

NOT_ON_TEAM = "Sorry, only support agents and leads can create tickets."
DID_NOT_OPEN = "Sorry, the new ticket form did not open. Please try again."
_FIELD_BLOCKS = {
    "subject": BlockId.NEW_TICKET_SUBJECT,
    "priority": BlockId.NEW_TICKET_PRIORITY,
    "requester": BlockId.NEW_TICKET_REQUESTER,
    "channel": BlockId.NEW_TICKET_CHANNEL,
}


def register(app: AsyncApp, ctx: SlackContext) -> None:
    @app.global_shortcut(CallbackId.CREATE_TICKET_SHORTCUT)
    async def on_global_shortcut(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await ack()
        await open_new_ticket_modal(
            ctx, client, body=body, trigger_id=str(body.get("trigger_id", "")), channel_id=None
        )

    @app.message_shortcut(CallbackId.CREATE_TICKET_FROM_MESSAGE)
    async def on_message_shortcut(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await ack()
        channel_id = (body.get("channel") or {}).get("id")
        message = body.get("message") or {}
        ts = message.get("ts") or body.get("message_ts")
        form = NewTicketForm(channel_id=channel_id)
        if channel_id and ts:
            author = None if message.get("bot_id") else message.get("user")
            text = str(message.get("text") or "")  # Slack text: escaped, with its markup
            form = NewTicketForm(
                subject=subject_from(text) if text.strip() else "",
                # The form shows plain text (Slack does not parse an initial_value).
                description=readable(text),
                requester_user_id=author,
                channel_id=channel_id,
                source=SourceMessage(
                    channel_id=channel_id,
                    ts=str(ts),
                    author_user_id=author,
                    author_team_id=message.get("user_team") or message.get("team"),
                ),
            )
        await _open(ctx, client, body=body, trigger_id=str(body.get("trigger_id", "")), form=form)

    @app.action(ActionId.CREATE_TICKET)
    async def on_home_button(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        await open_new_ticket_modal(
            ctx,
            client,
            body=body,
            trigger_id=str(body.get("trigger_id", "")),
            channel_id=(body.get("channel") or {}).get("id"),
        )

    @app.view(CallbackId.CREATE_TICKET_MODAL)
    async def on_submit(ack: AsyncAck, body: dict[str, Any]) -> None:
        view = body.get("view") or {}
        user_id = actor_of(body).user_id
        try:
            if not user_id:
                raise InvalidInput("This form no longer knows who you are; open it again.")
            async with ctx.session_factory() as session, session.begin():
                workspace_id = await ctx.require_workspace_id(session=session, body=body)
                role = await get_role(session=session, workspace_id=workspace_id, user_id=user_id)
                ticket, _ = await open_ticket_by_hand(
                    session=session,
                    workspace_id=workspace_id,
                    form=_submitted(view),
                    actor=Actor.user(user_id, role),
                    default_triage_channel_id=ctx.rules.default_triage_channel_id,
                    now=ctx.clock.now(),
                )
                done = created_modal(
                    ticket.display_number, ticket.subject, ticket.triage_channel_id
                )
        except DomainError as exc:
            field = exc.field if isinstance(exc, InvalidField) else "subject"
            block = _FIELD_BLOCKS.get(field, BlockId.NEW_TICKET_SUBJECT)
            await ack(response_action="errors", errors={block: explain(exc)})
            return
        await ack(response_action="update", view=done)


async def open_new_ticket_modal(
    ctx: SlackContext,
    client: AsyncWebClient,
    *,
    body: dict[str, Any],
    trigger_id: str,
    channel_id: str | None,
) -> None:
    """Open the empty form (the channel preselected), or a refusal for anyone not on the team.

    For `/ticket new` and the Home tab's button (`body` is the request's); call it after
    acknowledging the request.
    """
    await _open(
        ctx, client, body=body, trigger_id=trigger_id, form=NewTicketForm(channel_id=channel_id)
    )


async def _open(
    ctx: SlackContext,
    client: AsyncWebClient,
    *,
    body: dict[str, Any],
    trigger_id: str,
    form: NewTicketForm,
) -> None:
    user_id = actor_of(body).user_id
    if not user_id:
        return
    async with ctx.session_factory() as session, session.begin():
        workspace_id = await ctx.workspace_id_for(session=session, body=body)
        role = (
            await get_role(session=session, workspace_id=workspace_id, user_id=user_id)
            if workspace_id is not None
            else None
        )
    view = new_ticket_modal(form) if role is not None else refusal_modal(NOT_ON_TEAM)
    try:
        await client.views_open(trigger_id=trigger_id, view=view)
    except (SlackApiError, aiohttp.ClientError, TimeoutError) as exc:
        error = exc.response.get("error") if isinstance(exc, SlackApiError) else type(exc).__name__
        logger.warning("views.open for a new ticket failed: %s", error)
        await _tell(ctx, channel_id=form.channel_id, user_id=user_id, text=DID_NOT_OPEN)


async def _tell(ctx: SlackContext, *, channel_id: str | None, user_id: str, text: str) -> None:
    """An ephemeral note, through the outbox; without a channel there is nowhere to say it."""
    if not channel_id:
        return
    async with ctx.session_factory() as session, session.begin():
        await enqueue_slack_call(
            session=session,
            method="chat.postEphemeral",
            payload={"channel": channel_id, "user": user_id, "text": text},
            now=ctx.clock.now(),
        )


def _submitted(view: dict[str, Any]) -> TicketForm:
    values = (view.get("state") or {}).get("values") or {}

    def value(block: BlockId, action: ActionId, key: str) -> Any:
        return ((values.get(block) or {}).get(action) or {}).get(key)

    priority = value(BlockId.NEW_TICKET_PRIORITY, ActionId.NEW_TICKET_PRIORITY, "selected_option")
    return TicketForm(
        subject=value(BlockId.NEW_TICKET_SUBJECT, ActionId.NEW_TICKET_SUBJECT, "value") or "",
        description=value(BlockId.NEW_TICKET_DESCRIPTION, ActionId.NEW_TICKET_DESCRIPTION, "value")
        or "",
        priority=str((priority or {}).get("value") or "normal"),
        requester_user_id=value(
            BlockId.NEW_TICKET_REQUESTER, ActionId.NEW_TICKET_REQUESTER, "selected_user"
        ),
        channel_id=value(
            BlockId.NEW_TICKET_CHANNEL, ActionId.NEW_TICKET_CHANNEL, "selected_conversation"
        ),
        source=source_from_metadata(view.get("private_metadata")),
        # A view keeps its id however often it is submitted: one form, one ticket.
        form_id=view.get("id") or None,
    )
