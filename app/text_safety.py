"""Text that leaves for Slack: escaped exactly once, and never a broadcast someone else wrote.

Slack treats `&`, `<` and `>` as control characters in `text` and `mrkdwn`: it delivers
message text with them escaped (`&amp;`, `&lt;`, `&gt;`) and expects what we send to be
escaped the same way; `<...>` sequences are mentions, channel links, special commands
(`<!here>`, `<!subteam^S1>`, `<!date^...>`) and links. `plain_text` objects and a form's
`initial_value` are not parsed at all: they take text as people should read it.
(https://api.slack.com/reference/surfaces/formatting#escaping, #mentioning-groups.)

Three kinds of text meet ticketbot, and each has one function here:

* **Plain text** (what we write, form fields, REST API and inbound-webhook input, a CSAT
  comment): `escape()` it once on its way into `text` or `mrkdwn`.
* **Slack text** (a message a person wrote, as Slack delivered it): already escaped, and it may
  carry mentions and links. `defuse()` it before re-posting it: it stays Slack text, but a
  broadcast (`<!channel>`, `<!here>`, `<!everyone>`, `<!group>`, a user group) becomes words
  that notify nobody, a link whose label names another address shows its real address, and
  anything malformed is escaped. Idempotent, so defusing twice never doubles an escape.
* **Readable text** for `plain_text`, a form's `initial_value` or a ticket subject:
  `readable()` turns Slack text into what a person sees (names for mentions, labels for
  links, no entities).

ticketbot never notifies a whole channel or group: the original message already notified
whoever its author meant to, and a copy in the team's triage channel must not ping the team
again. People mentions (`<@U123>`) and channel links stay live.
"""

from __future__ import annotations

import re
from datetime import datetime
from urllib.parse import urlsplit

# Slack's three entities; nothing else is an entity in Slack text.
_ENTITIES = {"&amp;": "&", "&lt;": "<", "&gt;": ">"}
_ENTITY = re.compile(r"&(?:amp|lt|gt);")
# A control sequence: `<` ... `>` with no angle bracket inside (Slack's own rule for them).
_SEQUENCE = re.compile(r"<([^<>]*)>")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
_DOMAIN_LIKE = re.compile(
    r"^(?:[A-Za-z][A-Za-z0-9+.\-]*://)?(?:[\w\-]+\.)+[A-Za-z]{2,}(?:[/:?#].*)?$"
)
# Special commands that notify people: everyone in a channel, the active ones, the whole
# workspace, the legacy alias of channel, and a user group.
_BROADCASTS = ("channel", "here", "everyone", "group")
_SUBTEAM = "subteam^"
# Between the `@` and the name, so the words can never be turned back into a mention.
WORD_JOINER = "\u2060"


def escape(plain: str) -> str:
    """Plain text -> Slack text: `&`, `<` and `>` escaped, exactly once."""
    return plain.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def unescape(slack_text: str) -> str:
    """Slack's three entities back to characters (and nothing else: `&quot;` stays)."""
    return _ENTITY.sub(lambda match: _ENTITIES[match.group(0)], slack_text)


def defuse(slack_text: str) -> str:
    """Slack text that is safe to re-post in the team's channels.

    Mentions of people and channels, dates and honest links stay as they are; broadcasts and
    user groups become `@name` words that notify nobody; a link whose label looks like another
    address is shown as its real address; a stray `<`, `>` or `&` is escaped.
    """
    out: list[str] = []
    position = 0
    for match in _SEQUENCE.finditer(slack_text):
        out.append(_escape_loose(slack_text[position : match.start()]))
        out.append(_defuse_sequence(match.group(1)))
        position = match.end()
    out.append(_escape_loose(slack_text[position:]))
    return "".join(out)


def readable(slack_text: str) -> str:
    """Slack text -> what a reader sees: `@name`, `#channel`, link labels, no entities.

    For `plain_text` fields, form `initial_value`s and subjects, which Slack shows verbatim.
    """

    def replace(match: re.Match[str]) -> str:
        return _readable_sequence(match.group(1))

    return unescape(_SEQUENCE.sub(replace, slack_text))


def has_broadcast(slack_text: str) -> bool:
    """Does this Slack text hold a mention that notifies a channel, the workspace or a group?"""
    return any(
        _broadcast_name(match.group(1)) is not None for match in _SEQUENCE.finditer(slack_text)
    )


def link(url: str, label: str | None = None) -> str:
    """A link to `url` shown as the plain-text `label`; both escaped (a permalink's `&cid=`
    too, which Slack un-escapes when it opens the link)."""
    return f"<{escape(url)}|{escape(label)}>" if label else f"<{escape(url)}>"


def date(moment: datetime, token: str, fallback: str = "%Y-%m-%d %H:%M UTC") -> str:
    """`moment` shown in each reader's own zone (`token` such as `{date_short_pretty} {time}`),
    with a UTC fallback for clients that cannot (https://api.slack.com/reference/surfaces/
    formatting#date-formatting)."""
    return f"<!date^{int(moment.timestamp())}^{token}|{escape(moment.strftime(fallback))}>"


def quote(slack_text: str) -> str:
    """Defused Slack text as a block quote (every line, empty ones included)."""
    return "\n".join(f"> {line}" for line in defuse(slack_text).split("\n"))


# -- internals -------------------------------------------------------------------------------


def _escape_loose(text: str) -> str:
    """Text between control sequences: its entities kept, any other `&`, `<`, `>` escaped."""
    out: list[str] = []
    position = 0
    for match in _ENTITY.finditer(text):
        out.append(escape(text[position : match.start()]))
        out.append(match.group(0))
        position = match.end()
    out.append(escape(text[position:]))
    return "".join(out)


def _split_label(inner: str) -> tuple[str, str | None]:
    target, bar, label = inner.partition("|")
    return target, (label if bar else None)


def _broadcast_name(inner: str) -> str | None:
    """The name a broadcast sequence shows (`here`, `support-team`), or None if it is not one."""
    if not inner.startswith("!"):
        return None
    target, label = _split_label(inner[1:])
    lowered = target.lower()
    if lowered in _BROADCASTS:
        return (label or target).lstrip("@") or target
    if lowered.startswith(_SUBTEAM):
        return (label or target[len(_SUBTEAM) :]).lstrip("@") or "group"
    return None


def _defuse_sequence(inner: str) -> str:
    broadcast = _broadcast_name(inner)
    if broadcast is not None:
        return _escape_loose(f"@{WORD_JOINER}{broadcast}")
    target, label = _split_label(inner)
    labelled = "" if label is None else "|" + _escape_loose(label)
    if target.startswith(("@U", "@W", "#C", "#G")) and _is_token(target[1:]):
        return f"<{target}{labelled}>"
    if target.startswith("!date^"):  # shows a date in the reader's zone; notifies nobody
        return f"<{_escape_loose(target)}{labelled}>"
    if _SCHEME.match(target) and _is_token(target):
        if label is not None and _deceptive(target, unescape(label)):
            return f"<{_escape_loose(target)}>"
        return f"<{_escape_loose(target)}{labelled}>"
    # Not a sequence Slack would have produced (or another special command): show it as text.
    return escape(f"<{unescape(inner)}>")


def _is_token(rest: str) -> bool:
    return bool(rest) and not any(c.isspace() for c in rest)


def _deceptive(url: str, label: str) -> bool:
    """A label that reads like an address other than the link's own."""
    shown = label.strip()
    if not _DOMAIN_LIKE.match(shown):
        return False
    shown_host = _host(shown if "://" in shown else f"https://{shown}")
    real_host = _host(url)
    return shown_host != real_host


def _host(url: str) -> str:
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return ""
    return host.lower().removeprefix("www.")


def _readable_sequence(inner: str) -> str:
    target, label = _split_label(inner)
    if target.startswith("@"):
        return "@" + (label.lstrip("@") if label else target[1:])
    if target.startswith("#"):
        return "#" + (label or target[1:])
    if target.startswith("!"):
        broadcast = _broadcast_name(inner)
        if broadcast is not None:
            return f"@{broadcast}"
        return label or target[1:]
    return label or target
