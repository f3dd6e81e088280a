"""Slack's own payload shapes, as our fixtures: what real Slack sends, not what our emulator
assumes. Each builder says where its shape comes from; the values are ours, filled in to match
the test world (installation T0001 with channel CSUPPORT watched, a Slack Connect customer from
TGLOBEX01, an Enterprise Grid org E0ACME01).

Sources (read, not copied):
- bolt-python's scenario tests at slackapi/bolt-python, tests/scenario_tests/ (commit a2f21ae):
  test_message.py, test_message_bot.py, test_message_file_share.py,
  test_message_thread_broadcast.py, test_message_changed.py, test_message_deleted.py,
  test_events_org_apps.py, test_events_shared_channels.py, test_block_actions.py,
  test_shortcut.py, test_view_submission.py; tests/adapter_tests/asgi/test_asgi_http.py.
- Slack's event reference: https://docs.slack.dev/reference/events/message (and its
  message_changed, channel_join and me_message subtypes), .../events/reaction_added,
  .../events/app_home_opened; the Events API envelope and `authorizations`:
  https://api.slack.com/apis/events-api#callback-field.
- A Slack Connect click (team.id is the app's workspace, user.team_id the clicker's):
  https://github.com/slackapi/java-slack-sdk/issues/1041.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

INSTALLATION = "T0001"
ENTERPRISE = "E0ACME01"
CUSTOMER_TEAM = "TGLOBEX01"
CUSTOMER_ENTERPRISE = "E0GLOBEX1"
CUSTOMER = "UGLOBEX01"
APP_ID = "A0001"
BOT_USER = "UBOT"


def _rich_text(typed: str) -> list[dict[str, Any]]:
    # The rich_text block a Slack client attaches (test_message_bot.py user_message_event_payload).
    return [
        {
            "type": "rich_text",
            "block_id": uuid.uuid4().hex[:4],
            "elements": [
                {"type": "rich_text_section", "elements": [{"type": "text", "text": typed}]}
            ],
        }
    ]


def envelope(
    event: dict[str, Any],
    *,
    team_id: str = INSTALLATION,
    authorization: dict[str, Any] | None = None,
    enterprise_id: str | None = None,
    is_ext_shared_channel: bool = False,
    event_id: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """The `event_callback` envelope (test_message_bot.py; Slack's Events API docs).

    `team_id` is where the event happened; `authorization` is `authorizations[0]`, the
    installation (ours by default).
    """
    body: dict[str, Any] = {
        "token": "verification-token",
        "team_id": team_id,
        "api_app_id": APP_ID,
        "event": event,
        "type": "event_callback",
        "event_id": event_id or f"Ev{uuid.uuid4().hex[:10].upper()}",
        "event_time": int(float(event.get("event_ts", event.get("ts", "1700000000")))),
        "authorizations": [
            authorization
            or {
                "enterprise_id": None,
                "team_id": INSTALLATION,
                "user_id": BOT_USER,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": is_ext_shared_channel,
        "event_context": f"4-{uuid.uuid4().hex}",
    }
    if enterprise_id is not None:
        body["enterprise_id"] = enterprise_id
    body.update(extra)
    return body


def user_message(
    *, channel: str, user: str, text: str, ts: str, team: str = INSTALLATION, **fields: Any
) -> dict[str, Any]:
    """A person's message (test_message_bot.py `user_message_event_payload`). `text` is Slack's
    wire form: what the person typed, with `&`, `<`, `>` escaped."""
    event = {
        "client_msg_id": str(uuid.uuid4()),
        "type": "message",
        "text": text,
        "user": user,
        "ts": ts,
        "team": team,
        "blocks": _rich_text(text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")),
        "channel": channel,
        "event_ts": ts,
        "channel_type": "channel",
    }
    event.update(fields)
    return event


def slack_connect_message(*, channel: str, text: str, ts: str) -> dict[str, Any]:
    """A Slack Connect customer's message, delivered to our installation: the envelope's
    `team_id` is the customer's workspace, `authorizations[0]` is us
    (test_events_shared_channels.py; Events API docs on `authorizations`). The event names the
    writer's team in `team` and `user_team`."""
    event = user_message(
        channel=channel,
        user=CUSTOMER,
        text=text,
        ts=ts,
        team=CUSTOMER_TEAM,
        user_team=CUSTOMER_TEAM,
    )
    return envelope(
        event,
        team_id=CUSTOMER_TEAM,
        is_ext_shared_channel=True,
        context_team_id=INSTALLATION,
        context_enterprise_id=None,
    )


def grid_message(*, channel: str, user: str, text: str, ts: str) -> dict[str, Any]:
    """A message in an Enterprise Grid workspace (test_message.py `message_body`: W user ids,
    `enterprise_id` at the top; test_message_bot.py: `authorizations` with the org)."""
    return envelope(
        user_message(channel=channel, user=user, text=text, ts=ts),
        enterprise_id=ENTERPRISE,
        authorization={
            "enterprise_id": ENTERPRISE,
            "team_id": INSTALLATION,
            "user_id": BOT_USER,
            "is_bot": True,
            "is_enterprise_install": False,
        },
    )


def org_wide_message(*, channel: str, user: str, text: str, ts: str) -> dict[str, Any]:
    """An org-wide install: `authorizations[0].team_id` is null and `is_enterprise_install` true
    (test_events_org_apps.py `org_message`)."""
    return envelope(
        user_message(channel=channel, user=user, text=text, ts=ts),
        enterprise_id=ENTERPRISE,
        authorization={
            "enterprise_id": ENTERPRISE,
            "team_id": None,
            "user_id": BOT_USER,
            "is_bot": True,
            "is_enterprise_install": True,
        },
    )


def bot_message_new_style(*, channel: str, ts: str) -> dict[str, Any]:
    """Another app's post: `bot_id`, `bot_profile` and a bot user, no subtype
    (test_message_bot.py `bot_message_event_payload`)."""
    return envelope(
        {
            "bot_id": "B0OTHER01",
            "type": "message",
            "text": "Deploy finished",
            "user": "U0OTHERBOT",
            "ts": ts,
            "team": INSTALLATION,
            "bot_profile": {
                "id": "B0OTHER01",
                "deleted": False,
                "name": "deploys",
                "updated": 1700000000,
                "app_id": "A0OTHER01",
                "team_id": INSTALLATION,
            },
            "channel": channel,
            "event_ts": ts,
            "channel_type": "channel",
        }
    )


def bot_message_classic(*, channel: str, ts: str) -> dict[str, Any]:
    """A legacy bot: `subtype: bot_message`, `username`, `bot_id`, no `user`
    (test_message_bot.py `classic_bot_message_event_payload`)."""
    return envelope(
        {
            "type": "message",
            "subtype": "bot_message",
            "text": "Nightly backup failed",
            "ts": ts,
            "username": "backup-bot",
            "bot_id": "B0CLASSIC1",
            "channel": channel,
            "event_ts": ts,
            "channel_type": "channel",
        }
    )


def file_share(*, channel: str, user: str, text: str, ts: str) -> dict[str, Any]:
    """A message with a file (test_message_file_share.py): `subtype: file_share`, `files`,
    `upload`, `display_as_bot`."""
    event = user_message(channel=channel, user=user, text=text, ts=ts, subtype="file_share")
    event.update(
        {
            "files": [
                {
                    "id": "F0SCREEN01",
                    "created": 1700000000,
                    "name": "error.png",
                    "title": "error.png",
                    "mimetype": "image/png",
                    "filetype": "png",
                    "user": user,
                    "size": 1234,
                    "mode": "hosted",
                    "is_external": False,
                    "url_private": "https://files.slack.com/files-pri/T0001-F0SCREEN01/error.png",
                }
            ],
            "upload": False,
            "display_as_bot": False,
        }
    )
    return envelope(event)


def thread_broadcast(
    *, channel: str, user: str, text: str, ts: str, thread_ts: str, root_user: str
) -> dict[str, Any]:
    """A thread reply also sent to the channel (test_message_thread_broadcast.py): subtype
    `thread_broadcast`, `thread_ts`, and the thread's `root`."""
    event = user_message(channel=channel, user=user, text=text, ts=ts, subtype="thread_broadcast")
    event.update(
        {
            "thread_ts": thread_ts,
            "root": {
                "type": "message",
                "text": "root",
                "user": root_user,
                "ts": thread_ts,
                "team": INSTALLATION,
                "thread_ts": thread_ts,
                "reply_count": 1,
                "reply_users_count": 1,
                "latest_reply": ts,
                "reply_users": [user],
                "is_locked": False,
            },
        }
    )
    return envelope(event)


def message_changed(
    *, channel: str, user: str, ts: str, text: str, previous_text: str, edited_at: str
) -> dict[str, Any]:
    """An edit (test_message_changed.py; docs message_changed): nested `message` and
    `previous_message`. As in bolt-python's fixture, the nested message carries no `ts`: the
    edited message is named by `previous_message.ts`. Its authorization is ours."""
    return envelope(
        {
            "type": "message",
            "subtype": "message_changed",
            "message": {
                "type": "message",
                "text": text,
                "user": user,
                "team": INSTALLATION,
                "edited": {"user": user, "ts": edited_at},
                "blocks": _rich_text(text),
            },
            "previous_message": {
                "type": "message",
                "text": previous_text,
                "user": user,
                "team": INSTALLATION,
                "ts": ts,
            },
            "channel": channel,
            "hidden": True,
            "ts": edited_at,
            "event_ts": edited_at,
            "channel_type": "channel",
        }
    )


def message_deleted(*, channel: str, user: str, ts: str, deleted_at: str) -> dict[str, Any]:
    """A deletion (test_message_deleted.py): `deleted_ts` and `previous_message`."""
    return envelope(
        {
            "type": "message",
            "subtype": "message_deleted",
            "previous_message": {
                "type": "message",
                "text": "please ignore",
                "user": user,
                "team": INSTALLATION,
                "ts": ts,
            },
            "channel": channel,
            "hidden": True,
            "deleted_ts": ts,
            "event_ts": deleted_at,
            "ts": deleted_at,
            "channel_type": "channel",
        }
    )


def channel_join(*, channel: str, user: str, ts: str) -> dict[str, Any]:
    """Someone joined (docs message/channel_join): text `<@U…|name> has joined the channel`."""
    return envelope(
        {
            "type": "message",
            "subtype": "channel_join",
            "ts": ts,
            "user": user,
            "text": f"<@{user}|cal> has joined the channel",
            "inviter": "U0INVITER1",
            "channel": channel,
            "event_ts": ts,
            "channel_type": "channel",
        }
    )


def me_message(*, channel: str, user: str, text: str, ts: str) -> dict[str, Any]:
    """`/me ...` (docs message/me_message)."""
    return envelope(
        {
            "type": "message",
            "subtype": "me_message",
            "channel": channel,
            "user": user,
            "text": text,
            "ts": ts,
            "event_ts": ts,
            "channel_type": "channel",
        }
    )


def shared_channel_reaction(*, channel: str, user: str, ts: str, reaction: str) -> dict[str, Any]:
    """A reaction in a shared channel by someone of the other side: the envelope's `team_id` is
    the source team, `authorizations[0].team_id` the installed one
    (test_events_shared_channels.py `valid_reaction_added_body`)."""
    return envelope(
        {
            "type": "reaction_added",
            "user": user,
            "item": {"type": "message", "channel": channel, "ts": ts},
            "reaction": reaction,
            "item_user": CUSTOMER,
            "event_ts": ts,
        },
        team_id=CUSTOMER_TEAM,
        enterprise_id=CUSTOMER_ENTERPRISE,
        is_ext_shared_channel=True,
    )


def reaction_without_item_user(*, channel: str, user: str, ts: str) -> dict[str, Any]:
    """Docs reaction_added: messages not written by a user carry no `item_user`, and the item
    may have a `channel_type`."""
    return envelope(
        {
            "type": "reaction_added",
            "user": user,
            "reaction": "ticket",
            "item": {"type": "message", "channel": channel, "ts": ts, "channel_type": "channel"},
            "event_ts": ts,
        }
    )


def reaction_on_file(*, user: str) -> dict[str, Any]:
    """Docs reaction_added on a file: `item: {type: file, file}`."""
    return envelope(
        {
            "type": "reaction_added",
            "user": user,
            "reaction": "ticket",
            "item_user": CUSTOMER,
            "item": {"type": "file", "file": "F0SCREEN01"},
            "event_ts": "1700000000.000100",
        }
    )


def home_opened(*, user: str, tab: str = "home") -> dict[str, Any]:
    """app_home_opened (docs; test_events_org_apps.py for the Messages tab)."""
    return envelope(
        {
            "type": "app_home_opened",
            "user": user,
            "channel": "D0HOME0001",
            "tab": tab,
            "event_ts": "1700000000.000200",
        }
    )


def org_team_access_granted() -> dict[str, Any]:
    """An org-level event with no `team_id` at all (test_events_org_apps.py)."""
    return {
        "token": "verification-token",
        "enterprise_id": ENTERPRISE,
        "api_app_id": APP_ID,
        "event": {"type": "team_access_granted", "team_ids": [INSTALLATION, "T0002"]},
        "type": "event_callback",
        "event_id": f"Ev{uuid.uuid4().hex[:10].upper()}",
        "event_time": 1700000000,
    }


# -- interactivity and commands ---------------------------------------------------------------


def connect_block_actions(
    *, action: dict[str, Any], channel: str, message: dict[str, Any], user: str = CUSTOMER
) -> dict[str, Any]:
    """A Slack Connect user's click on a message we posted: `team.id` is the app's workspace,
    `user.team_id` the clicker's own (java-slack-sdk issue 1041; test_block_actions.py)."""
    return {
        "type": "block_actions",
        "user": {"id": user, "username": "ana", "name": "ana", "team_id": CUSTOMER_TEAM},
        "api_app_id": APP_ID,
        "token": "verification-token",
        "container": {
            "type": "message",
            "message_ts": message["ts"],
            "channel_id": channel,
            "is_ephemeral": False,
            "thread_ts": message.get("thread_ts"),
        },
        "trigger_id": "1700000000.111.abcdef",
        "team": {"id": INSTALLATION, "domain": "acme"},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel, "name": "support"},
        "message": message,
        "state": {"values": {}},
        "response_url": "https://hooks.slack.com/actions/T0001/1/abc",
        "actions": [
            {
                "block_id": "b",
                "text": {"type": "plain_text", "text": "x", "emoji": True},
                "type": "button",
                "action_ts": "1700000000.222",
                **action,
            }
        ],
    }


def connect_view_submission(
    *, callback_id: str, private_metadata: str, values: dict[str, Any], user: str = CUSTOMER
) -> dict[str, Any]:
    """A Slack Connect user submits a modal: `team`, `user.team_id`, `view.team_id` and
    `enterprise` are the user's side; `view.app_installed_team_id` is the installation
    (test_view_submission.py `connect_channel_payload`)."""
    return {
        "type": "view_submission",
        "team": {
            "id": CUSTOMER_TEAM,
            "domain": "globex",
            "enterprise_id": CUSTOMER_ENTERPRISE,
            "enterprise_name": "Globex Org",
        },
        "user": {"id": user, "username": "ana", "name": "ana", "team_id": CUSTOMER_TEAM},
        "api_app_id": APP_ID,
        "token": "verification-token",
        "trigger_id": "1700000000.333.abcdef",
        "view": {
            "id": "V0CONNECT1",
            "team_id": CUSTOMER_TEAM,
            "type": "modal",
            "blocks": [],
            "private_metadata": private_metadata,
            "callback_id": callback_id,
            "state": {"values": values},
            "hash": "1700000000.CmTS8F7U",
            "title": {"type": "plain_text", "text": "Your feedback"},
            "close": {"type": "plain_text", "text": "Cancel"},
            "submit": {"type": "plain_text", "text": "Send"},
            "root_view_id": "V0CONNECT1",
            "app_id": APP_ID,
            "external_id": "",
            "app_installed_team_id": INSTALLATION,
            "bot_id": "BBOT",
        },
        "enterprise": {"id": CUSTOMER_ENTERPRISE, "name": "Globex Org"},
    }


def grid_global_shortcut(*, user: str, callback_id: str) -> dict[str, Any]:
    """A global shortcut in a Grid workspace (test_shortcut.py `global_shortcut_body`)."""
    return {
        "type": "shortcut",
        "token": "verification-token",
        "action_ts": "1700000000.444",
        "team": {
            "id": INSTALLATION,
            "domain": "acme",
            "enterprise_id": ENTERPRISE,
            "enterprise_name": "Acme Org",
        },
        "user": {"id": user, "username": "lee", "team_id": INSTALLATION},
        "callback_id": callback_id,
        "trigger_id": "1700000000.444.abcdef",
    }


def grid_slash_command(*, user: str, channel: str, text: str, response_url: str) -> str:
    """A slash command from a Grid workspace, form-encoded as Slack sends it
    (tests/adapter_tests/asgi/test_asgi_http.py: `enterprise_id`, `enterprise_name`)."""
    return urlencode(
        {
            "token": "verification-token",
            "team_id": INSTALLATION,
            "team_domain": "acme",
            "channel_id": channel,
            "channel_name": "support",
            "user_id": user,
            "user_name": "lee",
            "command": "/ticket",
            "text": text,
            "enterprise_id": ENTERPRISE,
            "enterprise_name": "Acme Org",
            "response_url": response_url,
            "trigger_id": "1700000000.555.abcdef",
        }
    )


@dataclass(frozen=True)
class Encoded:
    """A request body as Slack puts it on the wire."""

    body: bytes
    content_type: str


def as_event(payload: dict[str, Any]) -> Encoded:
    return Encoded(json.dumps(payload).encode(), "application/json")


def as_interaction(payload: dict[str, Any]) -> Encoded:
    return Encoded(
        urlencode({"payload": json.dumps(payload)}).encode(), "application/x-www-form-urlencoded"
    )


def as_command(form: str) -> Encoded:
    return Encoded(form.encode(), "application/x-www-form-urlencoded")
