"""Pure rules for incoming messages: is it a request, what is its subject. No I/O."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

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

    @property
    def is_thread_reply(self) -> bool:
        return self.thread_ts is not None and self.thread_ts != self.ts


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
