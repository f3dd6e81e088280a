"""What the emulator's checks find wrong with a request, and the error each one answers."""

from __future__ import annotations

from dataclasses import dataclass

# Slack's own error names, each from the method's documented errors:
# https://docs.slack.dev/reference/methods/chat.postMessage#errors ("invalid_blocks: Blocks
# submitted with this message are not valid", "invalid_blocks_format: The blocks is not a valid
# JSON object or doesn't match the Block Kit syntax", "no_text: No message text provided") and
# https://docs.slack.dev/reference/methods/views.open#errors ("invalid_arguments: The method was
# called with invalid arguments").
INVALID_BLOCKS = "invalid_blocks"
INVALID_BLOCKS_FORMAT = "invalid_blocks_format"
INVALID_ARGUMENTS = "invalid_arguments"
NO_TEXT = "no_text"

# The emulator's own errors, for what Slack renders without complaint but ticketbot must never
# send: names start with "emulator_" so no one mistakes them for Slack's.
BAD_ESCAPING = "emulator_bad_escaping"
BROADCAST_MENTION = "emulator_broadcast_mention"


@dataclass(frozen=True)
class Problem:
    """One thing wrong: the error to answer, where (``blocks[2].text``) and what."""

    error: str
    where: str
    what: str

    def __str__(self) -> str:
        return f"{self.where}: {self.what}" if self.where else self.what


def error_of(problems: list[Problem]) -> str:
    """The error a refusal answers: the first problem's (checks run from coarse to fine)."""
    return problems[0].error


def slack_messages(problems: list[Problem]) -> list[str]:
    """``response_metadata.messages`` as Slack writes them: ``[ERROR] ...``, one per problem."""
    return [f"[ERROR] {problem}" for problem in problems]
