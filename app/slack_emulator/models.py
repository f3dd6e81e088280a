"""Workspace entities and their Slack Web API JSON shapes."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def domain_for(team_name: str) -> str:
    """A plausible workspace subdomain: the first word of the name ("Acme Support" -> "acme")."""
    words = re.findall(r"[a-z0-9]+", team_name.lower())
    return words[0] if words else "workspace"


def _avatar(seed: str, size: int) -> str:
    digest = hashlib.md5(seed.encode(), usedforsecurity=False).hexdigest()
    return f"https://secure.gravatar.com/avatar/{digest}.jpg?s={size}&d=identicon"


def _tz_label_and_offset(tz: str, at: float) -> tuple[str, int]:
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        return tz, 0
    now = datetime.fromtimestamp(at, zone)
    offset = now.utcoffset()
    return now.tzname() or tz, int(offset.total_seconds()) if offset else 0


@dataclass
class Team:
    id: str
    name: str
    domain: str

    def to_api(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "url": f"https://{self.domain}.slack.com/",
            "domain": self.domain,
            "email_domain": "",
            "icon": {
                "image_34": _avatar(self.id, 34),
                "image_44": _avatar(self.id, 44),
                "image_68": _avatar(self.id, 68),
                "image_88": _avatar(self.id, 88),
                "image_102": _avatar(self.id, 102),
                "image_132": _avatar(self.id, 132),
                "image_default": True,
            },
            "enterprise_id": None,
            "enterprise_name": None,
        }


@dataclass
class User:
    id: str
    team_id: str
    name: str
    is_bot: bool = False
    real_name: str | None = None
    email: str | None = None
    tz: str = "America/New_York"
    bot_id: str | None = None

    def to_api(self, *, now: float) -> dict[str, Any]:
        real_name = self.real_name or self.name
        tz_label, tz_offset = _tz_label_and_offset(self.tz, now)
        profile: dict[str, Any] = {
            "title": "",
            "phone": "",
            "real_name": real_name,
            "real_name_normalized": real_name,
            "display_name": self.name,
            "display_name_normalized": self.name,
            "status_text": "",
            "status_emoji": "",
            "avatar_hash": hashlib.md5(self.id.encode(), usedforsecurity=False).hexdigest()[:12],
            "team": self.team_id,
        }
        for size in (24, 32, 48, 72, 192, 512):
            profile[f"image_{size}"] = _avatar(self.id, size)
        # Real Slack never shows an email for bot users.
        if self.email and not self.is_bot:
            profile["email"] = self.email
        if self.bot_id:
            profile["bot_id"] = self.bot_id
        return {
            "id": self.id,
            "team_id": self.team_id,
            "name": self.name,
            "deleted": False,
            "color": "9f69e7",
            "real_name": real_name,
            "tz": self.tz,
            "tz_label": tz_label,
            "tz_offset": tz_offset,
            "profile": profile,
            "is_admin": False,
            "is_owner": False,
            "is_primary_owner": False,
            "is_restricted": False,
            "is_ultra_restricted": False,
            "is_bot": self.is_bot,
            "is_app_user": False,
            "updated": int(now),
        }


@dataclass
class Channel:
    id: str
    name: str
    team_id: str
    is_private: bool = False
    is_ext_shared: bool = False
    created: int = 0

    def to_api(self) -> dict[str, Any]:
        is_im = self.id.startswith("D")
        return {
            "id": self.id,
            "name": self.name,
            "name_normalized": self.name,
            "is_channel": not is_im,
            "is_group": False,
            "is_im": is_im,
            "is_mpim": False,
            "is_private": self.is_private or is_im,
            "created": self.created,
            "creator": "",
            "is_archived": False,
            "is_general": False,
            "unlinked": 0,
            "is_shared": self.is_ext_shared,
            "is_org_shared": False,
            "is_ext_shared": self.is_ext_shared,
            "is_pending_ext_shared": False,
            "pending_shared": [],
            "context_team_id": self.team_id,
            "shared_team_ids": [self.team_id],
            "is_member": True,
            "topic": {"value": "", "creator": "", "last_set": 0},
            "purpose": {"value": "", "creator": "", "last_set": 0},
            "previous_names": [],
        }


@dataclass
class Message:
    """A message in a channel: posted by the bot (``chat.*``) or seeded by the test.

    Thread state is not stored on the parent: ``reply_count`` and friends are derived from
    the replies present when the message is rendered, so deletes and late seeds stay exact.
    """

    channel: str
    ts: str
    text: str
    user: str
    team: str
    bot_id: str | None = None
    app_id: str | None = None
    client_msg_id: str | None = None
    blocks: list[dict[str, Any]] | None = None
    attachments: list[dict[str, Any]] | None = None
    metadata: dict[str, Any] | None = None
    thread_ts: str | None = None
    edited: dict[str, str] | None = None
    reactions: dict[str, list[str]] = field(default_factory=dict)
    files: list[str] | None = None  # ids of the files it shares

    @property
    def parent_ts(self) -> str | None:
        """The thread's ts when this is a reply; None for top-level messages (parents too)."""
        return self.thread_ts if self.thread_ts != self.ts else None

    def to_api(
        self, *, replies: Sequence[Message] = (), parent: Message | None = None
    ) -> dict[str, Any]:
        """Slack's message object; ``replies`` (oldest first) when this is a thread parent,
        ``parent`` when this is a reply whose parent is known."""
        message: dict[str, Any] = {
            "type": "message",
            "user": self.user,
            "bot_id": self.bot_id,
            "app_id": self.app_id,
            "client_msg_id": self.client_msg_id,
            "team": self.team,
            "text": self.text,
            "ts": self.ts,
        }
        optional = {
            "blocks": self.blocks,
            "attachments": self.attachments,
            "metadata": self.metadata,
            "thread_ts": self.thread_ts,
            "parent_user_id": parent.user if parent is not None and self.parent_ts else None,
            "edited": self.edited,
            "files": [{"id": file_id} for file_id in self.files] if self.files else None,
        }
        message.update(optional)
        if replies and self.parent_ts is None:
            reply_users = list(dict.fromkeys(reply.user for reply in replies))
            message.update(
                {
                    "thread_ts": self.ts,
                    "reply_count": len(replies),
                    "reply_users_count": len(reply_users),
                    "latest_reply": replies[-1].ts,
                    "reply_users": reply_users,
                    "is_locked": False,
                    "subscribed": False,
                }
            )
        message = {k: v for k, v in message.items() if v is not None}
        if self.reactions:
            message["reactions"] = [
                {"name": name, "users": list(users), "count": len(users)}
                for name, users in self.reactions.items()
            ]
        return message


@dataclass
class View:
    id: str
    team_id: str
    app_id: str
    bot_id: str
    definition: dict[str, Any]
    hash: str
    external_id: str = ""
    root_view_id: str | None = None
    previous_view_id: str | None = None

    def to_api(self) -> dict[str, Any]:
        d = self.definition
        return {
            "id": self.id,
            "team_id": self.team_id,
            "type": d.get("type", "modal"),
            "blocks": d.get("blocks", []),
            "private_metadata": d.get("private_metadata", ""),
            "callback_id": d.get("callback_id", ""),
            "state": {"values": {}},
            "hash": self.hash,
            "title": d.get("title"),
            "close": d.get("close"),
            "submit": d.get("submit"),
            "clear_on_close": bool(d.get("clear_on_close", False)),
            "notify_on_close": bool(d.get("notify_on_close", False)),
            "previous_view_id": self.previous_view_id,
            "root_view_id": self.root_view_id or self.id,
            "app_id": self.app_id,
            "external_id": self.external_id or d.get("external_id", ""),
            "app_installed_team_id": self.team_id,
            "bot_id": self.bot_id,
        }
