"""Slack's rate-limit tiers, on the emulator's clock."""

from __future__ import annotations

from typing import Any

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from app.slack_emulator import SlackEmulator
from app.slack_emulator.methods import METHODS
from app.slack_emulator.rate_limits import METHOD_LIMITS, RateLimiter


class Clock:
    """A settable clock for the emulator."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def _error_of(call: Any) -> SlackApiError:
    with pytest.raises(SlackApiError) as info:
        await call
    return info.value


def test_every_implemented_method_has_a_tier() -> None:
    assert set(METHOD_LIMITS) == set(METHODS)
    assert METHOD_LIMITS["usergroups.users.list"].per_minute == 20  # Tier 2
    assert METHOD_LIMITS["conversations.history"].per_minute == 50  # Tier 3
    assert METHOD_LIMITS["users.info"].per_minute == 100  # Tier 4


async def test_exceeding_a_tier_answers_429_until_the_minute_has_passed() -> None:
    clock = Clock()
    async with SlackEmulator(clock=clock) as emu:
        client = AsyncWebClient(token=emu.bot_token, base_url=emu.api_url, retry_handlers=[])
        emu.add_usergroup("S1", ["U1"])
        for second in range(20):  # Tier 2: 20 a minute, one call a second
            clock.now = 1_700_000_000.0 + second
            await client.usergroups_users_list(usergroup="S1")

        error = await _error_of(client.usergroups_users_list(usergroup="S1"))
        assert error.response.status_code == 429
        assert error.response["error"] == "ratelimited"
        # The first call (at +0) leaves the window at +60; it is now +19.
        assert error.response.headers["Retry-After"] == "41"

        clock.now += 40
        assert (await _error_of(client.usergroups_users_list(usergroup="S1"))).response.headers[
            "Retry-After"
        ] == "1"
        clock.now += 1
        assert (await client.usergroups_users_list(usergroup="S1"))["ok"]
        # Other methods have their own count.
        assert (await client.team_info())["ok"]
        statuses = [c.status for c in emu.calls("usergroups.users.list")]
        assert statuses == [200] * 20 + [429, 429, 200]


async def test_a_rate_limited_call_is_recorded_and_not_applied() -> None:
    clock = Clock()
    async with SlackEmulator(clock=clock) as emu:
        client = AsyncWebClient(token=emu.bot_token, base_url=emu.api_url, retry_handlers=[])
        posted = await client.chat_postMessage(channel="C1", text="v0")
        for n in range(50):  # Tier 3: 50 a minute
            await client.chat_update(channel="C1", ts=posted["ts"], text=f"v{n + 1}")
        error = await _error_of(client.chat_update(channel="C1", ts=posted["ts"], text="late"))
        assert (error.response.status_code, error.response.headers["Retry-After"]) == (429, "60")
        assert emu.messages("C1")[0]["text"] == "v50"
        [refused] = [c for c in emu.calls("chat.update") if c.status == 429]
        assert refused.args["text"] == "late"
        assert refused.response == {"ok": False, "error": "ratelimited"}
        clock.now += 60
        assert (await client.chat_update(channel="C1", ts=posted["ts"], text="late"))["ok"]


async def test_post_message_allows_a_burst_then_one_a_second_per_channel() -> None:
    clock = Clock()
    async with SlackEmulator(clock=clock) as emu:
        client = AsyncWebClient(token=emu.bot_token, base_url=emu.api_url, retry_handlers=[])
        for n in range(30):
            await client.chat_postMessage(channel="C1", text=str(n))
        error = await _error_of(client.chat_postMessage(channel="C1", text="31st"))
        assert (error.response.status_code, error.response.headers["Retry-After"]) == (429, "1")
        assert (await client.chat_postMessage(channel="C2", text="another channel"))["ok"]
        clock.now += 1
        assert (await client.chat_postMessage(channel="C1", text="31st"))["ok"]
        await _error_of(client.chat_postMessage(channel="C1", text="32nd"))
        clock.now += 5
        for n in range(5):
            await client.chat_postMessage(channel="C1", text=f"refilled {n}")
        assert len(emu.messages("C1")) == 36


def test_post_message_has_a_workspace_wide_limit_too() -> None:
    clock = Clock()
    limiter = RateLimiter(clock)
    for n in range(300):
        clock.now += 0.1
        assert limiter.admit("chat.postMessage", {"channel": f"C{n % 20}"}) is None
    assert limiter.admit("chat.postMessage", {"channel": "C-new"}) == 31  # first at +0.1
    limiter.reset()
    assert limiter.admit("chat.postMessage", {"channel": "C-new"}) is None
    assert limiter.admit("no.such.method", {}) is None


async def test_rate_limits_can_be_switched_off() -> None:
    async with SlackEmulator(clock=Clock(), rate_limits=False) as emu:
        client = AsyncWebClient(token=emu.bot_token, base_url=emu.api_url, retry_handlers=[])
        emu.add_usergroup("S1", ["U1"])
        for _ in range(25):
            await client.usergroups_users_list(usergroup="S1")
        assert {c.status for c in emu.calls()} == {200}


async def test_reset_rate_limits_forgets_the_count() -> None:
    async with SlackEmulator(clock=Clock()) as emu:
        client = AsyncWebClient(token=emu.bot_token, base_url=emu.api_url, retry_handlers=[])
        emu.add_usergroup("S1", ["U1"])
        for _ in range(20):
            await client.usergroups_users_list(usergroup="S1")
        await _error_of(client.usergroups_users_list(usergroup="S1"))
        emu.reset_rate_limits()
        assert (await client.usergroups_users_list(usergroup="S1"))["ok"]
