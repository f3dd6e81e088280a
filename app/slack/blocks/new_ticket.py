"""The "Create ticket" modal, its refusal and its confirmation (views for views.open / ack).

The message the ticket is made from (if any) travels in `private_metadata` as small JSON; the
inputs' block and action ids are in app/slack/ids.py.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from app.flows.manual import MAX_SUBJECT_LENGTH, SourceMessage
from app.slack.blocks.parts import plain, section
from app.slack.ids import ActionId, BlockId, CallbackId
from app.text_safety import escape
from app.tickets.enums import Priority

TITLE = "New ticket"
DESCRIPTION_MAX_LENGTH = 3000  # Slack's limit for a plain_text_input


@dataclass(frozen=True)
class NewTicketForm:
    """What the modal opens with."""

    subject: str = ""
    description: str = ""
    requester_user_id: str | None = None
    channel_id: str | None = None
    source: SourceMessage | None = None


def new_ticket_modal(form: NewTicketForm) -> dict[str, Any]:
    options = [_option(priority) for priority in Priority]
    priority_select: dict[str, Any] = {
        "type": "static_select",
        "action_id": ActionId.NEW_TICKET_PRIORITY,
        "options": options,
        "initial_option": _option(Priority.NORMAL),
    }
    requester_select: dict[str, Any] = {
        "type": "users_select",
        "action_id": ActionId.NEW_TICKET_REQUESTER,
        "placeholder": plain("Who asked?"),
    }
    if form.requester_user_id:
        requester_select["initial_user"] = form.requester_user_id
    channel_select: dict[str, Any] = {
        "type": "conversations_select",
        "action_id": ActionId.NEW_TICKET_CHANNEL,
        "placeholder": plain("Where the conversation happens"),
        "filter": {"include": ["public", "private"]},
    }
    # Only a channel can be preselected (the select offers no direct messages).
    if form.channel_id and form.channel_id[:1] in ("C", "G"):
        channel_select["initial_conversation"] = form.channel_id
    subject_input: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": ActionId.NEW_TICKET_SUBJECT,
        "max_length": MAX_SUBJECT_LENGTH,
    }
    if form.subject:
        subject_input["initial_value"] = form.subject[:MAX_SUBJECT_LENGTH]
    description_input: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": ActionId.NEW_TICKET_DESCRIPTION,
        "multiline": True,
        "max_length": DESCRIPTION_MAX_LENGTH,
    }
    if form.description:
        description_input["initial_value"] = form.description[:DESCRIPTION_MAX_LENGTH]
    channel_hint = (
        "The ticket follows this message's thread."
        if form.source
        else "We'll post there, and replies in that thread join the ticket."
    )
    return {
        "type": "modal",
        "callback_id": CallbackId.CREATE_TICKET_MODAL,
        "title": plain(TITLE),
        "submit": plain("Open ticket"),
        "close": plain("Cancel"),
        "private_metadata": metadata(form.source),
        "blocks": [
            _input(BlockId.NEW_TICKET_SUBJECT, "Subject", subject_input),
            _input(BlockId.NEW_TICKET_DESCRIPTION, "Description", description_input, True),
            _input(BlockId.NEW_TICKET_PRIORITY, "Priority", priority_select),
            _input(BlockId.NEW_TICKET_REQUESTER, "Requester", requester_select, True),
            {
                **_input(BlockId.NEW_TICKET_CHANNEL, "Channel", channel_select, True),
                "hint": plain(channel_hint),
            },
        ],
    }


def refusal_modal(text: str) -> dict[str, Any]:
    return _notice(text)


def created_modal(number: str, subject: str, triage_channel_id: str | None) -> dict[str, Any]:
    where = f" Its card is in <#{triage_channel_id}>." if triage_channel_id else ""
    return _notice(f"*{number}* is open: {escape(subject)}.{where}")


def metadata(source: SourceMessage | None) -> str:
    if source is None:
        return "{}"
    data = {"channel": source.channel_id, "ts": source.ts}
    if source.author_user_id:
        data["author"] = source.author_user_id
    if source.author_team_id:
        data["author_team"] = source.author_team_id
    return json.dumps(data, separators=(",", ":"))


def source_from_metadata(raw: object) -> SourceMessage | None:
    try:
        data = json.loads(raw) if isinstance(raw, str) and raw else None
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    channel, ts = data.get("channel"), data.get("ts")
    if not (isinstance(channel, str) and channel and isinstance(ts, str) and ts):
        return None
    author, team = data.get("author"), data.get("author_team")
    return SourceMessage(
        channel_id=channel,
        ts=ts,
        author_user_id=author if isinstance(author, str) else None,
        author_team_id=team if isinstance(team, str) else None,
    )


def _notice(text: str) -> dict[str, Any]:
    return {
        "type": "modal",
        "title": plain(TITLE),
        "close": plain("OK"),
        "blocks": [section(text)],
    }


def _input(
    block_id: BlockId, label: str, element: dict[str, Any], optional: bool = False
) -> dict[str, Any]:
    return {
        "type": "input",
        "block_id": block_id,
        "label": plain(label),
        "element": element,
        "optional": optional,
    }


def _option(priority: Priority) -> dict[str, Any]:
    return {"text": plain(priority.value.title()), "value": priority.value}
