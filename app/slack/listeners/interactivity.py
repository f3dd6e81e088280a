"""Buttons, selects and modals. Every interaction is acknowledged so Slack shows no error."""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from app.slack.values import first_action

logger = logging.getLogger(__name__)

_ANY = re.compile(".*")


async def unknown_action(ack: AsyncAck, body: dict[str, Any]) -> None:
    await ack()
    logger.info("no handler for action %s", first_action(body).get("action_id"))


async def unknown_view(ack: AsyncAck) -> None:
    await ack()


def register(app: AsyncApp) -> None:
    app.action(_ANY)(unknown_action)
    app.view(_ANY)(unknown_view)
