"""The `/ticket` command grammar: text in, a command or a usage error out. No I/O.

Slack sends the text with escaping on, so mentions arrive as `<@U123|name>` and channels as
`<#C123|name>`; the helpers below read those forms.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

USAGE = "\n".join(
    [
        "*Usage:* `/ticket <subcommand>`",
        "• `/ticket help`: show this message",
    ]
)

_USER_MENTION = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$")
_CHANNEL_MENTION = re.compile(r"^<#([CG][A-Z0-9]+)(?:\|[^>]*)?>$")


@dataclass(frozen=True)
class Help:
    pass


Command = Help


@dataclass(frozen=True)
class UsageError:
    """What was wrong with the text, followed by the usage."""

    problem: str

    @property
    def message(self) -> str:
        return f"{self.problem}\n{USAGE}"


def parse(text: str) -> Command | UsageError:
    words = text.split()
    if not words or words[0].lower() == "help":
        return Help()
    return UsageError(f"Unknown subcommand `{words[0][:40]}`.")


def parse_user_mention(token: str) -> str | None:
    """`<@U123|ann>` -> `U123`; anything else -> None."""
    match = _USER_MENTION.match(token)
    return match.group(1) if match else None


def parse_channel_mention(token: str) -> str | None:
    """`<#C123|support>` -> `C123`; anything else -> None."""
    match = _CHANNEL_MENTION.match(token)
    return match.group(1) if match else None
