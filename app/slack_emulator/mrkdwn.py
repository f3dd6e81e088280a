"""Slack's text rules: escaping, control sequences and broadcasts, checked and produced.

Slack uses ``&``, ``<`` and ``>`` as control characters in message ``text`` and ``mrkdwn``
text objects: they "must be converted to HTML entities if they're not going to be used for
their parsing purpose" (``&amp;``, ``&lt;``, ``&gt;``), and a ``<...>`` is a control sequence: a
user (``<@U123>``), a channel (``<#C123>``), a special command (``<!here>``,
``<!subteam^S123>``, ``<!date^...>``) or a link (``<https://...|label>``)
(https://api.slack.com/reference/surfaces/formatting#escaping and the sections after it).
``plain_text`` objects are not parsed, so an entity in them is shown as typed.

Slack renders whatever it gets; the checks here refuse instead, so a test fails where a user
would have seen ``&amp;`` or a broken mention. They are stricter than Slack on purpose:

* in ``text`` and ``mrkdwn``: ``&`` only as ``&amp;``, ``&lt;``, ``&gt;``; never a double escape
  (``&amp;amp;``); every ``<`` opens a well-formed control sequence; a raw ``>`` only closes
  one or starts a line as the block-quote marker (``>`` or ``>>>``);
* in ``plain_text`` (and a ``plain_text_input``'s ``initial_value``, and rich text): no entity;
* anywhere: no broadcast (``<!channel>``, ``<!here>``, ``<!everyone>``, ``<!group>``,
  ``<!subteam^...>``, with or without a label), which ticketbot never means to send.
"""

from __future__ import annotations

import re
from typing import Any

from app.slack_emulator.problems import BAD_ESCAPING, BROADCAST_MENTION, Problem

__all__ = [
    "broadcast_in",
    "mrkdwn_problems",
    "plain_text_problems",
    "rich_text_elements",
    "wire_text",
]

# A control sequence is `<`, anything but angle brackets, `>`.
_SEQUENCE = re.compile(r"<([^<>]*)>")
_LABEL = r"(?:\|[^|]*)?"
_USER = re.compile(r"@([UW][A-Z0-9]+)" + _LABEL)
_CHANNEL = re.compile(r"#([CG][A-Z0-9]+)" + _LABEL)
# `!here`, `!subteam^S123`, `!date^1392734382^{date_pretty} at {time}^https://x|fallback`.
_SPECIAL = re.compile(r"!([A-Za-z]+)(\^[^|]*)?" + _LABEL)
# A link: a URI scheme, then no whitespace up to the optional label.
_LINK = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*:[^\s|]+)" + _LABEL)
_ENTITY = re.compile(r"&(?:amp|lt|gt);")
_DOUBLE_ESCAPE = re.compile(r"&amp;(?:amp|lt|gt);")
# Special commands that notify a whole channel, the workspace or a user group
# (https://api.slack.com/reference/surfaces/formatting#special-mentions and
# #mentioning-groups): `group` is the legacy alias of `channel`.
_BROADCASTS = frozenset({"channel", "here", "everyone", "group"})
_SUBTEAM = "subteam"
# Report at most this many problems per text: the first ones say enough.
_MAX_PER_TEXT = 5


def _is_sequence(inner: str) -> bool:
    return any(p.fullmatch(inner) for p in (_USER, _CHANNEL, _SPECIAL, _LINK))


def _broadcast(inner: str) -> str | None:
    """The special command's name when ``<inner>`` notifies a channel or group, else None."""
    match = _SPECIAL.fullmatch(inner)
    if match is None:
        return None
    name = match.group(1).lower()
    if name in _BROADCASTS or name == _SUBTEAM:
        return name
    return None


def broadcast_in(text: str) -> str | None:
    """The first broadcast sequence in ``text`` (``<!here>``...), or None."""
    for match in _SEQUENCE.finditer(text):
        if _broadcast(match.group(1)) is not None:
            return match.group(0)
    return None


def _snippet(text: str, at: int) -> str:
    start, end = max(at - 12, 0), min(at + 13, len(text))
    return ("..." if start else "") + text[start:end] + ("..." if end < len(text) else "")


def mrkdwn_problems(
    text: str, where: str, *, escaping: bool = True, allow_broadcasts: bool = False
) -> list[Problem]:
    """What is wrong with Slack text (a message's ``text`` or a ``mrkdwn`` object's)."""
    problems: list[Problem] = []

    def bad(at: int, what: str, error: str = BAD_ESCAPING) -> None:
        problems.append(Problem(error, where, f"{what} at character {at}: {_snippet(text, at)!r}"))

    at, line_start = 0, True
    while at < len(text):
        char = text[at]
        if char == "<":
            match = _SEQUENCE.match(text, at)
            if match is None:
                if escaping:
                    bad(at, "raw '<' (write &lt;)")
                at += 1
            else:
                inner = match.group(1)
                if _broadcast(inner) is not None and not allow_broadcasts:
                    bad(at, f"broadcast mention {match.group(0)}", BROADCAST_MENTION)
                elif escaping and not _is_sequence(inner):
                    bad(at, f"{match.group(0)} is not a Slack control sequence (escape < and >)")
                at = match.end()
            line_start = False
            continue
        if char == ">" and escaping:
            if line_start:  # the block-quote marker: `>` or `>>>`
                at += 3 if text.startswith(">>>", at) else 1
                line_start = False
                continue
            bad(at, "raw '>' (write &gt;)")
        elif char == "&" and escaping:
            if _DOUBLE_ESCAPE.match(text, at):
                bad(at, "double escape (&amp; followed by an entity)")
            elif not _ENTITY.match(text, at):
                bad(at, "raw '&' (write &amp;)")
        line_start = char == "\n"
        at += 1
    return problems[:_MAX_PER_TEXT]


def plain_text_problems(
    text: str, where: str, *, escaping: bool = True, allow_broadcasts: bool = False
) -> list[Problem]:
    """What is wrong with text Slack shows as it is (``plain_text``, ``initial_value``)."""
    problems: list[Problem] = []
    if escaping:
        for match in _ENTITY.finditer(text):
            problems.append(
                Problem(
                    BAD_ESCAPING,
                    where,
                    f"{match.group(0)} at character {match.start()} is shown literally: "
                    "plain text takes the character itself, unescaped",
                )
            )
    if not allow_broadcasts:
        broadcast = broadcast_in(text)
        if broadcast is not None:
            problems.append(Problem(BROADCAST_MENTION, where, f"broadcast mention {broadcast}"))
    return problems[:_MAX_PER_TEXT]


# -- what Slack makes of what a person types ----------------------------------------------------


def _escape(typed: str) -> str:
    return typed.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def wire_text(typed: str) -> str:
    """The ``text`` Slack delivers for what a person typed.

    ``&``, ``<`` and ``>`` become ``&amp;``, ``&lt;``, ``&gt;``; well-formed control sequences
    (what the client's autocomplete inserts: ``<@U123>``, ``<#C123|general>``, ``<!here>``,
    ``<https://example.com|label>``) stay, with any ``&`` in them escaped.
    """
    out: list[str] = []
    position = 0
    for match in _SEQUENCE.finditer(typed):
        if not _is_sequence(match.group(1)):
            continue
        out.append(_escape(typed[position : match.start()]))
        out.append("<" + match.group(1).replace("&", "&amp;") + ">")
        position = match.end()
    out.append(_escape(typed[position:]))
    return "".join(out)


def _sequence_element(inner: str) -> dict[str, Any] | None:
    """The rich text element a client writes for a control sequence, if it has one.

    Element names from slack_sdk's models (python-slack-sdk,
    slack_sdk/models/blocks/block_elements.py, RichTextElementParts); a mention is a ``user``
    element as in bolt-python's tests/scenario_tests/test_shortcut.py (message_shortcut_body).
    """
    if match := _USER.fullmatch(inner):
        return {"type": "user", "user_id": match.group(1)}
    if match := _CHANNEL.fullmatch(inner):
        return {"type": "channel", "channel_id": match.group(1)}
    if match := _SPECIAL.fullmatch(inner):
        name = match.group(1).lower()
        if name in _BROADCASTS:
            return {"type": "broadcast", "range": name}
        if name == _SUBTEAM and match.group(2):
            return {"type": "usergroup", "usergroup_id": match.group(2)[1:]}
        return None
    if _LINK.fullmatch(inner):
        url, bar, label = inner.partition("|")
        return {"type": "link", "url": url, **({"text": label} if bar else {})}
    return None


def rich_text_elements(typed: str) -> list[dict[str, Any]]:
    """The elements of the ``rich_text_section`` a client sends with what a person typed.

    Text stays as typed (rich text is not parsed: no entities); control sequences become
    their own elements.
    """
    elements: list[dict[str, Any]] = []
    position = 0

    def add_text(chunk: str) -> None:
        if chunk:
            elements.append({"type": "text", "text": chunk})

    for match in _SEQUENCE.finditer(typed):
        element = _sequence_element(match.group(1))
        if element is None:
            continue
        add_text(typed[position : match.start()])
        elements.append(element)
        position = match.end()
    add_text(typed[position:])
    if not elements:
        elements.append({"type": "text", "text": typed})
    return elements
