"""Buttons, selects and modals. Every interaction is acknowledged so Slack shows no error."""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from app.slack.context import SlackContext

logger = logging.getLogger(__name__)

_ANY = re.compile(".*")


def register(app: AsyncApp, ctx: SlackContext) -> None:
    @app.action(_ANY)
    async def on_unknown_action(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        actions = body.get("actions") or [{}]
        logger.info("no handler for action %s", actions[0].get("action_id"))

    @app.view(_ANY)
    async def on_unknown_view(ack: AsyncAck) -> None:
        await ack()
