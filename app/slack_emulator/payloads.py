"""Pure builders of Events API ``event`` objects, with Slack's real field names.

They return only the inner ``event``; :class:`~app.slack_emulator.sender.SlackSender` wraps
it in the ``event_callback`` envelope. Timestamps default to :func:`next_ts`.

**Text as typed.** Builders of what a person posts take ``text`` as the person typed it and
deliver Slack's wire form, as Slack does: ``&``, ``<`` and ``>`` become ``&amp;``, ``&lt;``,
``&gt;``, except the control sequences a client inserts from autocomplete (``<@U123>``,
``<#C123|general>``, ``<!here>``, ``<https://example.com|label>``), which stay
(https://api.slack.com/reference/surfaces/formatting#escaping; :func:`.mrkdwn.wire_text`).
The ``rich_text`` block carries the typed text unescaped, with mentions and links as their own
elements. Text a bot posted (``bot_id``) is taken as the wire form it was sent in.

Field names follow Slack's docs and the payloads in bolt-python's tests (slackapi/bolt-python,
tests/scenario_tests/, at commit a2f21ae4b1d1d63a6a5dc533aa53a8c4badd103d unless stated),
cited on each builder.
"""

from __future__ import annotations

import uuid
from typing import Any

from app.slack_emulator.mrkdwn import rich_text_elements, wire_text
from app.slack_emulator.ts import next_ts

DEFAULT_TEAM_ID = "T0001"

__all__ = [
    "app_home_opened_event",
    "app_mention_event",
    "bot_message_event",
    "bot_user_message_event",
    "channel_join_event",
    "file_share_event",
    "me_message_event",
    "message_changed_event",
    "message_deleted_event",
    "message_event",
    "next_ts",
    "reaction_added_event",
    "rich_text_blocks",
    "slack_file",
    "thread_broadcast_event",
]


def rich_text_blocks(text: str) -> list[dict[str, Any]]:
    """The ``rich_text`` block Slack clients attach to what a user typed (``text`` as typed)."""
    return [
        {
            "type": "rich_text",
            "block_id": uuid.uuid4().hex[:5],
            "elements": [{"type": "rich_text_section", "elements": rich_text_elements(text)}],
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
    user_team: str | None = None,
    source_team: str | None = None,
    user_profile: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A ``message`` event; ``thread_ts`` makes it a thread reply, ``bot_id`` a bot's post.

    ``text`` is what the person typed (see the module docstring); with ``bot_id`` it is the
    bot's wire text. ``user_team`` marks a person of another workspace (Slack Connect): see
    :func:`_connect_fields`.
    """
    ts = ts or next_ts()
    typed = not bot_id
    event: dict[str, Any] = {
        "type": "message",
        "subtype": subtype,
        "channel": channel,
        "user": user,
        "bot_id": bot_id,
        "text": wire_text(text) if typed else text,
        "ts": ts,
        "thread_ts": thread_ts,
        "team": team or user_team or DEFAULT_TEAM_ID,
        # Only messages typed in a Slack client carry a client_msg_id and rich_text blocks.
        "client_msg_id": None if (bot_id or subtype) else str(uuid.uuid4()),
        "blocks": None if (bot_id or subtype) else rich_text_blocks(text),
        "event_ts": ts,
        "channel_type": channel_type,
        **_connect_fields(user_team, source_team, user_profile),
    }
    event.update(extra)  # e.g. parent_user_id, files, edited
    return _without_none(event)


def _connect_fields(
    user_team: str | None, source_team: str | None, user_profile: dict[str, Any] | None
) -> dict[str, Any]:
    """``user_team``, ``source_team`` and ``user_profile``, which a message carries when its
    author belongs to another workspace (a Slack Connect channel or a shared DM): the message
    fixtures of bolt-python's tests/scenario_tests/test_events_assistant.py (commit
    0a339e9e7ac8d7e4ae2fc86c55e5269032d78b8d, ``channel_user_message_event_body``) carry
    ``team``, ``user_team``, ``source_team`` and ``user_profile`` together; Slack's Enterprise
    Grid guide names ``user_team`` and ``source_team`` for shared channels (cited in
    slack-go/slack issue 695). ``source_team`` defaults to ``user_team``; ``user_profile`` to
    the fixture's ``{}``.
    """
    if user_team is None:
        return {}
    return {
        "user_team": user_team,
        "source_team": source_team or user_team,
        "user_profile": {} if user_profile is None else user_profile,
    }


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
    """``message_changed``: the message ``ts`` was edited to ``text`` at ``event_ts``.

    ``message`` is the edited message (its ``ts`` is the original message's, with ``edited``),
    ``previous_message`` the message before the edit; the event's own ``ts`` is the edit's
    (https://docs.slack.dev/reference/events/message/message_changed; bolt-python
    tests/scenario_tests/test_message_changed.py). Both texts are as typed.
    """
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
                "text": wire_text(text),
                "blocks": rich_text_blocks(text),
                "edited": {"user": user, "ts": event_ts},
            }
        ),
        "previous_message": _without_none(
            {
                **common,
                "text": wire_text(previous_text),
                "blocks": rich_text_blocks(previous_text),
            }
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
    user_team: str | None = None,
    source_team: str | None = None,
    user_profile: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """``app_mention``: ``text`` as typed, containing ``<@BOT_USER_ID>``."""
    ts = ts or next_ts()
    event: dict[str, Any] = {
        "type": "app_mention",
        "user": user,
        "text": wire_text(text),
        "ts": ts,
        "thread_ts": thread_ts,
        "team": team or user_team or DEFAULT_TEAM_ID,
        "client_msg_id": str(uuid.uuid4()),
        "blocks": rich_text_blocks(text),
        "channel": channel,
        "event_ts": ts,
        **_connect_fields(user_team, source_team, user_profile),
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


# -- message subtypes ---------------------------------------------------------------------------


def slack_file(
    file_id: str,
    *,
    user: str,
    name: str = "file.png",
    mimetype: str = "image/png",
    filetype: str = "png",
    size: int = 1024,
    created: int = 1_700_000_000,
    team: str | None = None,
) -> dict[str, Any]:
    """A file object as a ``file_share`` message carries it (the fields of the file in
    bolt-python's tests/scenario_tests/test_message_file_share.py, ``event_payload``)."""
    team = team or DEFAULT_TEAM_ID
    private = f"https://files.slack.com/files-pri/{team}-{file_id}"
    return {
        "id": file_id,
        "created": created,
        "timestamp": created,
        "name": name,
        "title": name,
        "mimetype": mimetype,
        "filetype": filetype,
        "pretty_type": filetype.upper(),
        "user": user,
        "editable": False,
        "size": size,
        "mode": "hosted",
        "is_external": False,
        "external_type": "",
        "is_public": True,
        "public_url_shared": False,
        "display_as_bot": False,
        "username": "",
        "url_private": f"{private}/{name}",
        "url_private_download": f"{private}/download/{name}",
        "permalink": f"https://{team.lower()}.slack.com/files/{user}/{file_id}/{name}",
        "has_rich_preview": False,
    }


def file_share_event(
    channel: str,
    user: str,
    text: str = "",
    *,
    files: list[dict[str, Any]] | None = None,
    ts: str | None = None,
    thread_ts: str | None = None,
    upload: bool = False,
    display_as_bot: bool = False,
    channel_type: str = "channel",
) -> dict[str, Any]:
    """A person shares files (``subtype: file_share``) with ``text`` as typed.

    Fields from bolt-python's tests/scenario_tests/test_message_file_share.py
    (``event_payload``): ``files``, ``upload``, ``display_as_bot``, ``user``, ``blocks``,
    ``client_msg_id``; like it, no ``team`` (Slack leaves it out of file_share messages:
    slackapi/slack-api-specs issue 62). ``files`` defaults to one :func:`slack_file`.
    """
    ts = ts or next_ts()
    event: dict[str, Any] = {
        "type": "message",
        "subtype": "file_share",
        "text": wire_text(text),
        "files": files if files is not None else [slack_file("F" + ts.replace(".", ""), user=user)],
        "upload": upload,
        "user": user,
        "display_as_bot": display_as_bot,
        "ts": ts,
        "thread_ts": thread_ts,
        "blocks": rich_text_blocks(text) if text else None,
        "client_msg_id": str(uuid.uuid4()),
        "channel": channel,
        "event_ts": ts,
        "channel_type": channel_type,
    }
    return _without_none(event)


def thread_broadcast_event(
    channel: str,
    user: str,
    text: str,
    *,
    thread_ts: str,
    root_user: str,
    root_text: str = "",
    reply_count: int = 1,
    ts: str | None = None,
    team: str | None = None,
    channel_type: str = "channel",
) -> dict[str, Any]:
    """A thread reply also sent to the channel (``subtype: thread_broadcast``).

    ``root`` is the thread's parent with its thread state, as in bolt-python's
    tests/scenario_tests/test_message_thread_broadcast.py (``event_payload``); ``text`` and
    ``root_text`` are as typed.
    """
    ts = ts or next_ts()
    team = team or DEFAULT_TEAM_ID
    root = {
        "client_msg_id": str(uuid.uuid4()),
        "type": "message",
        "text": wire_text(root_text),
        "user": root_user,
        "ts": thread_ts,
        "team": team,
        "thread_ts": thread_ts,
        "reply_count": reply_count,
        "reply_users_count": 1,
        "latest_reply": ts,
        "reply_users": [user],
        "is_locked": False,
    }
    return {
        "type": "message",
        "subtype": "thread_broadcast",
        "text": wire_text(text),
        "user": user,
        "ts": ts,
        "thread_ts": thread_ts,
        "root": root,
        "client_msg_id": str(uuid.uuid4()),
        "channel": channel,
        "event_ts": ts,
        "channel_type": channel_type,
    }


def bot_message_event(
    channel: str,
    text: str,
    *,
    bot_id: str,
    username: str,
    ts: str | None = None,
    thread_ts: str | None = None,
    channel_type: str = "channel",
) -> dict[str, Any]:
    """A classic bot's post (``subtype: bot_message``): ``bot_id`` and ``username``, no ``user``
    (bolt-python tests/scenario_tests/test_message_bot.py,
    ``classic_bot_message_event_payload``). ``text`` is the bot's wire text."""
    ts = ts or next_ts()
    event: dict[str, Any] = {
        "type": "message",
        "subtype": "bot_message",
        "text": text,
        "ts": ts,
        "thread_ts": thread_ts,
        "username": username,
        "bot_id": bot_id,
        "channel": channel,
        "event_ts": ts,
        "channel_type": channel_type,
    }
    return _without_none(event)


def bot_user_message_event(
    channel: str,
    text: str,
    *,
    bot_id: str,
    user: str,
    app_id: str,
    name: str,
    team: str | None = None,
    ts: str | None = None,
    thread_ts: str | None = None,
    blocks: list[dict[str, Any]] | None = None,
    channel_type: str = "channel",
) -> dict[str, Any]:
    """A post by an app's bot user: no subtype, ``bot_id`` with its ``bot_profile`` and the bot
    ``user`` (bolt-python tests/scenario_tests/test_message_bot.py,
    ``bot_message_event_payload``). ``text`` is the app's wire text."""
    ts = ts or next_ts()
    team = team or DEFAULT_TEAM_ID
    event: dict[str, Any] = {
        "bot_id": bot_id,
        "type": "message",
        "text": text,
        "user": user,
        "ts": ts,
        "thread_ts": thread_ts,
        "team": team,
        "blocks": blocks,
        "bot_profile": {
            "id": bot_id,
            "deleted": False,
            "name": name,
            "updated": 1_700_000_000,
            "app_id": app_id,
            "icons": {
                "image_36": "https://a.slack-edge.com/80588/img/plugins/app/bot_36.png",
                "image_48": "https://a.slack-edge.com/80588/img/plugins/app/bot_48.png",
                "image_72": "https://a.slack-edge.com/80588/img/plugins/app/service_72.png",
            },
            "team_id": team,
        },
        "channel": channel,
        "event_ts": ts,
        "channel_type": channel_type,
    }
    return _without_none(event)


def channel_join_event(
    channel: str,
    user: str,
    *,
    user_name: str,
    inviter: str | None = None,
    ts: str | None = None,
    channel_type: str = "channel",
) -> dict[str, Any]:
    """``user`` joined ``channel`` (``subtype: channel_join``), invited by ``inviter`` if any.

    Slack writes the text: ``<@U123|name> has joined the channel``
    (https://docs.slack.dev/reference/events/message/channel_join). The documented example has
    no ``channel``; Events API deliveries name it, as every message event does.
    """
    ts = ts or next_ts()
    event: dict[str, Any] = {
        "type": "message",
        "subtype": "channel_join",
        "ts": ts,
        "user": user,
        "text": f"<@{user}|{user_name}> has joined the channel",
        "inviter": inviter,
        "channel": channel,
        "event_ts": ts,
        "channel_type": channel_type,
    }
    return _without_none(event)


def me_message_event(
    channel: str,
    user: str,
    text: str,
    *,
    ts: str | None = None,
    channel_type: str = "channel",
) -> dict[str, Any]:
    """A ``/me`` message (``subtype: me_message``), ``text`` as typed
    (https://docs.slack.dev/reference/events/message/me_message)."""
    ts = ts or next_ts()
    return {
        "type": "message",
        "subtype": "me_message",
        "channel": channel,
        "user": user,
        "text": wire_text(text),
        "ts": ts,
        "event_ts": ts,
        "channel_type": channel_type,
    }
