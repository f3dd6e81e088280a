"""Cost of the SLA timer sweep on PostgreSQL, and that it does not grow with closed tickets.

Two rounds in one run, on one scratch database:
  A (baseline): 100,000 open tickets, each with an active breach timer; 500 of them due.
  B: the same, plus 900,000 closed tickets with 1,800,000 done timers (1,000,000 tickets).
Each round times the real sweeper (one transaction per timer, real SLA alert handler writing
the alert and the card update to the outbox) over the 500 due timers, and the "what is due"
query alone. The ratio B/A shows whether closed history slows the sweep down.

  python bench/sla_sweep.py --postgres-url postgresql+asyncpg://postgres@127.0.0.1:5432/test
(a scratch database is created next to the one named, and dropped at the end)
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
from sqlalchemy import select, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.clock import SettableClock
from app.db import create_engine, create_session_factory
from app.flows.sla_alerts import register_sla_handlers
from app.schema import upgrade_to_head
from app.timers.handlers import TimerHandlers
from app.timers.models import Timer
from app.timers.sweeper import TimerSweeper, TimerSweeperSettings

BASE = datetime(2026, 1, 5, 9, tzinfo=UTC)
OPEN, CLOSED, DUE = 100_000, 900_000, 500
ISO = """to_char((TIMESTAMPTZ '2026-01-05 09:00:00+00' + make_interval(secs => {n}))
  AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"+00:00"')"""


def dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def seed_open(conn: asyncpg.Connection) -> None:
    await conn.execute(
        "INSERT INTO workspaces (slack_team_id, name, time_zone, next_ticket_number) "
        "VALUES ('TBENCH', 'Bench', 'UTC', 1)"
    )
    await conn.execute(
        f"""
        INSERT INTO tickets (workspace_id, number, subject, status, priority, source,
            requester_user_id, is_external, channel_id, root_ts, triage_channel_id,
            triage_card_ts, created_at, first_response_due_at, sla_state)
        SELECT 1, n, 'Open ticket ' || n, 'new', 'normal', 'message', 'U' || n, false,
            'CSUPPORT', n || '.000100', 'CTRIAGE', n || '.000200',
            TIMESTAMPTZ '2026-01-05 09:00:00+00',
            TIMESTAMPTZ '2026-01-05 09:00:00+00' + make_interval(secs => n), 'on_track'
        FROM generate_series(1, {OPEN}) AS n
        """
    )
    await conn.execute(
        f"""
        INSERT INTO timers (kind, key, workspace_id, ticket_id, due_at, payload, attempts,
            created_at)
        SELECT 'sla.breach', 'sla:' || n || ':first_response:breach', 1, n,
            TIMESTAMPTZ '2026-01-05 09:00:00+00' + make_interval(secs => n),
            json_build_object('target', 'first_response', 'due_at', {ISO.format(n="n")}),
            0, TIMESTAMPTZ '2026-01-05 09:00:00+00'
        FROM generate_series(1, {OPEN}) AS n
        """
    )


async def seed_closed(conn: asyncpg.Connection) -> None:
    await conn.execute(
        f"""
        INSERT INTO tickets (workspace_id, number, subject, status, priority, source,
            is_external, channel_id, root_ts, created_at, closed_at, sla_state)
        SELECT 1, n, 'Closed ticket ' || n, 'closed', 'normal', 'message', false, 'CSUPPORT',
            n || '.000100', TIMESTAMPTZ '2025-01-01 00:00:00+00',
            TIMESTAMPTZ '2025-01-02 00:00:00+00', 'on_track'
        FROM generate_series({OPEN + 1}, {OPEN + CLOSED}) AS n
        """
    )
    for kind in ("warning", "breach"):
        await conn.execute(
            f"""
            INSERT INTO timers (kind, key, workspace_id, ticket_id, due_at, payload, attempts,
                created_at, done_at)
            SELECT 'sla.{kind}', 'sla:' || n || ':resolution:{kind}', 1, n,
                TIMESTAMPTZ '2025-01-01 12:00:00+00', '{{}}', 0,
                TIMESTAMPTZ '2025-01-01 00:00:00+00', TIMESTAMPTZ '2025-01-01 12:00:00+00'
            FROM generate_series({OPEN + 1}, {OPEN + CLOSED}) AS n
            """
        )
    await conn.execute("ANALYZE")


async def reset_due(conn: asyncpg.Connection) -> None:
    await conn.execute(
        f"UPDATE timers SET done_at = NULL, claimed_at = NULL, claimed_by = NULL "
        f"WHERE ticket_id <= {DUE} AND kind = 'sla.breach' AND key LIKE '%first_response%'"
    )
    await conn.execute(f"UPDATE tickets SET sla_state = 'on_track' WHERE id <= {DUE}")
    await conn.execute("DELETE FROM outbox")
    await conn.execute("DELETE FROM sla_ledger")
    await conn.execute("VACUUM ANALYZE timers")


async def due_query_ms(factory, now: datetime) -> float:
    """Median time of the sweeper's "what is due" lookup (one batch)."""
    samples = []
    query = (
        select(Timer.id)
        .where(Timer.done_at.is_(None), Timer.cancelled_at.is_(None), Timer.due_at <= now)
        .order_by(Timer.due_at)
        .limit(100)
    )
    for _ in range(50):
        async with factory() as session, session.begin():
            started = time.perf_counter()
            await session.execute(query.with_for_update(skip_locked=True))
            samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


async def measure(url: str, label: str) -> float:
    engine = create_engine(url)
    factory = create_session_factory(engine)
    clock = SettableClock(BASE + timedelta(seconds=DUE, milliseconds=500))
    handlers = TimerHandlers()
    register_sla_handlers(handlers)
    sweeper = TimerSweeper(
        session_factory=factory,
        clock=clock,
        handlers=handlers,
        settings=TimerSweeperSettings(batch_size=100, max_rounds=100),
    )
    query_ms = await due_query_ms(factory, clock.now())
    started = time.perf_counter()
    handled = await sweeper.sweep_until_idle()
    elapsed = time.perf_counter() - started
    async with factory() as session:
        alerts = await session.scalar(text("SELECT count(*) FROM outbox"))
    await engine.dispose()
    print(
        f"{label:<44} due-query p50 {query_ms:6.2f} ms   sweep of {handled} timers "
        f"{elapsed * 1000:7.0f} ms ({handled / elapsed:5.0f} timers/s)   outbox rows {alerts}"
    )
    return elapsed


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--postgres-url", default="postgresql+asyncpg://postgres@127.0.0.1:5432/test"
    )
    args = parser.parse_args()
    name = f"ticketbot_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(dsn(args.postgres_url))
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = make_url(args.postgres_url).set(database=name).render_as_string(hide_password=False)
    try:
        await upgrade_to_head(url)
        conn = await asyncpg.connect(dsn(url))
        try:
            started = time.perf_counter()
            await seed_open(conn)
            await conn.execute("ANALYZE")
            print(
                f"seeded {OPEN:,} open tickets and timers in {time.perf_counter() - started:.0f} s"
            )
            baseline = await measure(url, "A: 100,000 open tickets")
            started = time.perf_counter()
            await seed_closed(conn)
            print(
                f"seeded {CLOSED:,} closed tickets and {2 * CLOSED:,} done timers "
                f"in {time.perf_counter() - started:.0f} s"
            )
            await reset_due(conn)
            with_history = await measure(url, "B: + 900,000 closed (1,000,000 tickets)")
        finally:
            await conn.close()
        print(f"ratio B/A (sweep time): {with_history / baseline:.2f}")
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
