"""Web API method handlers.

Each handler takes the workspace and the call's arguments, returns the fields of a
successful answer (without ``"ok": true``) or raises :class:`ApiError`. Handlers are
synchronous: they run under the workspace lock and never await.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.slack_emulator.models import Message, View
from app.slack_emulator.ts import ts_micros, ts_to_permalink_id
from app.slack_emulator.workspace import ApiError, Workspace

Args = dict[str, Any]
Handler = Callable[[Workspace, Args], dict[str, Any]]

METHODS: dict[str, Handler] = {}


def method(name: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        METHODS[name] = handler
        return handler

    return register


def _arg(args: Args, name: str) -> str | None:
    """A string argument; absent and empty are the same to Slack."""
    value = args.get(name)
    if value is None or value == "":
        return None
    return str(value)


def _required(args: Args, name: str, error: str) -> str:
    value = _arg(args, name)
    if value is None:
        raise ApiError(error)
    return value


def _existing_message(ws: Workspace, args: Args, ts_arg: str = "ts") -> Message:
    channel = _required(args, "channel", "channel_not_found")
    ts = _required(args, ts_arg, "message_not_found")
    message = ws.find_message(channel, ts)
    if message is None:
        raise ApiError("message_not_found")
    return message


def _check_content(args: Args) -> None:
    if not any(args.get(k) for k in ("text", "blocks", "attachments", "markdown_text")):
        raise ApiError("no_text")


def _flag(args: Args, name: str) -> bool:
    """A boolean argument: slack-sdk sends ``"1"``/``"0"``, JSON bodies send true/false."""
    return str(args.get(name, "")).strip().lower() in ("1", "true")


def _limit(args: Args, *, default: int, maximum: int) -> int:
    value = args.get("limit")
    if value is None or value == "":
        return default
    try:
        limit = int(value)
    except (TypeError, ValueError):
        raise ApiError("invalid_limit") from None
    if limit < 0:
        raise ApiError("invalid_limit")
    return min(limit or default, maximum)


@dataclass(frozen=True)
class _Window:
    """The ``oldest``/``latest``/``inclusive`` arguments of the history methods."""

    oldest: int | None
    latest: int | None
    inclusive: bool

    @classmethod
    def from_args(cls, args: Args) -> _Window:
        return cls(
            oldest=_bound(args, "oldest", "invalid_ts_oldest"),
            latest=_bound(args, "latest", "invalid_ts_latest"),
            inclusive=_flag(args, "inclusive"),
        )

    def __contains__(self, message: Message) -> bool:
        at = ts_micros(message.ts)
        if self.oldest is not None and (
            at < self.oldest or (at == self.oldest and not self.inclusive)
        ):
            return False
        return self.latest is None or at < self.latest or (at == self.latest and self.inclusive)


def _bound(args: Args, name: str, error: str) -> int | None:
    value = _arg(args, name)
    if value is None:
        # Unbounded. Slack's default latest is "now", but a pinned test clock lags the ts
        # of what was just posted, so "now" would hide it.
        return None
    try:
        return ts_micros(value)
    except ValueError:
        raise ApiError(error) from None


# Slack's cursors for message lists are base64 of "next_ts:<ts without the dot>", naming the
# first message of the next page.
_CURSOR_PREFIX = "next_ts:"


def _encode_cursor(ts: str) -> str:
    return base64.b64encode(f"{_CURSOR_PREFIX}{ts.replace('.', '')}".encode()).decode()


def _decode_cursor(args: Args) -> int | None:
    cursor = _arg(args, "cursor")
    if cursor is None:
        return None
    try:
        decoded = base64.b64decode(cursor, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise ApiError("invalid_cursor") from None
    prefix, _, digits = decoded.partition(":")
    if f"{prefix}:" != _CURSOR_PREFIX or not digits.isascii() or not digits.isdigit():
        raise ApiError("invalid_cursor")
    return int(digits)


def _page(
    messages: list[Message], limit: int, *, starting_at: int | None, newest_first: bool
) -> tuple[list[Message], dict[str, Any]]:
    """Cut one page out of ``messages`` (already in answer order), resuming at a cursor.

    Returns the page and the ``has_more``/``response_metadata`` fields of the answer.
    """
    if starting_at is not None:
        if newest_first:
            messages = [m for m in messages if ts_micros(m.ts) <= starting_at]
        else:
            messages = [m for m in messages if ts_micros(m.ts) >= starting_at]
    page, rest = messages[:limit], messages[limit:]
    if not rest:
        return page, {"has_more": False}
    return page, {
        "has_more": True,
        "response_metadata": {"next_cursor": _encode_cursor(rest[0].ts)},
    }


@method("auth.test")
def auth_test(ws: Workspace, args: Args) -> dict[str, Any]:
    return {
        "url": f"https://{ws.team.domain}.slack.com/",
        "team": ws.team.name,
        "user": ws.bot.name,
        "team_id": ws.team.id,
        "user_id": ws.bot.user_id,
        "bot_id": ws.bot.bot_id,
        "enterprise_id": ws.enterprise_id,
        "is_enterprise_install": ws.is_enterprise_install,
    }


@method("chat.postMessage")
def chat_post_message(ws: Workspace, args: Args) -> dict[str, Any]:
    channel = ws.check_channel(_arg(args, "channel"))
    _check_content(args)
    message = Message(
        channel=channel,
        ts=ws.ts.next(),
        text=_arg(args, "text") or _arg(args, "markdown_text") or "",
        user=ws.bot.user_id,
        bot_id=ws.bot.bot_id,
        app_id=ws.bot.app_id,
        team=ws.team.id,
        blocks=args.get("blocks"),
        attachments=args.get("attachments"),
        metadata=args.get("metadata"),
        # A reply to a message the emulator does not know (e.g. a user's message sent only
        # as an event) is kept too; its thread gains a parent once the test seeds it.
        thread_ts=_arg(args, "thread_ts"),
    )
    ws.store(message)
    return {"channel": channel, "ts": message.ts, "message": ws.render(message)}


@method("files.getUploadURLExternal")
def files_get_upload_url_external(ws: Workspace, args: Args) -> dict[str, Any]:
    """docs.slack.dev/reference/methods/files.getUploadURLExternal: `filename` and `length`
    required; "missing_argument ... Typically only occurs when the length provided is 0";
    `alt_txt` at most 1,000 characters (alt_txt_too_large)."""
    name = _required(args, "filename", "invalid_arguments")
    try:
        length = int(str(args.get("length")))
    except ValueError:
        raise ApiError("invalid_arguments") from None
    if length <= 0:
        raise ApiError("missing_argument")
    alt_txt = _arg(args, "alt_txt")
    if alt_txt is not None and len(alt_txt) > 1000:
        raise ApiError("alt_txt_too_large")
    upload = ws.new_file(name, length, alt_txt)
    return {"upload_url": upload.upload_url, "file_id": upload.id}


@method("files.completeUploadExternal")
def files_complete_upload_external(ws: Workspace, args: Args) -> dict[str, Any]:
    """docs.slack.dev/reference/methods/files.completeUploadExternal: `files` (ids and
    titles) required; with `channel_id` the files are shared there in one message carrying
    `initial_comment` (which wins) or `blocks`; without, they stay private. Stricter than
    Slack: a file whose bytes never arrived, whose size is not the length announced, or that
    was completed before is file_not_found."""
    files = args.get("files")
    if isinstance(files, str):
        try:
            files = json.loads(files)
        except ValueError:
            raise ApiError("invalid_arguments") from None
    if not isinstance(files, list) or not files:
        raise ApiError("invalid_arguments")
    uploads = []
    for entry in files:
        upload = ws.files.get(str(entry.get("id"))) if isinstance(entry, dict) else None
        if (
            upload is None
            or upload.completed
            or upload.content is None
            or len(upload.content) != upload.length
        ):
            raise ApiError("file_not_found")
        uploads.append((upload, entry.get("title")))
    channel = _arg(args, "channel_id")
    message_ts = None
    if channel is not None:
        ws.check_channel(channel)
        comment = _arg(args, "initial_comment")
        message = Message(
            channel=channel,
            ts=ws.ts.next(),
            text=comment or "",
            user=ws.bot.user_id,
            bot_id=ws.bot.bot_id,
            app_id=ws.bot.app_id,
            team=ws.team.id,
            blocks=None if comment else args.get("blocks"),
            thread_ts=_arg(args, "thread_ts"),
            files=[upload.id for upload, _ in uploads],
        )
        ws.store(message)
        message_ts = message.ts
    for upload, title in uploads:
        upload.completed = True
        upload.title = str(title) if title else None
        if channel is not None and message_ts is not None:
            upload.shares.setdefault(channel, []).append(message_ts)
    return {"files": [{"id": u.id, "title": u.title or u.name} for u, _ in uploads]}


@method("files.info")
def files_info(ws: Workspace, args: Args) -> dict[str, Any]:
    upload = ws.files.get(_required(args, "file", "file_not_found"))
    if upload is None or not upload.completed:
        raise ApiError("file_not_found")
    return {"file": upload.to_api()}


@method("chat.update")
def chat_update(ws: Workspace, args: Args) -> dict[str, Any]:
    message = _existing_message(ws, args)
    # A bot token may only edit the bot's own messages.
    if message.user != ws.bot.user_id:
        raise ApiError("cant_update_message")
    if "text" in args:
        message.text = _arg(args, "text") or ""
    for name in ("blocks", "attachments", "metadata"):
        if name in args:
            setattr(message, name, args[name] or None)
    message.edited = {"user": ws.bot.user_id, "ts": ws.ts.next()}
    return {
        "channel": message.channel,
        "ts": message.ts,
        "text": message.text,
        "message": ws.render(message),
    }


@method("chat.delete")
def chat_delete(ws: Workspace, args: Args) -> dict[str, Any]:
    message = _existing_message(ws, args)
    if message.user != ws.bot.user_id:
        raise ApiError("cant_delete_message")
    ws.remove(message)
    return {"channel": message.channel, "ts": message.ts}


@method("chat.postEphemeral")
def chat_post_ephemeral(ws: Workspace, args: Args) -> dict[str, Any]:
    ws.check_channel(_arg(args, "channel"))
    _required(args, "user", "user_not_in_channel")
    _check_content(args)
    return {"message_ts": ws.ts.next()}


@method("chat.getPermalink")
def chat_get_permalink(ws: Workspace, args: Args) -> dict[str, Any]:
    channel = _required(args, "channel", "channel_not_found")
    ts = _required(args, "message_ts", "message_not_found")
    permalink = f"https://{ws.team.domain}.slack.com/archives/{channel}/{ts_to_permalink_id(ts)}"
    # Only messages the emulator holds are known; for those, replies link into their thread.
    message = ws.find_message(channel, ts)
    if message is not None and message.parent_ts is not None:
        permalink += f"?thread_ts={message.parent_ts}&cid={channel}"
    return {"channel": channel, "permalink": permalink}


def _reaction_target(ws: Workspace, args: Args) -> tuple[str, dict[str, list[str]]]:
    name = (_arg(args, "name") or "").strip(":")
    if not name:
        raise ApiError("invalid_name")
    channel = _required(args, "channel", "no_item_specified")
    ts = _required(args, "timestamp", "no_item_specified")
    return name, ws.reactions_on(channel, ts)


@method("reactions.add")
def reactions_add(ws: Workspace, args: Args) -> dict[str, Any]:
    name, reactions = _reaction_target(ws, args)
    users = reactions.setdefault(name, [])
    if ws.bot.user_id in users:
        raise ApiError("already_reacted")
    users.append(ws.bot.user_id)
    return {}


@method("reactions.remove")
def reactions_remove(ws: Workspace, args: Args) -> dict[str, Any]:
    name, reactions = _reaction_target(ws, args)
    users = reactions.get(name, [])
    if ws.bot.user_id not in users:
        raise ApiError("no_reaction")
    users.remove(ws.bot.user_id)
    if not users:
        del reactions[name]
    return {}


@method("conversations.history")
def conversations_history(ws: Workspace, args: Args) -> dict[str, Any]:
    """Top-level messages (thread parents included, replies not), newest first.

    Pages walk back in time from ``latest``; the cursor names the next (older) message.
    """
    channel = ws.check_channel(_arg(args, "channel"))
    window = _Window.from_args(args)
    limit = _limit(args, default=100, maximum=999)
    starting_at = _decode_cursor(args)
    top_level = [
        m for m in reversed(ws.channel_messages(channel)) if m.parent_ts is None and m in window
    ]
    page, paging = _page(top_level, limit, starting_at=starting_at, newest_first=True)
    return {
        "messages": [_listed(ws, m, args) for m in page],
        **paging,
        "pin_count": 0,
        "channel_actions_ts": None,
        "channel_actions_count": 0,
    }


@method("conversations.replies")
def conversations_replies(ws: Workspace, args: Args) -> dict[str, Any]:
    """A thread: the parent first, then its replies oldest first.

    Every page starts with the parent, whatever the window, as Slack's does; ``limit`` counts
    replies only. The ts of a reply answers that reply alone, and of a message without
    replies that message alone.
    """
    channel = ws.check_channel(_arg(args, "channel"))
    ts = _required(args, "ts", "thread_not_found")
    window = _Window.from_args(args)
    limit = _limit(args, default=1000, maximum=1000)
    starting_at = _decode_cursor(args)
    parent = ws.find_message(channel, ts)
    if parent is None:
        raise ApiError("thread_not_found")
    if parent.parent_ts is not None:
        return {"messages": [_listed(ws, parent, args)], "has_more": False}
    replies = [m for m in ws.replies_to(channel, ts) if m in window]
    page, paging = _page(replies, limit, starting_at=starting_at, newest_first=False)
    return {"messages": [_listed(ws, m, args) for m in [parent, *page]], **paging}


def _listed(ws: Workspace, message: Message, args: Args) -> dict[str, Any]:
    """A message as the history methods list it: its metadata only when asked for with
    `include_all_metadata` ("Return all metadata associated with this message", default false:
    https://docs.slack.dev/reference/methods/conversations.history)."""
    rendered = ws.render(message)
    if not _flag(args, "include_all_metadata"):
        rendered.pop("metadata", None)
    return rendered


@method("users.info")
def users_info(ws: Workspace, args: Args) -> dict[str, Any]:
    user = ws.users.get(_arg(args, "user") or "")
    if user is None:
        raise ApiError("user_not_found")
    return {"user": user.to_api(now=ws.clock())}


@method("conversations.info")
def conversations_info(ws: Workspace, args: Args) -> dict[str, Any]:
    channel = ws.channels.get(_arg(args, "channel") or "")
    if channel is None:
        raise ApiError("channel_not_found")
    return {"channel": channel.to_api()}


@method("team.info")
def team_info(ws: Workspace, args: Args) -> dict[str, Any]:
    team = ws.teams.get(_arg(args, "team") or ws.team.id)
    if team is None:
        raise ApiError("team_not_found")
    return {"team": team.to_api()}


@method("usergroups.users.list")
def usergroups_users_list(ws: Workspace, args: Args) -> dict[str, Any]:
    users = ws.usergroups.get(_arg(args, "usergroup") or "")
    if users is None:
        raise ApiError("no_such_subteam")
    return {"users": list(users)}


def _view_definition(args: Args) -> dict[str, Any]:
    view = args.get("view")
    if not isinstance(view, dict):
        raise ApiError("invalid_arguments")
    return view


def _store_view(
    ws: Workspace, definition: dict[str, Any], *, view_id: str | None = None, **extra: Any
) -> dict[str, Any]:
    view_id = view_id or ws.next_view_id()
    view = View(
        id=view_id,
        team_id=ws.team.id,
        app_id=ws.bot.app_id,
        bot_id=ws.bot.bot_id,
        definition=definition,
        hash=f"{int(ws.clock())}.{secrets.token_hex(4)}",
        external_id=str(definition.get("external_id", "")),
        **extra,
    )
    ws.views[view_id] = view
    return {"view": view.to_api()}


@method("views.open")
def views_open(ws: Workspace, args: Args) -> dict[str, Any]:
    _required(args, "trigger_id", "invalid_arguments")
    return _store_view(ws, _view_definition(args))


@method("views.push")
def views_push(ws: Workspace, args: Args) -> dict[str, Any]:
    _required(args, "trigger_id", "invalid_arguments")
    return _store_view(ws, _view_definition(args))


@method("views.publish")
def views_publish(ws: Workspace, args: Args) -> dict[str, Any]:
    user_id = _required(args, "user_id", "invalid_arguments")
    definition = _view_definition(args)
    if definition.get("type") != "home":
        raise ApiError("invalid_arguments")
    # A user's Home tab keeps its view id across publishes.
    view_id = ws.home_views.get(user_id) or ws.home_views.setdefault(user_id, ws.next_view_id())
    return _store_view(ws, definition, view_id=view_id)


@method("views.update")
def views_update(ws: Workspace, args: Args) -> dict[str, Any]:
    definition = _view_definition(args)
    view_id = _arg(args, "view_id")
    external_id = _arg(args, "external_id")
    if view_id is None and external_id is None:
        raise ApiError("invalid_arguments")
    if view_id is None:
        found = [v for v in ws.views.values() if v.external_id == external_id]
        if not found:
            raise ApiError("not_found")
        view_id = found[0].id
    # Unknown view ids are accepted: views opened by the real Slack client (e.g. the ids in
    # view_submission payloads built by tests) are never seen by the emulator.
    previous = ws.views.get(view_id)
    root = previous.root_view_id if previous else None
    return _store_view(ws, definition, view_id=view_id, root_view_id=root)
