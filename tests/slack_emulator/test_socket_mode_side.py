"""The emulator's Socket Mode side, as Slack documents it and slack_sdk speaks it."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import httpx
import pytest
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient

from app.slack_emulator import SlackEmulator


async def open_link(emulator: SlackEmulator, **request: object) -> dict:
    async with httpx.AsyncClient() as client:
        answer = await client.post(f"{emulator.api_url}apps.connections.open", **request)  # type: ignore[arg-type]
    return answer.json()


async def test_a_link_needs_the_app_level_token_in_the_header(emulator: SlackEmulator) -> None:
    """https://docs.slack.dev/reference/methods/apps.connections.open: an app-level token, in
    the Authorization header; "passing it as a POST parameter will result in an error"."""
    token = emulator.socket_mode.app_token
    good = await open_link(emulator, headers={"Authorization": f"Bearer {token}"})
    as_a_parameter = await open_link(emulator, data={"token": token})
    bot_token = await open_link(emulator, headers={"Authorization": f"Bearer {emulator.bot_token}"})
    nothing = await open_link(emulator)

    assert good["ok"] is True and good["url"].startswith("ws://")
    assert as_a_parameter == {"ok": False, "error": "invalid_auth"}
    assert bot_token == {"ok": False, "error": "not_allowed_token_type"}
    assert nothing == {"ok": False, "error": "not_authed"}


async def test_a_link_works_once_and_says_hello(emulator: SlackEmulator) -> None:
    token = emulator.socket_mode.app_token
    url = (await open_link(emulator, headers={"Authorization": f"Bearer {token}"}))["url"]
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(url) as socket:
            hello = json.loads((await socket.receive()).data)
        with pytest.raises(aiohttp.WSServerHandshakeError):
            async with session.ws_connect(url):
                pass

    assert hello["type"] == "hello" and hello["num_connections"] == 1
    assert hello["connection_info"] == {"app_id": emulator.socket_mode.app_id}
    assert emulator.socket_mode.problems  # the second use is recorded


async def test_slack_sdk_receives_an_envelope_and_its_ack_is_read_back(
    emulator: SlackEmulator,
) -> None:
    """slack_sdk's own client, end to end: an envelope in, an acknowledgement with a payload out;
    an envelope nobody acknowledges is an event sent again, retry_attempt one higher."""
    received: list[SocketModeRequest] = []

    async def listener(client: SocketModeClient, request: SocketModeRequest) -> None:
        received.append(request)
        if request.type == "slash_commands":
            await client.send_socket_mode_response(
                SocketModeResponse(envelope_id=request.envelope_id, payload={"text": "hi"})
            )
        elif request.retry_attempt:  # acknowledge an event only the second time
            await client.send_socket_mode_response(
                SocketModeResponse(envelope_id=request.envelope_id)
            )

    web = AsyncWebClient(base_url=emulator.api_url)
    client = SocketModeClient(app_token=emulator.socket_mode.app_token, web_client=web)
    client.socket_mode_request_listeners.append(listener)  # type: ignore[arg-type]
    await client.connect()
    try:
        hub = emulator.socket_mode
        await hub.wait_for_connections(1)
        command = await hub.deliver("slash_commands", {"command": "/ticket", "text": "help"})
        event = await hub.deliver(
            "events_api", {"type": "event_callback"}, ack_within=0.5, redeliver=True
        )
    finally:
        await client.close()
        await asyncio.sleep(0)

    assert command is not None and command.payload == {"text": "hi"}
    assert event is not None and event.attempts == 2
    assert [(r.type, r.retry_attempt) for r in received] == [
        ("slash_commands", None),
        ("events_api", 0),
        ("events_api", 1),
    ]
    assert emulator.socket_mode.problems == []
