"""In-memory state of the emulated workspace, shared by the Web API handlers and the test."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from app.slack_emulator.models import Channel, Message, Team, User, View
from app.slack_emulator.ts import TsGenerator, ts_micros

DEFAULT_APP_ID = "A0001"
BOT_USER_NAME = "ticketbot"


class ApiError(Exception):
    """A Slack application-level error: answered as HTTP 200 ``{"ok": false, "error": ...}``."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


@dataclass(frozen=True)
class BotIdentity:
    user_id: str
    bot_id: str
    app_id: str = DEFAULT_APP_ID
    name: str = BOT_USER_NAME


UPLOAD_PATH = "/_emulator/upload/"


@dataclass
class UploadedFile:
    """A file on its way through Slack's upload flow (docs.slack.dev/reference/methods/
    files.getUploadURLExternal, "Usage info"): a URL and an id from getUploadURLExternal, the
    bytes POSTed to that URL, then files.completeUploadExternal shares it (once)."""

    id: str
    name: str
    length: int
    alt_txt: str | None
    upload_url: str
    content: bytes | None = None
    title: str | None = None
    completed: bool = False
    # channel -> ts of the message that shares it (files.info's `shares`)
    shares: dict[str, list[str]] = field(default_factory=dict)

    def receive(self, body: bytes) -> tuple[int, str]:
        """The upload URL's answer: Slack answers 200 and "OK - <bytes>" once it has them."""
        if self.completed:
            return 400, "upload already completed"
        self.content = body
        return 200, f"OK - {len(body)}"

    def to_api(self) -> dict[str, Any]:
        mimetype = "image/png" if self.name.lower().endswith(".png") else "application/octet-stream"
        return {
            "id": self.id,
            "name": self.name,
            "title": self.title or self.name,
            "mimetype": mimetype,
            "filetype": self.name.rsplit(".", 1)[-1].lower() if "." in self.name else "binary",
            "size": len(self.content or b""),
            "alt_txt": self.alt_txt,
            "shares": {"public": {c: [{"ts": ts} for ts in t] for c, t in self.shares.items()}},
        }


@dataclass
class Workspace:
    """Everything the emulated Slack knows.

    Handlers are synchronous and run under ``lock``, so a reader in another coroutine (or
    thread) never sees a half-applied change.
    """

    team: Team
    bot: BotIdentity
    clock: Callable[[], float]
    ts: TsGenerator
    strict_channels: bool = False
    # The org of an Enterprise Grid workspace; with `is_enterprise_install`, the app was
    # installed for the whole org (auth.test says so, and events name no team).
    enterprise_id: str | None = None
    is_enterprise_install: bool = False
    lock: threading.RLock = field(default_factory=threading.RLock)
    teams: dict[str, Team] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)
    channels: dict[str, Channel] = field(default_factory=dict)
    usergroups: dict[str, list[str]] = field(default_factory=dict)
    # channel -> ts -> message, replies included. Change it through store() and remove(),
    # which also keep ``replies``: (channel, thread ts) -> ts -> reply.
    messages: dict[str, dict[str, Message]] = field(default_factory=dict)
    replies: dict[tuple[str, str], dict[str, Message]] = field(default_factory=dict)
    # Reactions on messages the emulator did not post (e.g. users' messages sent as events).
    foreign_reactions: dict[tuple[str, str], dict[str, list[str]]] = field(default_factory=dict)
    views: dict[str, View] = field(default_factory=dict)
    home_views: dict[str, str] = field(default_factory=dict)  # user id -> view id
    view_counter: int = 0
    # The bot scopes its install granted (comma-separated; empty for a seeded install).
    granted_scopes: str = ""
    # Files uploaded through files.getUploadURLExternal, by id; and where the emulator is
    # reached, for the upload URLs it hands out.
    files: dict[str, UploadedFile] = field(default_factory=dict)
    base_url: Callable[[], str] = lambda: ""
    file_counter: int = 0

    def __post_init__(self) -> None:
        self.teams[self.team.id] = self.team
        self.users[self.bot.user_id] = User(
            id=self.bot.user_id,
            team_id=self.team.id,
            name=self.bot.name,
            is_bot=True,
            bot_id=self.bot.bot_id,
        )

    def find_message(self, channel: str, ts: str) -> Message | None:
        return self.messages.get(channel, {}).get(ts)

    def store(self, message: Message) -> None:
        self.messages.setdefault(message.channel, {})[message.ts] = message
        if message.parent_ts is not None:
            self.replies.setdefault((message.channel, message.parent_ts), {})[message.ts] = message
        # Reactions added while the emulator knew the message only by its ts.
        message.reactions.update(self.foreign_reactions.pop((message.channel, message.ts), {}))

    def remove(self, message: Message) -> None:
        del self.messages[message.channel][message.ts]
        if message.parent_ts is not None:
            key = (message.channel, message.parent_ts)
            del self.replies[key][message.ts]
            if not self.replies[key]:
                del self.replies[key]

    def channel_messages(self, channel: str) -> list[Message]:
        """Every message in ``channel``, replies included, oldest first."""
        return sorted(self.messages.get(channel, {}).values(), key=lambda m: ts_micros(m.ts))

    def replies_to(self, channel: str, thread_ts: str) -> list[Message]:
        """The replies in the thread of ``thread_ts``, oldest first (the parent excluded)."""
        replies = self.replies.get((channel, thread_ts), {}).values()
        return sorted(replies, key=lambda m: ts_micros(m.ts))

    def render(self, message: Message) -> dict[str, Any]:
        """Slack's JSON for ``message``, with its current thread state."""
        if message.parent_ts is not None:
            return message.to_api(parent=self.find_message(message.channel, message.parent_ts))
        return message.to_api(replies=self.replies_to(message.channel, message.ts))

    def check_channel(self, channel: str | None) -> str:
        if not channel:
            raise ApiError("channel_not_found")
        if self.strict_channels and self.channels and channel not in self.channels:
            raise ApiError("channel_not_found")
        return channel

    def reactions_on(self, channel: str, ts: str) -> dict[str, list[str]]:
        message = self.find_message(channel, ts)
        if message is not None:
            return message.reactions
        return self.foreign_reactions.setdefault((channel, ts), {})

    def new_file(self, name: str, length: int, alt_txt: str | None) -> UploadedFile:
        self.file_counter += 1
        file_id = f"FEMU{self.file_counter:07d}"
        upload = UploadedFile(
            id=file_id,
            name=name,
            length=length,
            alt_txt=alt_txt,
            upload_url=f"{self.base_url()}{UPLOAD_PATH}{file_id}",
        )
        self.files[file_id] = upload
        return upload

    def next_view_id(self) -> str:
        self.view_counter += 1
        return f"VEMU{self.view_counter:07d}"
