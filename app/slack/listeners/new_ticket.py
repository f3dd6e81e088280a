"""Creating a ticket by hand: the "Create ticket" shortcuts (on a message, and global), the Home
tab's "New ticket" button, `/ticket new` (through app/slack/new_ticket_form.py), and the modal.

The modal opens at once with the Bolt client (a trigger id expires 3 s after the click), not
through the outbox; if Slack refuses, the person is told in the channel when there is one. The
submission is one transaction through app/tickets/manual.py; a wrong field is shown in the
modal (`response_action: errors`).
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from app.errors import DomainError
from app.flows.manual import SourceMessage, TicketForm, open_ticket_by_hand
from app.slack.blocks.new_ticket import NewTicketForm, created_modal, source_from_metadata
from app.slack.ids import ActionId, BlockId, CallbackId
from app.slack.interaction import acting, slack_context
from app.slack.new_ticket_form import open_new_ticket_form
from app.slack.replies import explain
from app.slack.values import state_value, view_of
from app.text_safety import readable
from app.tickets.intake import subject_from

logger = logging.getLogger(__name__)

_FIELD_BLOCKS = {
    "subject": BlockId.NEW_TICKET_SUBJECT,
    "priority": BlockId.NEW_TICKET_PRIORITY,
    "requester": BlockId.NEW_TICKET_REQUESTER,
    "channel": BlockId.NEW_TICKET_CHANNEL,
}


async def create_from_anywhere(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    """The global shortcut, and the Home tab's New ticket button: the empty form."""
    await ack()
    channel_id = (body.get("channel") or {}).get("id")
    await open_new_ticket_form(
        slack_context(context), client, body=body, form=NewTicketForm(channel_id=channel_id)
    )


async def create_from_message(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    """The message shortcut: the form filled in from the message."""
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
    await open_new_ticket_form(slack_context(context), client, body=body, form=form)


async def submit_new_ticket(ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext) -> None:
    try:
        async with acting(context, body) as it:
            ticket, _ = await open_ticket_by_hand(
                session=it.session,
                workspace_id=it.workspace_id,
                form=_submitted(view_of(body)),
                actor=it.actor,
                default_triage_channel_id=it.ctx.rules.default_triage_channel_id,
                now=it.now,
            )
            done = created_modal(ticket.display_number, ticket.subject, ticket.triage_channel_id)
    except DomainError as exc:
        block = _FIELD_BLOCKS.get(exc.field or "subject", BlockId.NEW_TICKET_SUBJECT)
        await ack(response_action="errors", errors={block: explain(exc)})
        return
    await ack(response_action="update", view=done)


def register(app: AsyncApp) -> None:
    app.global_shortcut(CallbackId.CREATE_TICKET_SHORTCUT)(create_from_anywhere)
    app.action(ActionId.CREATE_TICKET)(create_from_anywhere)
    app.message_shortcut(CallbackId.CREATE_TICKET_FROM_MESSAGE)(create_from_message)
    app.view(CallbackId.CREATE_TICKET_MODAL)(submit_new_ticket)


def _submitted(view: dict[str, Any]) -> TicketForm:
    def value(block: BlockId, action: ActionId, key: str) -> Any:
        return state_value(view, block, action, key)

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
