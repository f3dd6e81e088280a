"""In-memory state of the emulated workspace, shared by the Web API handlers and the test."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from app.slack_emulator.models import Channel, Message, Team, User, View
from app.slack_emulator.ts import TsGenerator

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
    lock: threading.RLock = field(default_factory=threading.RLock)
    teams: dict[str, Team] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)
    channels: dict[str, Channel] = field(default_factory=dict)
    usergroups: dict[str, list[str]] = field(default_factory=dict)
    messages: dict[str, dict[str, Message]] = field(default_factory=dict)
    # Reactions on messages the emulator did not post (e.g. users' messages sent as events).
    foreign_reactions: dict[tuple[str, str], dict[str, list[str]]] = field(default_factory=dict)
    views: dict[str, View] = field(default_factory=dict)
    home_views: dict[str, str] = field(default_factory=dict)  # user id -> view id
    view_counter: int = 0

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

    def next_view_id(self) -> str:
        self.view_counter += 1
        return f"VEMU{self.view_counter:07d}"
