"""The `/ticket` slash command."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from app.slack.commands import USAGE, Help, UsageError, parse
from app.slack.context import SlackContext


def register(app: AsyncApp, ctx: SlackContext) -> None:
    @app.command("/ticket")
    async def on_ticket_command(ack: AsyncAck, command: dict[str, Any]) -> None:
        parsed = parse(command.get("text") or "")
        if isinstance(parsed, UsageError):
            await ack(response_type="ephemeral", text=parsed.message)
        elif isinstance(parsed, Help):
            await ack(response_type="ephemeral", text=USAGE)
