"""Fixtures for the Slack emulator's own tests (no database needed)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from app.slack_emulator import SlackEmulator


@pytest.fixture
async def emulator() -> AsyncIterator[SlackEmulator]:
    emu = SlackEmulator()
    await emu.start()
    try:
        yield emu
    finally:
        await emu.stop()


@pytest.fixture
def slack_client(emulator: SlackEmulator) -> AsyncWebClient:
    """A client that surfaces every failure (no retries), as ticketbot's own code would see it."""
    return AsyncWebClient(token=emulator.bot_token, base_url=emulator.api_url, retry_handlers=[])
