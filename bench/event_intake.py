"""Signed Slack events per second into `ticketbot serve`, each stored before its 200.

Baseline: a bare Bolt app (FastAPI adapter, `process_before_response=True`, empty listener)
measured in the same run with the same load. Both servers run as one uvicorn worker in their
own process; the load generator signs every request as Slack does.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp
from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import free_port, python, start_process, stop_process, summarise

from app.db import create_engine, create_session_factory
from app.inbox.models import SlackEvent
from app.schema import upgrade_to_head
from app.slack_emulator import BENCH_EMULATOR, SlackEmulator, message_event, slack_signature

SECRET = "bench-signing-secret"
TOKEN = "xoxb-bench"


def signed_requests(count: int) -> list[tuple[bytes, dict[str, str]]]:
    """Envelopes signed up front, so the load generator spends its CPU on sending."""
    requests = []
    timestamp = str(int(time.time()))
    for n in range(count):
        envelope = {
            "token": "unused",
            "team_id": "T0001",
            "api_app_id": "A0001",
            "type": "event_callback",
            "event_id": f"Ev{uuid.uuid4().hex[:16]}",
            "event_time": int(timestamp),
            "event": message_event("CBENCH", f"U{n % 50:04d}", f"help with order {n}"),
        }
        body = json.dumps(envelope).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": slack_signature(SECRET, timestamp, body),
        }
        requests.append((body, headers))
    return requests


async def load(url: str, count: int, concurrency: int) -> tuple[list[float], float, int]:
    requests = signed_requests(count)
    latencies: list[float] = []
    failures = 0
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as client:

        async def worker() -> None:
            nonlocal failures
            while requests:
                body, headers = requests.pop()
                started = time.perf_counter()
                async with client.post(f"{url}/slack/events", data=body, headers=headers) as r:
                    await r.read()
                    failures += r.status != 200
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return latencies, elapsed, failures


async def stored_events(database_url: str) -> int:
    engine = create_engine(database_url)
    try:
        async with create_session_factory(engine)() as session:
            return await session.scalar(select(func.count()).select_from(SlackEvent)) or 0
    finally:
        await engine.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", help="default: a temporary SQLite file")
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="ticketbot-bench-"))
    database_url = args.database_url or f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
    await upgrade_to_head(database_url)
    before = await stored_events(database_url)

    # Throughput, not Slack's pacing or payload checks (the test suite holds those).

    emulator = SlackEmulator(bot_token=TOKEN, **BENCH_EMULATOR)
    await emulator.start()
    env = {
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_API_URL": emulator.api_url,
        "SLACK_PACING": "false",  # the emulator runs without rate limits: BENCH_EMULATOR
        "DATABASE_URL": database_url,
        "LOG_LEVEL": "WARNING",
    }
    print(f"{args.events} signed message events, {args.concurrency} concurrent, {database_url}")

    port = free_port()
    baseline = await start_process(
        [
            python(),
            "-m",
            "uvicorn",
            "--app-dir",
            "bench",
            "_baseline_bolt:app",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        env,
        port,
    )
    try:
        await load(f"http://127.0.0.1:{port}", 200, args.concurrency)  # warm-up
        base = summarise(
            "baseline (bare Bolt)",
            *(await load(f"http://127.0.0.1:{port}", args.events, args.concurrency))[:2],
        )
    finally:
        await stop_process(baseline)

    port = free_port()
    server = await start_process(
        [
            python(),
            "-m",
            "app.cli",
            "serve",
            "--no-migrate",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env,
        port,
    )
    try:
        await load(f"http://127.0.0.1:{port}", 200, args.concurrency)  # warm-up
        latencies, elapsed, failures = await load(
            f"http://127.0.0.1:{port}", args.events, args.concurrency
        )
        ours = summarise("ticketbot (stored, dedup)", latencies, elapsed)
    finally:
        await stop_process(server)
        await emulator.stop()

    stored = await stored_events(database_url) - before
    print(f"ratio ticketbot/baseline: {ours['rate'] / base['rate']:.2f}")
    print(f"non-200 answers: {failures}; events stored: {stored} of {args.events + 200} sent")


if __name__ == "__main__":
    asyncio.run(main())
