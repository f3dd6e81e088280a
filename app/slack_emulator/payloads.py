"""Pure builders of Events API ``event`` objects, with Slack's real field names.

They return only the inner ``event``; :class:`~app.slack_emulator.sender.SlackSender` wraps
it in the ``event_callback`` envelope. Timestamps default to :func:`next_ts`.
"""

from __future__ import annotations

import uuid
from typing import Any

from app.slack_emulator.ts import next_ts

DEFAULT_TEAM_ID = "T0001"

__all__ = [
    "app_home_opened_event",
    "app_mention_event",
    "message_changed_event",
    "message_deleted_event",
    "message_event",
    "next_ts",
    "reaction_added_event",
    "rich_text_blocks",
]


def rich_text_blocks(text: str) -> list[dict[str, Any]]:
    """The ``rich_text`` block Slack clients attach to what a user typed."""
    return [
        {
            "type": "rich_text",
            "block_id": uuid.uuid4().hex[:5],
            "elements": [
                {"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}
            ],
        }
    ]


def _without_none(event: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in event.items() if v is not None}


def message_event(
    channel: str,
    user: str,
    text: str,
    ts: str | None = None,
    thread_ts: str | None = None,
    team: str | None = None,
    subtype: str | None = None,
    bot_id: str | None = None,
    channel_type: str = "channel",
    **extra: Any,
) -> dict[str, Any]:
    """A ``message`` event; ``thread_ts`` makes it a thread reply, ``bot_id`` a bot's post."""
    ts = ts or next_ts()
    event: dict[str, Any] = {
        "type": "message",
        "subtype": subtype,
        "channel": channel,
        "user": user,
        "bot_id": bot_id,
        "text": text,
        "ts": ts,
        "thread_ts": thread_ts,
        "team": team or DEFAULT_TEAM_ID,
        # Only messages typed in a Slack client carry a client_msg_id and rich_text blocks.
        "client_msg_id": None if (bot_id or subtype) else str(uuid.uuid4()),
        "blocks": None if (bot_id or subtype) else rich_text_blocks(text),
        "event_ts": ts,
        "channel_type": channel_type,
    }
    event.update(extra)  # e.g. parent_user_id, files, edited
    return _without_none(event)


def message_changed_event(
    channel: str,
    user: str,
    ts: str,
    text: str,
    *,
    previous_text: str = "",
    thread_ts: str | None = None,
    team: str | None = None,
    channel_type: str = "channel",
    event_ts: str | None = None,
) -> dict[str, Any]:
    """``message_changed``: the message ``ts`` was edited to ``text`` at ``event_ts``."""
    event_ts = event_ts or next_ts()
    team = team or DEFAULT_TEAM_ID
    common = {"type": "message", "user": user, "ts": ts, "thread_ts": thread_ts, "team": team}
    return {
        "type": "message",
        "subtype": "message_changed",
        "hidden": True,
        "channel": channel,
        "channel_type": channel_type,
        "ts": event_ts,
        "event_ts": event_ts,
        "message": _without_none(
            {
                **common,
                "text": text,
                "blocks": rich_text_blocks(text),
                "edited": {"user": user, "ts": event_ts},
            }
        ),
        "previous_message": _without_none(
            {**common, "text": previous_text, "blocks": rich_text_blocks(previous_text)}
        ),
    }


def message_deleted_event(
    channel: str,
    deleted_ts: str,
    *,
    user: str | None = None,
    previous_text: str = "",
    thread_ts: str | None = None,
    channel_type: str = "channel",
    event_ts: str | None = None,
) -> dict[str, Any]:
    """``message_deleted``: the message ``deleted_ts`` was removed at ``event_ts``."""
    event_ts = event_ts or next_ts()
    previous = {
        "type": "message",
        "user": user,
        "text": previous_text,
        "ts": deleted_ts,
        "thread_ts": thread_ts,
    }
    return {
        "type": "message",
        "subtype": "message_deleted",
        "hidden": True,
        "channel": channel,
        "channel_type": channel_type,
        "ts": event_ts,
        "deleted_ts": deleted_ts,
        "event_ts": event_ts,
        "previous_message": _without_none(previous),
    }


def reaction_added_event(
    user: str, reaction: str, channel: str, ts: str, item_user: str | None = None
) -> dict[str, Any]:
    """``reaction_added``: ``user`` reacted with ``reaction`` (no colons) to message ``ts``."""
    event: dict[str, Any] = {
        "type": "reaction_added",
        "user": user,
        "reaction": reaction.strip(":"),
        "item": {"type": "message", "channel": channel, "ts": ts},
        "item_user": item_user,
        "event_ts": next_ts(),
    }
    return _without_none(event)


def app_mention_event(
    channel: str,
    user: str,
    text: str,
    ts: str | None = None,
    thread_ts: str | None = None,
    team: str | None = None,
) -> dict[str, Any]:
    """``app_mention``: ``text`` should contain ``<@BOT_USER_ID>`` as Slack would render it."""
    ts = ts or next_ts()
    event: dict[str, Any] = {
        "type": "app_mention",
        "user": user,
        "text": text,
        "ts": ts,
        "thread_ts": thread_ts,
        "team": team or DEFAULT_TEAM_ID,
        "client_msg_id": str(uuid.uuid4()),
        "blocks": rich_text_blocks(text),
        "channel": channel,
        "event_ts": ts,
    }
    return _without_none(event)


def app_home_opened_event(
    user: str, *, channel: str | None = None, tab: str = "home", view: dict[str, Any] | None = None
) -> dict[str, Any]:
    """``app_home_opened``; ``view`` is absent the first time a user opens the Home tab."""
    event: dict[str, Any] = {
        "type": "app_home_opened",
        "user": user,
        # The DM channel between the user and the app.
        "channel": channel or "D" + user.lstrip("UW"),
        "tab": tab,
        "view": view,
        "event_ts": next_ts(),
    }
    return _without_none(event)
