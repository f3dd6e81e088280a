"""Pure rules for incoming messages: is it a request, what is its subject. No I/O."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from app.text_safety import readable

SUBJECT_MAX_LENGTH = 120

_EMOJI_CODE = re.compile(r":[a-z0-9_+\-']+:")
_PUNCTUATION = re.compile(r"[^\w\s]", re.UNICODE)
_WHITESPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class IncomingMessage:
    """A Slack message as the ticket rules see it (the Slack adapter builds these).

    `text` is Slack text: escaped by Slack, with its mentions and links.
    """

    channel_id: str
    ts: str
    user_id: str | None
    text: str
    thread_ts: str | None = None
    # The writer's own workspace and Enterprise Grid org (another organisation's in Slack Connect).
    user_team_id: str | None = None
    user_enterprise_id: str | None = None
    is_bot: bool = False
    # The channel's workspace, when the payload says (an org-wide Grid install: which of the
    # org's workspaces; see Ticket.channel_team_id).
    channel_team_id: str | None = None

    @property
    def is_thread_reply(self) -> bool:
        return self.thread_ts is not None and self.thread_ts != self.ts


# Message subtypes that are somebody saying something; the rest (joins, topic changes, ...)
# open and join nothing.
SPOKEN_SUBTYPES = frozenset({None, "thread_broadcast", "file_share", "me_message"})


def is_spoken(message: Mapping[str, Any]) -> bool:
    """A message somebody wrote (not a join, a topic change, an edit or a deletion)."""
    return message.get("subtype") in SPOKEN_SUBTYPES and bool(message.get("ts"))


def incoming_message(
    message: Mapping[str, Any],
    *,
    channel_id: str,
    bot_user_id: str | None,
    user_team_id: str | None,
    user_enterprise_id: str | None,
    channel_team_id: str | None = None,
) -> IncomingMessage:
    """A Slack message object as the ticket rules see it: the `event` of a `message` event, or
    a message that conversations.history or conversations.replies lists. `text` stays Slack
    text (escaped). The writer's own workspace and org are the caller's reading of the payload
    around the message (an event's envelope, or the channel it was listed from)."""
    user = message.get("user")
    return IncomingMessage(
        channel_id=channel_id,
        ts=message["ts"],
        user_id=user,
        text=message.get("text") or "",
        thread_ts=message.get("thread_ts"),
        user_team_id=user_team_id,
        user_enterprise_id=user_enterprise_id,
        channel_team_id=channel_team_id,
        is_bot=bool(message.get("bot_id"))
        or message.get("subtype") == "bot_message"
        or (bot_user_id is not None and user == bot_user_id),
    )


def is_request(text: str, not_a_request_phrases: Iterable[str]) -> bool:
    """False for what only acknowledges ("thanks!", "ok"), emoji-only and empty messages.

    Deliberately simple and predictable: a support lead can read the rule in the settings
    (NOT_A_REQUEST_PHRASES) and know what happens.
    """
    without_emoji = _EMOJI_CODE.sub(" ", text)
    words = _PUNCTUATION.sub(" ", without_emoji)
    normalised = _WHITESPACE.sub(" ", words).strip().lower()
    if not normalised or not any(character.isalnum() for character in normalised):
        return False
    return normalised not in {phrase.strip().lower() for phrase in not_a_request_phrases}


def subject_from(slack_text: str) -> str:
    """The first non-empty line of a message as people read it (plain text: names for
    mentions, labels for links, no escaping), cut to a sensible length."""
    for line in slack_text.splitlines():
        shown = readable(line).strip()
        if shown:
            if len(shown) > SUBJECT_MAX_LENGTH:
                return shown[: SUBJECT_MAX_LENGTH - 1].rstrip() + "…"
            return shown
    return "(no text)"


def permalink(domain: str | None, channel_id: str, ts: str, thread_ts: str | None = None) -> str:
    """Slack's message permalink, built without a Web API call (same shape as chat.getPermalink)."""
    host = f"https://{domain}.slack.com" if domain else "https://slack.com"
    link = f"{host}/archives/{channel_id}/p{ts.replace('.', '')}"
    if thread_ts and thread_ts != ts:
        link += f"?thread_ts={thread_ts}&cid={channel_id}"
    return link
