"""What the database and Slack hold at the end of a scenario, counted.

* lost: an acknowledged event whose message is not stored (Slack will never send it again);
* never taken in: a message that is not stored at the end, acknowledged or not (one whose
  event Slack gave up on is read back by catch-up);
* duplicated: a message stored twice, or two tickets opened for one message;
* owed: outbox rows still pending once the outbox had time to drain;
* duplicate posts: one outbox row posted more than once (every post carries its row's id as
  message metadata, `ticketbot_outbox`), and missing posts: a row recorded as delivered whose
  post Slack does not hold.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.slack_emulator import SlackEmulator
from bench.chaos_load import LoadResult
from bench.chaos_stack import SUPPORT, TRIAGE

POST_METADATA_TYPE = "ticketbot_outbox"
POLL_SECONDS = 0.2


async def scalar(engine: AsyncEngine, query: str, **params: Any) -> int:
    async with engine.connect() as connection:
        return int((await connection.execute(text(query), params)).scalar_one() or 0)


async def rows(engine: AsyncEngine, query: str, **params: Any) -> list[Any]:
    async with engine.connect() as connection:
        return list((await connection.execute(text(query), params)).all())


async def wait_for(
    condition: Callable[[], Awaitable[bool]], *, within: float, poll: float = POLL_SECONDS
) -> bool:
    """Poll until `condition` holds (True) or `within` seconds pass (False)."""
    deadline = time.monotonic() + within
    while True:
        if await condition():
            return True
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(poll)


async def pending_outbox(engine: AsyncEngine) -> int:
    return await scalar(engine, "SELECT count(*) FROM outbox WHERE status = 'pending'")


async def drain(engine: AsyncEngine, *, within: float) -> int:
    """Wait until nothing is pending in the outbox, twice in a row; what is still owed."""
    empty_twice = 0

    async def drained() -> bool:
        nonlocal empty_twice
        empty_twice = empty_twice + 1 if await pending_outbox(engine) == 0 else 0
        return empty_twice >= 2

    await wait_for(drained, within=within, poll=0.5)
    return await pending_outbox(engine)


async def outbox_figures(engine: AsyncEngine) -> dict[str, int]:
    statuses = dict(await rows(engine, "SELECT status, count(*) FROM outbox GROUP BY status"))
    unknown = await scalar(engine, "SELECT count(*) FROM outbox WHERE maybe_sent_at IS NOT NULL")
    return {
        "owed": int(statuses.get("pending", 0)),
        "delivered": int(statuses.get("delivered", 0)),
        "failed": int(statuses.get("failed", 0)),
        "unknown outcomes": unknown,
    }


async def intake_figures(engine: AsyncEngine, load: LoadResult) -> dict[str, int]:
    stored = Counter(
        ts
        for (ts,) in await rows(
            engine, "SELECT ts FROM ticket_messages WHERE channel_id = :c", c=SUPPORT
        )
    )
    tickets = Counter(
        ts
        for (ts,) in await rows(
            engine, "SELECT root_ts FROM tickets WHERE channel_id = :c", c=SUPPORT
        )
    )
    duplicated = sum(n - 1 for n in stored.values() if n > 1)
    duplicated += sum(n - 1 for n in tickets.values() if n > 1)
    return {
        "events": len(load.deliveries),
        "acked": len(load.acked),
        "unacked": len(load.unacked),
        "lost": sum(1 for d in load.acked if d.ts not in stored or d.ts not in tickets),
        "duplicated": duplicated,
        "unacked but stored": sum(1 for d in load.unacked if d.ts in stored),
        "never taken in": sum(1 for d in load.deliveries if d.ts not in stored),
        "5xx": load.count_5xx(),
        "503 database unavailable": load.count_503(),
        "non-200": load.count_non_200(),
    }


async def every_message_taken_in(engine: AsyncEngine, load: LoadResult) -> bool:
    stored = {
        ts
        for (ts,) in await rows(
            engine, "SELECT ts FROM ticket_messages WHERE channel_id = :c", c=SUPPORT
        )
    }
    return all(d.ts in stored for d in load.deliveries)


def slack_posts(emulator: SlackEmulator) -> Counter[int]:
    """How many posts Slack holds for each outbox row (by the row id in its metadata)."""
    channels = {SUPPORT, TRIAGE}
    channels |= {str(c.args.get("channel")) for c in emulator.calls("chat.postMessage")}
    posts: Counter[int] = Counter()
    for channel in channels:
        for message in emulator.messages(channel):
            metadata = message.get("metadata") or {}
            if metadata.get("event_type") == POST_METADATA_TYPE:
                posts[int(metadata["event_payload"]["outbox_id"])] += 1
    return posts


async def post_figures(engine: AsyncEngine, emulator: SlackEmulator) -> dict[str, int]:
    delivered = {
        row_id
        for (row_id,) in await rows(
            engine,
            "SELECT id FROM outbox WHERE status = 'delivered' AND target = 'chat.postMessage'",
        )
    }
    posts = slack_posts(emulator)
    return {
        "posts": sum(posts.values()),
        "duplicate posts": sum(n - 1 for n in posts.values() if n > 1),
        "missing posts": len(delivered - set(posts)),
    }
