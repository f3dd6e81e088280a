"""Slack mrkdwn as a person reads it in a Slack client: for the demo's transcript and the dev
tools, which print what "Slack" would show."""

from __future__ import annotations

import re
from collections.abc import Mapping

from app.text_safety import unescape

_MENTION = re.compile(r"<([@#!])([^>|]+)(?:\|([^>]*))?>")
_LINK = re.compile(r"<([^>|@#!][^>|]*)(?:\|([^>]*))?>")
EMOJI_CODE = re.compile(r"(?<![\w:]):[a-z0-9_+\-]*[a-z][a-z0-9_+\-]*:(?![\w:])\s?")
_BOLD = re.compile(r"(?<!\w)\*([^*\n]+)\*(?!\w)")
_ITALIC = re.compile(r"(?<!\w)_([^_\n]+)_(?!\w)")


def as_read(text: str, *, users: Mapping[str, str] = {}, channels: Mapping[str, str] = {}) -> str:
    """Names for mentions (from `users` / `channels`, else the label or id), labels for links,
    dates as their fallback, no emoji codes, bold or italics, no entities."""

    def mention(match: re.Match[str]) -> str:
        sigil, target, label = match.groups()
        if sigil == "@":
            return "@" + users.get(target, label or target)
        if sigil == "#":
            return "#" + (channels.get(target) or label or target)
        return label or target.split("^", 1)[0]  # <!date^...|fallback>, <!here>

    text = _MENTION.sub(mention, text)
    text = _LINK.sub(lambda m: m.group(2) or m.group(1), text)
    text = EMOJI_CODE.sub("", text)
    text = _BOLD.sub(r"\1", text)
    text = _ITALIC.sub(r"\1", text)
    return unescape(text)
