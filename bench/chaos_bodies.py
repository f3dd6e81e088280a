"""Scenario 5: bodies Slack never sends, signed and unsigned, get a 4xx and never a 5xx; and
several huge unsigned bodies at once do not balloon the server's memory (read from
/proc/<pid>/status while they are sent)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time

import httpx

from app.slack_emulator import slack_signature
from bench.chaos_plan import Mode, Report
from bench.chaos_stack import SECRET, TEAM_ID, ServeProcess, Stack

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
RSS_LIMIT_MB = 200
SAMPLE_SECONDS = 0.02
CHUNK = b"x" * (64 * 1024)
ANSWER_SECONDS = 30.0


def bad_bodies() -> list[tuple[str, bytes, str, bool]]:
    """(what, body, content type, signed?)"""
    envelope = json.dumps(
        {"type": "event_callback", "team_id": TEAM_ID, "event_id": "EvCHAOS", "event": {}}
    ).encode()
    not_utf8 = b'{"type": "event_callback", "event": {"text": "caf\xe9 \xff\xfe"}}'
    nested = b"[" * 100_000 + b"]" * 100_000
    return [
        ("truncated JSON", envelope[: len(envelope) // 2], JSON, True),
        ("truncated JSON", envelope[: len(envelope) // 2], JSON, False),
        ("a JSON array", b'[{"type": "event_callback"}]', JSON, True),
        ("a form body as JSON", b"command=%2Fticket&text=list&team_id=T0001", JSON, True),
        ("a non-UTF-8 body", not_utf8, JSON, True),
        ("a non-UTF-8 body", not_utf8, JSON, False),
        ("a non-UTF-8 form", b"command=%2Fticket&text=\xff\xfe", FORM, True),
        ("an empty body", b"", JSON, True),
        ("JSON nested 100,000 deep", nested, JSON, True),
        ("an event_callback without its event", b'{"type": "event_callback"}', JSON, True),
        ("a form whose payload is not JSON", b"payload=%7Bnot+json", FORM, True),
    ]


async def bad_bodies_and_memory(stack: Stack, mode: Mode, _rng: object, report: Report) -> None:
    server = stack.serve("serve")
    await server.start()
    answers: dict[str, int] = {}
    async with httpx.AsyncClient(timeout=10.0) as client:
        for what, body, content_type, signed in bad_bodies():
            headers = {"Content-Type": content_type}
            if signed:
                timestamp = str(int(time.time()))
                headers["X-Slack-Request-Timestamp"] = timestamp
                headers["X-Slack-Signature"] = slack_signature(SECRET, timestamp, body)
            answer = await client.post(f"{server.url}/slack/events", content=body, headers=headers)
            answers[f"{what}, {'signed' if signed else 'unsigned'}"] = answer.status_code
    # Refused before it is read (413), so the answer may come while the body is still being sent:
    # sent the way the huge ones are, reading the answer as it comes.
    # A server that answers and closes while the client still sends makes the client's kernel
    # drop the answer (a reset): then the refusal is read from the server's log.
    refused = server.log_count("refused with 413")
    one_mb = await _big_body(server, 1024 * 1024, chunked=False)
    if one_mb == "closed" and server.log_count("refused with 413") > refused:
        one_mb = "413"
    answers["a 1 MB body, unsigned"] = int(one_mb) if one_mb.isdigit() else 0
    wrong = {what: status for what, status in answers.items() if not 400 <= status < 500}
    report.figures["bad bodies"] = len(answers)
    report.figures["4xx"] = sum(1 for status in answers.values() if 400 <= status < 500)
    report.figures["5xx"] = sum(1 for status in answers.values() if status >= 500)
    for what, status in wrong.items():
        report.violations.append(f"{what}: answered {status}, not a 4xx")

    before = (server.memory_kb() or 0) / 1024
    size = mode.big_body_mb * 1024 * 1024
    peak = 0.0

    async def sample() -> None:
        nonlocal peak
        while True:
            peak = max(peak, (server.memory_kb() or 0) / 1024)
            await asyncio.sleep(SAMPLE_SECONDS)

    sampler = asyncio.create_task(sample())
    try:
        big = await asyncio.gather(
            *(_big_body(server, size, chunked=i % 2 == 0) for i in range(mode.big_bodies))
        )
    finally:
        sampler.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sampler
    async with httpx.AsyncClient(timeout=5.0) as client:
        alive = (await client.get(f"{server.url}/healthz")).status_code == 200
    report.figures["big bodies"] = f"{mode.big_bodies} x {mode.big_body_mb} MB"
    report.figures["big answers"] = ",".join(big)
    report.figures["RSS before MB"] = before
    report.figures["RSS peak MB"] = peak
    report.figures["VmHWM MB"] = (server.memory_kb("VmHWM") or 0) / 1024
    report.require(peak < RSS_LIMIT_MB, f"RSS peaked at {peak:.0f} MB (limit {RSS_LIMIT_MB} MB)")
    report.require(all(answer in ("413", "closed") for answer in big), f"big bodies: {big}")
    report.require(alive, "the server did not answer /healthz after the big bodies")


async def _big_body(server: ServeProcess, size: int, *, chunked: bool) -> str:
    """Send `size` unsigned bytes (declared, or chunked with no length) as fast as the server
    takes them, whatever it answers meanwhile; its status code, or `closed` without one."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    length = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {size}"
    head = f"POST /slack/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {JSON}\r\n"
    writer.write(f"{head}{length}\r\n\r\n".encode())
    status_line = asyncio.create_task(reader.readline())
    try:
        sent = 0
        while sent < size:
            piece = CHUNK[: size - sent]
            writer.write(b"%x\r\n%b\r\n" % (len(piece), piece) if chunked else piece)
            await writer.drain()
            sent += len(piece)
        if chunked:
            writer.write(b"0\r\n\r\n")
            await writer.drain()
    except (ConnectionError, OSError):
        pass  # the server stopped reading: it has answered, or closed the connection
    try:
        line = await asyncio.wait_for(status_line, timeout=ANSWER_SECONDS)
    except (TimeoutError, ConnectionError, OSError):
        line = b""
    finally:
        writer.transport.abort()
    parts = line.split()
    return parts[1].decode() if len(parts) >= 2 else "closed"
