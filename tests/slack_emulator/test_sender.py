"""SlackSender: requests must be signed and shaped exactly as Slack's."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from fastapi import FastAPI, Request, Response
from slack_bolt.adapter.fastapi.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from app.slack_emulator import (
    SlackEmulator,
    SlackSender,
    app_home_opened_event,
    message_changed_event,
    message_deleted_event,
    message_event,
    next_ts,
    reaction_added_event,
    slack_signature,
)
from app.slack_emulator.server import ServerRunner

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    signature_ok: bool

    def json(self) -> dict[str, Any]:
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode(), keep_blank_values=True).items()}

    def payload(self) -> dict[str, Any]:
        return json.loads(self.form()["payload"])


@pytest.fixture
def received() -> list[Received]:
    return []


@pytest.fixture
async def sender(received: list[Received]) -> AsyncIterator[SlackSender]:
    """A sender wired in-process (ASGI) to an app that verifies signatures with slack-sdk."""
    app = FastAPI()
    verifier = SignatureVerifier(SECRET)

    @app.post("/slack/events")
    async def events(request: Request) -> Response:
        body = await request.body()
        ok = verifier.is_valid_request(body, dict(request.headers))
        received.append(Received(dict(request.headers), body, ok))
        return Response(status_code=200 if ok else 401)

    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app))
    async with SlackSender("http://receiver", SECRET, client=client) as slack_sender:
        yield slack_sender
    await client.aclose()


def test_signature_is_slacks_v0_hmac() -> None:
    body = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&text="
    digest = hmac.new(SECRET.encode(), b"v0:1531420618:" + body, hashlib.sha256).hexdigest()
    assert slack_signature(SECRET, "1531420618", body) == f"v0={digest}"
    verifier = SignatureVerifier(SECRET)
    assert verifier.generate_signature(timestamp="1531420618", body=body) == f"v0={digest}"


async def test_event_envelope_is_signed(sender: SlackSender, received: list[Received]) -> None:
    event = message_event("C1", "U1", "printer on fire")
    response = await sender.send_event(event, event_id="Ev0001")

    assert response.status_code == 200
    [request] = received
    assert request.signature_ok
    assert request.headers["content-type"] == "application/json"
    assert "x-slack-retry-num" not in request.headers
    envelope = request.json()
    assert envelope["type"] == "event_callback"
    assert envelope["event"] == event
    assert envelope["event_id"] == "Ev0001"
    assert (envelope["team_id"], envelope["api_app_id"]) == ("T0001", "A0001")
    assert isinstance(envelope["token"], str)
    assert abs(envelope["event_time"] - time.time()) < 5
    assert envelope["authorizations"] == [
        {
            "enterprise_id": None,
            "team_id": "T0001",
            "user_id": "UBOT",
            "is_bot": True,
            "is_enterprise_install": False,
        }
    ]
    assert envelope["is_ext_shared_channel"] is False
    assert envelope["event_context"].startswith("4-")


async def test_event_ids_are_generated_and_overrides_apply(
    sender: SlackSender, received: list[Received]
) -> None:
    await sender.send_event(message_event("C1", "U1", "a"))
    await sender.send_event(
        message_event("C1", "U9", "b"), is_ext_shared_channel=True, team_id="T0002"
    )
    first, second = (r.json() for r in received)
    assert first["event_id"].startswith("Ev") and first["event_id"] != second["event_id"]
    assert second["is_ext_shared_channel"] is True
    # The event happened in T0002 (a Slack Connect partner); the installation stays T0001.
    assert second["team_id"] == "T0002"
    assert second["authorizations"][0]["team_id"] == second["context_team_id"] == "T0001"


async def test_retries_carry_slack_headers(sender: SlackSender, received: list[Received]) -> None:
    await sender.send_event(message_event("C1", "U1", "hi"), event_id="Ev1", retry_num=1)
    await sender.send_event(
        message_event("C1", "U1", "hi"), event_id="Ev1", retry_num=2, retry_reason="http_error"
    )
    first, second = received
    assert (first.headers["x-slack-retry-num"], first.headers["x-slack-retry-reason"]) == (
        "1",
        "http_timeout",
    )
    assert (second.headers["x-slack-retry-num"], second.headers["x-slack-retry-reason"]) == (
        "2",
        "http_error",
    )
    assert first.signature_ok and second.signature_ok


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"timestamp": int(time.time()) - 600}, id="stale"),
        pytest.param({"signature": "v0=" + "0" * 64}, id="forged"),
        pytest.param({"unsigned": True}, id="unsigned"),
    ],
)
async def test_bad_signatures_are_rejected(
    sender: SlackSender, received: list[Received], overrides: dict[str, Any]
) -> None:
    response = await sender.send_event(message_event("C1", "U1", "hi"), **overrides)
    assert response.status_code == 401
    [request] = received
    assert not request.signature_ok
    if overrides.get("unsigned"):
        assert "x-slack-signature" not in request.headers
        assert "x-slack-request-timestamp" not in request.headers


async def test_url_verification(sender: SlackSender, received: list[Received]) -> None:
    await sender.send_url_verification("chal-123")
    assert received[0].signature_ok
    assert received[0].json() == {
        "token": received[0].json()["token"],
        "challenge": "chal-123",
        "type": "url_verification",
    }


async def test_slash_command_is_form_encoded(sender: SlackSender, received: list[Received]) -> None:
    await sender.send_command(
        "new printer & fax broken", user_id="U1", channel_id="C1", response_url="http://r/1"
    )
    [request] = received
    assert request.signature_ok
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    form = request.form()
    assert form["command"] == "/ticket"
    assert form["text"] == "new printer & fax broken"
    assert (form["user_id"], form["channel_id"], form["team_id"]) == ("U1", "C1", "T0001")
    assert (form["user_name"], form["channel_name"]) == ("user", "support")
    assert form["response_url"] == "http://r/1"
    assert form["trigger_id"]
    assert form["api_app_id"] == "A0001"


async def test_block_actions_from_a_message(sender: SlackSender, received: list[Received]) -> None:
    message = {"type": "message", "ts": "1732512345.000100", "text": "Ticket #1"}
    await sender.send_block_actions(
        [{"action_id": "close_ticket", "value": "1"}],
        user_id="U1",
        channel_id="C1",
        message=message,
    )
    [request] = received
    assert request.signature_ok
    assert list(request.form()) == ["payload"]
    payload = request.payload()
    assert payload["type"] == "block_actions"
    assert payload["user"]["id"] == "U1"
    assert payload["channel"]["id"] == "C1"
    assert payload["message"] == message
    assert payload["container"] == {
        "type": "message",
        "channel_id": "C1",
        "message_ts": "1732512345.000100",
        "is_ephemeral": False,
    }
    assert payload["response_url"].startswith("https://hooks.slack.com/actions/")
    [action] = payload["actions"]
    assert (action["action_id"], action["value"], action["type"]) == ("close_ticket", "1", "button")
    assert action["block_id"] and action["action_ts"]


async def test_block_actions_from_a_view(sender: SlackSender, received: list[Received]) -> None:
    view = {"id": "V1", "type": "home", "blocks": []}
    await sender.send_block_actions(
        [{"action_id": "refresh", "type": "button"}], user_id="U1", view=view
    )
    payload = received[0].payload()
    assert payload["container"] == {"type": "view", "view_id": "V1"}
    assert payload["view"] == view
    assert "response_url" not in payload
    assert "channel" not in payload


async def test_view_submission(sender: SlackSender, received: list[Received]) -> None:
    values = {"title": {"title_input": {"type": "plain_text_input", "value": "Broken"}}}
    await sender.send_view_submission(
        {"callback_id": "new_ticket", "state": {"values": values}, "private_metadata": "C1"},
        user_id="U1",
    )
    payload = received[0].payload()
    assert payload["type"] == "view_submission"
    assert payload["user"]["id"] == "U1"
    view = payload["view"]
    assert (view["callback_id"], view["private_metadata"]) == ("new_ticket", "C1")
    assert view["state"]["values"] == values
    assert view["id"].startswith("V")
    assert view["type"] == "modal"


def test_payload_builders_use_slack_field_names() -> None:
    first, second = next_ts(), next_ts()
    assert float(second) > float(first)

    reply = message_event("C1", "U1", "hi", thread_ts=first, channel_type="im")
    assert reply["thread_ts"] == first and reply["event_ts"] == reply["ts"]
    assert reply["channel_type"] == "im" and reply["client_msg_id"]
    assert "subtype" not in reply
    bot = message_event("C1", "UBOT", "auto", bot_id="BBOT", subtype="bot_message")
    assert bot["bot_id"] == "BBOT" and "client_msg_id" not in bot

    changed = message_changed_event("C1", "U1", first, "new", previous_text="old")
    assert changed["subtype"] == "message_changed"
    assert changed["message"]["ts"] == first and changed["message"]["text"] == "new"
    assert changed["previous_message"]["text"] == "old"

    deleted = message_deleted_event("C1", first)
    assert (deleted["subtype"], deleted["deleted_ts"]) == ("message_deleted", first)

    reaction = reaction_added_event("U1", ":eyes:", "C1", first, item_user="U2")
    assert reaction["reaction"] == "eyes"
    assert reaction["item"] == {"type": "message", "channel": "C1", "ts": first}
    assert reaction["item_user"] == "U2"

    home = app_home_opened_event("U1")
    assert (home["type"], home["user"], home["tab"]) == ("app_home_opened", "U1", "home")


async def test_round_trip_through_bolt_and_the_emulator(emulator: SlackEmulator) -> None:
    """Sender -> a real Bolt app over HTTP -> Web API calls into the emulator."""
    client = AsyncWebClient(token=emulator.bot_token, base_url=emulator.api_url)
    bolt = AsyncApp(signing_secret=SECRET, client=client)

    @bolt.message("help")
    async def on_help(message: dict[str, Any], say: Any) -> None:
        await say(text="Opening a ticket", thread_ts=message["ts"])

    web = FastAPI()
    handler = AsyncSlackRequestHandler(bolt)

    @web.post("/slack/events")
    async def events(request: Request) -> Response:
        return await handler.handle(request)

    runner = ServerRunner(web)
    await runner.start("127.0.0.1", 0)
    try:
        async with SlackSender(f"http://127.0.0.1:{runner.port}", SECRET) as slack_sender:
            verification = await slack_sender.send_url_verification("abc")
            assert verification.json() == {"challenge": "abc"}
            stale = await slack_sender.send_event(
                message_event("C1", "U1", "help"), timestamp=int(time.time()) - 600
            )
            assert stale.status_code == 401

            event = message_event("C1", "U1", "help please")
            assert (await slack_sender.send_event(event)).status_code == 200
            async with asyncio.timeout(3):
                await emulator.wait_for_calls("chat.postMessage")
    finally:
        await runner.stop()

    [reply] = emulator.messages("C1")
    assert (reply["text"], reply["thread_ts"]) == ("Opening a ticket", event["ts"])
