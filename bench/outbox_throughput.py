"""Outbox deliveries per second to the Slack emulator: claim, call, record, per row, by the
dispatcher as `ticketbot serve` runs it (started, its workers' rounds under way at once) until
every row is recorded.

Baseline: the same chat.postMessage calls made directly with slack-sdk at the same
concurrency, with nothing claimed or recorded, measured in the same run. A third pass takes a
paced slot before each call (SLACK_PACING, one more transaction per call) in the same keys as
Slack's paces, but paces that never hold a call back: what is measured is the cost of pacing,
not Slack's one post a second per channel.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import sys
import tempfile
import time
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.clock import SystemClock
from app.db import create_engine, create_session_factory
from app.metrics import Metrics
from app.outbox.delivery import Attempt, DeliveryOutcome, Sender
from app.outbox.dispatcher import DispatcherSettings, OutboxDispatcher
from app.outbox.enums import OutboxKind, OutboxStatus
from app.outbox.models import OutboxMessage
from app.outbox.pacing import Pace, Pacer
from app.outbox.service import enqueue_slack_call
from app.schema import upgrade_to_head
from app.slack.delivery import SlackApiSender, post_metadata
from app.slack.pacing import slack_paces
from app.slack_emulator import BENCH_EMULATOR, SlackEmulator

TOKEN = "xoxb-bench"


async def baseline(
    emulator: SlackEmulator, count: int, concurrency: int, *, with_metadata: bool = False
) -> tuple[float, float]:
    """(seconds, CPU seconds of this process). `with_metadata`: each post carries the metadata
    the outbox adds to it (its row's id, by which a retry finds a post that landed)."""
    async with aiohttp.ClientSession() as http:
        client = AsyncWebClient(token=TOKEN, base_url=emulator.api_url, session=http)
        limit = asyncio.Semaphore(concurrency)

        async def call(n: int) -> None:
            async with limit:
                extra = {"metadata": post_metadata(n)} if with_metadata else {}
                await client.chat_postMessage(channel=f"C{n % 20}", text=f"direct {n}", **extra)

        started, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(call(n) for n in range(count)))
        return time.perf_counter() - started, time.process_time() - cpu


# Never in the way: one microsecond apart, a billion at once.
UNHINDERED = Pace(interval=timedelta(microseconds=1), burst=10**9)


def unhindered_paces(method: str, payload: Mapping[str, Any]) -> dict[str, Pace]:
    """Slack's paced keys for this call (its method, the workspace's posts, its channel), none
    of which ever holds a call back."""
    return {key: UNHINDERED for key in slack_paces(method, payload)}


async def through_outbox(
    emulator: SlackEmulator,
    database_url: str,
    count: int,
    concurrency: int,
    batch: int,
    workers: int,
    *,
    paced: bool = False,
    calls_slack: bool = True,
) -> tuple[float, float, int]:
    """(seconds, CPU seconds of this process, delivered rows). Without `calls_slack`, a sender
    that answers at once, calling nobody: what is left is the outbox's own work per row."""
    engine = create_engine(database_url)
    factory = create_session_factory(engine)
    clock = SystemClock()
    delivered_before = await _delivered(factory)
    async with factory() as session, session.begin():
        for n in range(count):
            await enqueue_slack_call(
                session=session,
                method="chat.postMessage",
                payload={"channel": f"C{n % 20}", "text": f"outbox {n}"},
                now=clock.now(),
            )
    pacer = Pacer(factory, clock) if paced else None
    async with aiohttp.ClientSession() as http:
        client = AsyncWebClient(token=TOKEN, base_url=emulator.api_url, session=http)
        sender: Sender = (
            SlackApiSender(client, pacer=pacer, paces=unhindered_paces)
            if calls_slack
            else AnswersAtOnce()
        )
        metrics = Metrics()
        dispatcher = OutboxDispatcher(
            session_factory=factory,
            senders={OutboxKind.SLACK_API: sender},
            clock=clock,
            metrics=metrics,
            settings=DispatcherSettings(batch_size=batch, concurrency=concurrency, workers=workers),
        )
        started, cpu = time.perf_counter(), time.process_time()
        dispatcher.start()
        while _recorded(metrics) < count:  # noqa: ASYNC110 (a counter, not an event, says when)
            await asyncio.sleep(0.01)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        await dispatcher.stop()
    delivered = await _delivered(factory) - delivered_before
    await engine.dispose()
    return elapsed, cpu, delivered


class AnswersAtOnce:
    """Delivers every row at once (what chat.postMessage answers), calling nobody."""

    async def send(self, target: str, payload: dict[str, Any], attempt: Attempt) -> DeliveryOutcome:
        await asyncio.sleep(0)  # a send yields to the loop at least once
        return DeliveryOutcome.delivered({"ts": f"{attempt.outbox_id}.000100", "channel": "C1"})


def _recorded(metrics: Metrics) -> float:
    sample = metrics.registry.get_sample_value(
        "ticketbot_outbox_delivery_attempts_total", {"kind": "slack_api", "outcome": "delivered"}
    )
    return sample or 0.0


async def _delivered(factory: async_sessionmaker[AsyncSession]) -> int:
    async with factory() as session:
        delivered = await session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.status == OutboxStatus.DELIVERED)
        )
    return delivered or 0


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", help="default: a temporary SQLite file")
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=DispatcherSettings.concurrency)
    parser.add_argument("--batch", type=int, default=DispatcherSettings.batch_size)
    parser.add_argument("--workers", type=int, default=DispatcherSettings.workers)
    parser.add_argument(
        "--slack-latency-ms",
        type=float,
        default=0.0,
        help="answer every call this late, as Slack across a network does (default: at once)",
    )
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="ticketbot-bench-"))
    database_url = args.database_url or f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
    await upgrade_to_head(database_url)

    # Throughput, not Slack's pacing or payload checks (the test suite holds those).

    emulator = SlackEmulator(bot_token=TOKEN, **BENCH_EMULATOR)
    await emulator.start()
    try:
        if args.slack_latency_ms > 0:
            emulator.slow_next(seconds=args.slack_latency_ms / 1000, times=10**9)
        print(
            f"{args.messages} chat.postMessage, concurrency {args.concurrency}, "
            f"batch {args.batch}, workers {args.workers}, "
            f"Slack answering in {args.slack_latency_ms:g} ms, {database_url}"
        )
        direct, direct_cpu = await baseline(emulator, args.messages, args.concurrency)
        print(
            f"{'baseline (direct calls)':<26} {args.messages / direct:>8.0f}/s"
            f"  {direct_cpu / args.messages * 1e3:.2f} ms CPU per message"
        )
        emulator.reset_calls()
        _, tagged_cpu = await baseline(
            emulator, args.messages, args.concurrency, with_metadata=True
        )
        print(
            f"{'the same with metadata':<26} {'':>10}  {tagged_cpu / args.messages * 1e3:.2f}"
            " ms CPU per message (the outbox's row id on each post)"
        )
        emulator.reset_calls()
        dispatched = functools.partial(
            through_outbox,
            emulator,
            database_url,
            args.messages,
            args.concurrency,
            args.batch,
            args.workers,
        )
        elapsed, cpu, delivered = await dispatched()
        print(
            f"{'through the outbox':<26} {args.messages / elapsed:>8.0f}/s"
            f"  {cpu / args.messages * 1e3:.2f} ms CPU per message"
        )
        print(f"ratio outbox/baseline: {direct / elapsed:.2f}")
        _, own_cpu, _ = await dispatched(calls_slack=False)
        own = own_cpu / args.messages
        print(
            f"{'claim and record only':<26} {own * 1e3:>8.2f} ms CPU per message"
            " (a sender that answers at once)"
        )
        per_call, tagged = direct_cpu / args.messages, tagged_cpu / args.messages
        print(
            f"ratio bound by CPU: {per_call / (tagged + own):.2f} (a direct call's CPU over a"
            " call with metadata plus the outbox's own work, nothing else added)"
        )
        posted = len(emulator.delivered("chat.postMessage"))
        print(f"delivered rows: {delivered}; posts seen by the emulator: {posted}")
        emulator.reset_calls()
        paced_elapsed, paced_cpu, paced_delivered = await dispatched(paced=True)
        print(
            f"{'through the outbox, paced':<26} {args.messages / paced_elapsed:>8.0f}/s"
            f"  {paced_cpu / args.messages * 1e3:.2f} ms CPU per message"
        )
        print(f"ratio paced/unpaced: {elapsed / paced_elapsed:.2f}")
        posted = len(emulator.delivered("chat.postMessage"))
        print(f"delivered rows: {paced_delivered}; posts seen by the emulator: {posted}")
    finally:
        await emulator.stop()


if __name__ == "__main__":
    asyncio.run(main())
