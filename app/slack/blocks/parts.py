"""The small Block Kit pieces every surface is built from.

`mrkdwn` pieces take Slack text (escape plain text with `app.text_safety.escape` first);
`plain` pieces take plain text, which Slack shows as it is.
"""

from __future__ import annotations

from typing import Any


def plain(text: str, *, emoji: bool | None = None) -> dict[str, Any]:
    """A `plain_text` object (not parsed by Slack: never escape what goes in)."""
    obj: dict[str, Any] = {"type": "plain_text", "text": text}
    if emoji is not None:
        obj["emoji"] = emoji
    return obj


def section(text: str, accessory: dict[str, Any] | None = None) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "section", "text": {"type": "mrkdwn", "text": text}}
    if accessory is not None:
        block["accessory"] = accessory
    return block


def context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def field(label: str, value: str) -> dict[str, str]:
    """A labelled `mrkdwn` field of a section (`label` is ours and needs no escaping)."""
    return {"type": "mrkdwn", "text": f"*{label}*\n{value}"}


def header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": plain(text)}


def button(action_id: str, text: str, value: str, *, style: str | None = None) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "button",
        "action_id": action_id,
        "text": plain(text),
        "value": value,
    }
    if style:
        element["style"] = style
    return element
