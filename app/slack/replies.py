"""Answering slash commands, and the one place where domain errors become words for the user."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt.async_app import AsyncAck

from app.errors import DomainError
from app.text_safety import escape

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Reply:
    """A command's answer with Block Kit; `text` is the notification and fallback."""

    text: str
    blocks: list[dict[str, Any]]


async def ack_ephemeral(ack: AsyncAck, text: str | Reply) -> None:
    """Acknowledge with a reply only the person who ran the command sees."""
    if isinstance(text, Reply):
        await ack(response_type="ephemeral", text=text.text, blocks=text.blocks)
    else:
        await ack(response_type="ephemeral", text=text)


async def answer_command(ack: AsyncAck, work: Callable[[], Awaitable[str | Reply]]) -> None:
    """Run a command's work (its own transaction) and acknowledge with the reply it returns.

    A domain error means the work's transaction rolled back and nothing changed: the user is
    told why. Any other error propagates, and Bolt answers Slack with an error.
    """
    text: str | Reply
    try:
        text = await work()
    except DomainError as exc:
        logger.info("command refused: %s", type(exc).__name__)
        text = explain(exc)
    await ack_ephemeral(ack, text)


def explain(error: DomainError) -> str:
    """A refusal in Slack's words: its plain text escaped once, the people it names as
    mentions."""
    return error.render(lambda user_id: f"<@{user_id}>", escape) or "Sorry, that can't be done."
