"""Nothing a client sends gets a 500, and no body is held whole before it is refused.

Through real HTTP against the running app. Bad Slack requests are built by damaging the exact
bytes the Slack sender would send; each refusal is a 4xx with one warning line (no traceback)
and changes nothing.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import resource
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote

import httpx
import pytest
from sqlalchemy import func, select

from app.inbox.models import SlackEvent
from app.slack_emulator import SlackSender, message_event, slack_signature
from app.tickets.models import Ticket
from tests.conftest import SIGNING_SECRET, TEAM_ID
from tests.support.server import RunningApp
from tests.tickets.helpers import watch

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
KIB = 1024
MIB = 1024 * KIB
SLACK_LIMIT = 512 * KIB  # the SLACK_MAX_BODY_BYTES default
API_LIMIT = MIB  # the MAX_BODY_BYTES default


async def slack_bytes(send: Callable[[SlackSender], Awaitable[Any]]) -> tuple[bytes, str]:
    """The body and content type the Slack sender puts on the wire for `send`."""
    sent: list[httpx.Request] = []

    def capture(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={})

    async with httpx.AsyncClient(transport=httpx.MockTransport(capture)) as client:
        sender = SlackSender(
            "http://app", SIGNING_SECRET, team_id=TEAM_ID, client=client, check_answers=False
        )
        await send(sender)
    return sent[0].content, sent[0].headers["content-type"]


def signed(body: bytes, content_type: str = JSON, *, age: int = 0) -> dict[str, str]:
    timestamp = str(int(time.time()) - age)
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": slack_signature(SIGNING_SECRET, timestamp, body),
    }


async def bad_bodies() -> dict[str, tuple[bytes, str, str]]:
    """Each bad body the issue names: (body, content type, what the log line says)."""
    event, _ = await slack_bytes(
        lambda s: s.send_event(message_event("CSUPPORT", "UCUSTOMER", "Our exports are failing"))
    )
    command, _ = await slack_bytes(
        lambda s: s.send_command("new Exports fail", user_id="UCUSTOMER", channel_id="CSUPPORT")
    )
    action, _ = await slack_bytes(
        lambda s: s.send_block_actions(
            [{"action_id": "noop", "value": "1"}], user_id="U1", channel_id="CSUPPORT"
        )
    )
    payload = quote(dict(parse_qsl(action.decode()))["payload"])
    return {
        "truncated JSON": (event[: len(event) // 2], JSON, "is not valid JSON"),
        "a JSON array": (b"[" + event + b"]", JSON, "is a JSON array, not an object"),
        "a form sent as JSON": (command, JSON, "is not valid JSON"),
        "not UTF-8": (event.replace(b"exports", b"expor\xff\xfe"), JSON, "not UTF-8"),
        "a payload that is not JSON": (
            b"payload=" + payload[: len(payload) // 2].encode(),
            FORM,
            "payload field is not valid JSON",
        ),
    }


async def warnings_for(
    caplog: pytest.LogCaptureFixture, request: Awaitable[httpx.Response]
) -> tuple[int, str]:
    """The status of `request` and its one log line at WARNING or above (asserted: exactly
    one, without a traceback)."""
    caplog.clear()
    with caplog.at_level(logging.INFO):
        response = await request
    records = [record for record in caplog.records if record.levelno >= logging.WARNING]
    assert len(records) == 1, [record.getMessage() for record in records]
    assert records[0].exc_info is None and "Traceback" not in caplog.text
    assert response.status_code < 500
    return response.status_code, records[0].getMessage()


async def stored(app: RunningApp) -> tuple[int, int]:
    """(inbox rows, tickets)."""
    async with app.runtime.session_factory() as session:
        events = await session.scalar(select(func.count()).select_from(SlackEvent))
        tickets = await session.scalar(select(func.count()).select_from(Ticket))
    return events or 0, tickets or 0


@pytest.fixture
async def client(running_app: RunningApp) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=running_app.url, timeout=30) as client:
        yield client


# -- Slack: 401 before anything parses the body, then 400 ---------------------------------


async def test_each_bad_body_is_400_signed_and_401_unsigned_with_one_line(
    running_app, client, caplog
):
    await watch(running_app)  # so that any of these, taken for a message, would open a ticket
    for name, (body, content_type, reason) in (await bad_bodies()).items():
        post = client.post("/slack/events", content=body, headers=signed(body, content_type))
        status, line = await warnings_for(caplog, post)
        assert (status, reason in line) == (400, True), (name, line)
        assert line.startswith("POST /slack/events refused with 400: "), line

        unsigned = client.post(
            "/slack/events", content=body, headers={"Content-Type": content_type}
        )
        status, line = await warnings_for(caplog, unsigned)
        assert (status, "no signature" in line) == (401, True), (name, line)

    one_mb = client.post("/slack/events", content=b"x" * MIB, headers={"Content-Type": JSON})
    status, line = await warnings_for(caplog, one_mb)
    assert (status, line) == (
        413,
        "POST /slack/events refused with 413: the body is over the limit of 512 KiB"
        f" (it declares {MIB} bytes)",
    )
    assert await stored(running_app) == (0, 0)


async def test_the_undamaged_requests_still_reach_bolt(running_app, client):
    """The control: the bytes the bad bodies were made from are accepted as before."""
    await watch(running_app)
    event, _ = await slack_bytes(
        lambda s: s.send_event(message_event("CSUPPORT", "UCUSTOMER", "Our exports are failing"))
    )
    command, _ = await slack_bytes(
        lambda s: s.send_command("help", user_id="UCUSTOMER", channel_id="CSUPPORT")
    )

    answers = [
        await client.post("/slack/events", content=event, headers=signed(event)),
        await client.post("/slack/events", content=command, headers=signed(command, FORM)),
    ]

    assert [answer.status_code for answer in answers] == [200, 200]
    assert await stored(running_app) == (1, 1)


async def test_missing_stale_wrong_or_malformed_signatures_are_401(running_app, client, caplog):
    await watch(running_app)
    body, _ = await slack_bytes(
        lambda s: s.send_event(message_event("CSUPPORT", "UCUSTOMER", "Our exports are failing"))
    )
    good = signed(body)
    cases: dict[str, tuple[dict[str, Any], str]] = {
        "missing": ({"Content-Type": JSON}, "no signature"),
        "no timestamp": ({**good, "X-Slack-Request-Timestamp": ""}, "no signature"),
        # 360 s, or 361 if a second ticks between signing and checking
        "six minutes old": (signed(body, age=6 * 60), "a stale signature (signed 36"),
        "six minutes ahead": (signed(body, age=-6 * 60), "a signature from the future"),
        "wrong": ({**good, "X-Slack-Signature": "v0=" + "0" * 64}, "a wrong signature"),
        "another body's": (
            {**good, "X-Slack-Signature": signed(b"{}")["X-Slack-Signature"]},
            "a wrong signature",
        ),
        "timestamp not a number": ({**good, "X-Slack-Request-Timestamp": "soon"}, "malformed"),
        "timestamp in superscript digits": (
            {**good, "X-Slack-Request-Timestamp": "¹²³".encode("latin-1")},
            "malformed",
        ),
        "signature not ASCII": (
            {**good, "X-Slack-Signature": "v0=é".encode("latin-1")},
            "malformed",
        ),
    }
    for name, (headers, reason) in cases.items():
        post = client.post("/slack/events", content=body, headers=headers)
        status, line = await warnings_for(caplog, post)
        assert (status, reason in line) == (401, True), (name, line)

    assert await stored(running_app) == (0, 0)


async def test_signed_envelopes_bolt_cannot_route_are_400(running_app, client, caplog):
    event, _ = await slack_bytes(
        lambda s: s.send_event(message_event("CSUPPORT", "UCUSTOMER", "Our exports are failing"))
    )
    envelope = json.loads(event)
    action, _ = await slack_bytes(
        lambda s: s.send_block_actions([{"action_id": "noop"}], user_id="U1", channel_id="C1")
    )
    payload = json.loads(dict(parse_qsl(action.decode()))["payload"])
    cases: dict[str, tuple[bytes, str, str]] = {
        "an event that is a string": (
            json.dumps({**envelope, "event": "message"}).encode(),
            JSON,
            "event is not an object",
        ),
        "no event_id": (
            json.dumps({k: v for k, v in envelope.items() if k != "event_id"}).encode(),
            JSON,
            "without an event_id",
        ),
        "authorizations not a list": (
            json.dumps({**envelope, "authorizations": "T0001"}).encode(),
            JSON,
            "authorizations is not a list of objects",
        ),
        "actions not a list": (
            b"payload=" + quote(json.dumps({**payload, "actions": "noop"})).encode(),
            FORM,
            "actions is not a list of objects",
        ),
        "nested too deeply": (b"[" * 200_000 + b"]" * 200_000, JSON, "nested too deeply"),
        "not a content type Slack sends": (event, "text/plain", "the content type is text/plain"),
    }
    for name, (body, content_type, reason) in cases.items():
        post = client.post("/slack/events", content=body, headers=signed(body, content_type))
        status, line = await warnings_for(caplog, post)
        assert (status, reason in line) == (400, True), (name, line)

    assert await stored(running_app) == (0, 0)


# -- Body limits on every endpoint ----------------------------------------------------------


async def chunks(total: int, size: int = 64 * KIB) -> AsyncIterator[bytes]:
    """`total` bytes, streamed without a Content-Length (chunked)."""
    chunk = b"x" * size
    for _ in range(total // size):
        yield chunk


@pytest.mark.parametrize(
    ("path", "limit", "shown"),
    [
        ("/slack/events", SLACK_LIMIT, "512 KiB"),
        ("/api/tickets", API_LIMIT, "1 MiB"),
        ("/webhooks/inbound/x", API_LIMIT, "1 MiB"),
    ],
)
async def test_bodies_over_the_limit_are_413_declared_or_streamed(
    running_app, client, caplog, path, limit, shown
):
    over = limit + 64 * KIB
    body = b"x" * over
    declared = client.post(path, content=body, headers=signed(body))
    status, line = await warnings_for(caplog, declared)
    assert (status, line) == (
        413,
        f"POST {path} refused with 413: the body is over the limit of {shown}"
        f" (it declares {over} bytes)",
    )

    sent = 4 * limit
    streamed = client.post(path, content=chunks(sent), headers={"Content-Type": JSON})
    status, line = await warnings_for(caplog, streamed)
    counted = re.fullmatch(
        f"POST {path} refused with 413: the body is over the limit of {shown}"
        r" \(it passed it after (\d+) bytes\)",
        line,
    )
    assert status == 413 and counted, line
    assert limit < int(counted[1]) < 2 * limit < sent  # as it passed the limit, not at the end

    assert await stored(running_app) == (0, 0)


async def test_a_slack_body_at_the_limit_is_read(running_app, client):
    empty = len(json.dumps({"type": "url_verification", "challenge": ""}))
    challenge = "c" * (SLACK_LIMIT - empty)
    body = json.dumps({"type": "url_verification", "challenge": challenge}).encode()
    assert len(body) == SLACK_LIMIT

    answer = await client.post("/slack/events", content=body, headers=signed(body))

    assert answer.status_code == 200
    assert challenge in answer.text


# -- Memory ------------------------------------------------------------------------------------


def rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * KIB
    raise AssertionError("no VmRSS in /proc/self/status")


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc (Linux)")
async def test_four_concurrent_50_mb_unsigned_posts_do_not_grow_memory(running_app, client):
    """The app runs in this process: its RSS is sampled while the bodies stream (the client
    sends one 1 MiB buffer 50 times, so it holds no more than that). With the bodies read whole
    before the signature check, as they were, this measured about +220 MiB."""
    buffer = b"x" * MIB

    async def fifty_mb() -> AsyncIterator[bytes]:
        for _ in range(50):
            yield buffer

    peak = baseline = rss_bytes()
    maxrss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * KIB
    sending = True

    async def sample() -> None:
        nonlocal peak
        while sending:
            peak = max(peak, rss_bytes())
            await asyncio.sleep(0.005)

    sampler = asyncio.create_task(sample())
    answers = await asyncio.gather(
        *(
            client.post("/slack/events", content=fifty_mb(), headers={"Content-Type": JSON})
            for _ in range(4)
        )
    )
    sending = False
    await sampler
    maxrss_growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * KIB - maxrss_before

    print(
        f"RSS baseline {baseline / MIB:.1f} MiB, peak {peak / MIB:.1f} MiB"
        f" (+{(peak - baseline) / MIB:.1f} MiB); ru_maxrss +{maxrss_growth / MIB:.1f} MiB"
    )
    assert [answer.status_code for answer in answers] == [413] * 4
    assert peak - baseline < 30 * MIB
    assert maxrss_growth < 30 * MIB
