"""Cost of the SLA timer sweep, grouped against one transaction per timer, on both databases;
and that it does not grow with closed tickets.

For each database, on one scratch database:
  A: 100,000 open tickets, each with an active breach timer; 1,000 of them due.
  B: the same, plus 900,000 closed tickets with 1,800,000 done timers (1,000,000 tickets).
In each, the real sweeper with the real SLA alert handler (which writes the alert, the card
update, the ledger entry and the ticket's state) sweeps the due timers, alternately grouped
(as `ticketbot serve` sets the sweeper up for that database) and one transaction per timer
(`group_size` 1, the baseline, as the sweeper was), `--rounds` times each, with the due
timers reset between runs. Printed: medians of wall time and of this process's CPU per
timer, the ratio grouped/baseline, and B/A (does closed history slow it down?). Every run
must leave 1,000 done timers and 2,000 outbox rows, or the bench stops.

  python bench/sla_sweep.py                      # both databases
  python bench/sla_sweep.py --only sqlite --no-history
(PostgreSQL: a scratch database is created next to `--postgres-url` and dropped at the end.)
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.clock import SettableClock
from app.db import create_engine, create_session_factory, is_sqlite_url
from app.flows.sla_alerts import register_sla_handlers
from app.schema import upgrade_to_head
from app.timers.handlers import TimerHandlers
from app.timers.sweeper import TimerSweeper, TimerSweeperSettings

BASE = datetime(2026, 1, 5, 9, tzinfo=UTC)
OPEN, CLOSED, DUE = 100_000, 900_000, 1_000


# -- seeding, in SQL on the server side (each database's own date functions) ---------------------

PG_OPEN = [
    """INSERT INTO workspaces (slack_team_id, name, time_zone, next_ticket_number)
       VALUES ('TBENCH', 'Bench', 'UTC', 1)""",
    f"""INSERT INTO tickets (workspace_id, number, subject, status, priority, source,
            requester_user_id, is_external, channel_id, root_ts, triage_channel_id,
            triage_card_ts, created_at, first_response_due_at, sla_state)
        SELECT 1, n, 'Open ticket ' || n, 'new', 'normal', 'message', 'U' || n, false,
            'CSUPPORT', n || '.000100', 'CTRIAGE', n || '.000200',
            TIMESTAMPTZ '2026-01-05 09:00:00+00',
            TIMESTAMPTZ '2026-01-05 09:00:00+00' + make_interval(secs => n), 'on_track'
        FROM generate_series(1, {OPEN}) AS n""",
    f"""INSERT INTO timers (kind, key, workspace_id, ticket_id, due_at, payload, attempts,
            created_at)
        SELECT 'sla.breach', 'sla:' || n || ':first_response:breach', 1, n,
            TIMESTAMPTZ '2026-01-05 09:00:00+00' + make_interval(secs => n),
            json_build_object('target', 'first_response', 'due_at',
                to_char((TIMESTAMPTZ '2026-01-05 09:00:00+00' + make_interval(secs => n))
                    AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"+00:00"')),
            0, TIMESTAMPTZ '2026-01-05 09:00:00+00'
        FROM generate_series(1, {OPEN}) AS n""",
]
PG_CLOSED = [
    f"""INSERT INTO tickets (workspace_id, number, subject, status, priority, source,
            is_external, channel_id, root_ts, created_at, closed_at, sla_state)
        SELECT 1, n, 'Closed ticket ' || n, 'closed', 'normal', 'message', false, 'CSUPPORT',
            n || '.000100', TIMESTAMPTZ '2025-01-01 00:00:00+00',
            TIMESTAMPTZ '2025-01-02 00:00:00+00', 'on_track'
        FROM generate_series({OPEN + 1}, {OPEN + CLOSED}) AS n""",
    *(
        f"""INSERT INTO timers (kind, key, workspace_id, ticket_id, due_at, payload, attempts,
                created_at, done_at)
            SELECT 'sla.{kind}', 'sla:' || n || ':resolution:{kind}', 1, n,
                TIMESTAMPTZ '2025-01-01 12:00:00+00', '{{}}', 0,
                TIMESTAMPTZ '2025-01-01 00:00:00+00', TIMESTAMPTZ '2025-01-01 12:00:00+00'
            FROM generate_series({OPEN + 1}, {OPEN + CLOSED}) AS n"""
        for kind in ("warning", "breach")
    ),
]

# SQLite keeps UTC timestamps as naive text ('YYYY-MM-DD HH:MM:SS.ffffff', see UTCDateTime).
_SERIES = "WITH RECURSIVE s(n) AS (SELECT {first} UNION ALL SELECT n + 1 FROM s WHERE n < {last})"
_AT = "strftime('%Y-%m-%d %H:%M:%S', '2026-01-05 09:00:00', '+' || n || ' seconds')"
SQLITE_OPEN = [
    """INSERT INTO workspaces (slack_team_id, name, time_zone, next_ticket_number)
       VALUES ('TBENCH', 'Bench', 'UTC', 1)""",
    _SERIES.format(first=1, last=OPEN)
    + f"""INSERT INTO tickets (workspace_id, number, subject, status, priority, source,
            requester_user_id, is_external, channel_id, root_ts, triage_channel_id,
            triage_card_ts, created_at, first_response_due_at, sla_state, updated_at)
        SELECT 1, n, 'Open ticket ' || n, 'new', 'normal', 'message', 'U' || n, 0,
            'CSUPPORT', n || '.000100', 'CTRIAGE', n || '.000200',
            '2026-01-05 09:00:00.000000', {_AT} || '.000000', 'on_track',
            '2026-01-05 09:00:00.000000'
        FROM s""",
    _SERIES.format(first=1, last=OPEN)
    + f"""INSERT INTO timers (kind, key, workspace_id, ticket_id, due_at, payload, attempts,
            created_at)
        SELECT 'sla.breach', 'sla:' || n || ':first_response:breach', 1, n,
            {_AT} || '.000000',
            json_object('target', 'first_response', 'due_at',
                replace({_AT}, ' ', 'T') || '+00:00'),
            0, '2026-01-05 09:00:00.000000'
        FROM s""",
]
SQLITE_CLOSED = [
    _SERIES.format(first=OPEN + 1, last=OPEN + CLOSED)
    + """INSERT INTO tickets (workspace_id, number, subject, status, priority, source,
            is_external, channel_id, root_ts, created_at, closed_at, sla_state, updated_at)
        SELECT 1, n, 'Closed ticket ' || n, 'closed', 'normal', 'message', 0, 'CSUPPORT',
            n || '.000100', '2025-01-01 00:00:00.000000', '2025-01-02 00:00:00.000000',
            'on_track', '2025-01-02 00:00:00.000000'
        FROM s""",
    *(
        _SERIES.format(first=OPEN + 1, last=OPEN + CLOSED)
        + f"""INSERT INTO timers (kind, key, workspace_id, ticket_id, due_at, payload,
                attempts, created_at, done_at)
            SELECT 'sla.{kind}', 'sla:' || n || ':resolution:{kind}', 1, n,
                '2025-01-01 12:00:00.000000', '{{}}', 0, '2025-01-01 00:00:00.000000',
                '2025-01-01 12:00:00.000000'
            FROM s"""
        for kind in ("warning", "breach")
    ),
]


async def run_sql(engine: AsyncEngine, statements: list[str]) -> None:
    async with engine.begin() as conn:
        for statement in statements:
            await conn.execute(text(statement))
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text("ANALYZE"))


async def reset_due(engine: AsyncEngine) -> None:
    """Make the first 1,000 tickets' breach timers due and untouched again."""
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE timers SET done_at = NULL, claimed_at = NULL, claimed_by = NULL "
                f"WHERE ticket_id <= {DUE} AND key LIKE '%:first_response:breach'"
            )
        )
        await conn.execute(text(f"UPDATE tickets SET sla_state = 'on_track' WHERE id <= {DUE}"))
        await conn.execute(text("DELETE FROM outbox"))
        await conn.execute(text("DELETE FROM sla_ledger"))


# -- measuring ----------------------------------------------------------------------------------


@dataclass
class Run:
    seconds: float
    cpu_ms_per_timer: float


async def sweep_once(url: str, grouped: bool) -> Run:
    engine = create_engine(url)
    factory = create_session_factory(engine)
    clock = SettableClock(BASE + timedelta(seconds=DUE, milliseconds=500))
    handlers = TimerHandlers()
    register_sla_handlers(handlers)
    settings = TimerSweeperSettings.for_interval(  # as `ticketbot serve` sets it up
        timedelta(seconds=15), sqlite=is_sqlite_url(url), max_rounds=1000
    )
    if not grouped:
        settings = replace(settings, group_size=1)
    sweeper = TimerSweeper(
        session_factory=factory, clock=clock, handlers=handlers, settings=settings
    )
    async with factory() as session:  # connect and warm up outside the timed part
        await session.execute(text("SELECT 1"))
    wall, cpu = time.perf_counter(), time.process_time()
    handled = await sweeper.sweep_until_idle()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    async with factory() as session:
        done = await session.scalar(
            text(f"SELECT count(*) FROM timers WHERE ticket_id <= {DUE} AND done_at IS NOT NULL")
        )
        rows = await session.scalar(text("SELECT count(*) FROM outbox"))
    await engine.dispose()
    if (handled, done, rows) != (DUE, DUE, 2 * DUE):
        raise SystemExit(f"wrong outcome: handled {handled}, done {done}, outbox rows {rows}")
    return Run(wall, cpu * 1000 / handled)


async def compare(engine: AsyncEngine, url: str, label: str, rounds: int) -> dict[bool, float]:
    runs: dict[bool, list[Run]] = {True: [], False: []}
    for _ in range(rounds):
        for grouped in (False, True):  # alternating, so drift hits both alike
            await reset_due(engine)
            runs[grouped].append(await sweep_once(url, grouped))
    medians = {}
    for grouped, name in ((False, "one per transaction"), (True, "grouped")):
        seconds = statistics.median(r.seconds for r in runs[grouped])
        cpu = statistics.median(r.cpu_ms_per_timer for r in runs[grouped])
        medians[grouped] = seconds
        print(
            f"{label:<34} {name:<20} {DUE} timers in {seconds * 1000:6.0f} ms "
            f"({DUE / seconds:5.0f}/s), {cpu:5.2f} ms CPU per timer"
        )
    print(f"{label:<34} grouped / one per transaction: {medians[True] / medians[False]:.2f}")
    return medians


async def bench(kind: str, url: str, rounds: int, history: bool) -> None:
    engine = create_engine(url)
    started = time.perf_counter()
    await run_sql(engine, PG_OPEN if kind == "postgresql" else SQLITE_OPEN)
    seeded = time.perf_counter() - started
    print(f"{kind}: seeded {OPEN:,} open tickets and timers in {seeded:.0f} s")
    small = await compare(engine, url, f"{kind} A: {OPEN:,} open", rounds)
    if history:
        started = time.perf_counter()
        await run_sql(engine, PG_CLOSED if kind == "postgresql" else SQLITE_CLOSED)
        print(
            f"{kind}: seeded {CLOSED:,} closed tickets, {2 * CLOSED:,} done timers "
            f"in {time.perf_counter() - started:.0f} s"
        )
        large = await compare(engine, url, f"{kind} B: 1,000,000 tickets", rounds)
        print(f"{kind} B/A (grouped): {large[True] / small[True]:.2f}")
    await engine.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--postgres-url", default="postgresql+asyncpg://postgres@127.0.0.1:5432/test"
    )
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-history", action="store_true", help="skip the 1,000,000 round")
    args = parser.parse_args()
    if args.only != "postgresql":
        with tempfile.TemporaryDirectory() as folder:
            url = f"sqlite+aiosqlite:///{folder}/bench.db"
            await upgrade_to_head(url)
            await bench("sqlite", url, args.rounds, not args.no_history)
    if args.only != "sqlite":
        import asyncpg

        name = f"ticketbot_bench_{uuid.uuid4().hex[:8]}"
        server = make_url(args.postgres_url)
        dsn = server.set(drivername="postgresql").render_as_string(hide_password=False)
        admin = await asyncpg.connect(dsn)
        await admin.execute(f'CREATE DATABASE "{name}"')
        url = server.set(database=name).render_as_string(hide_password=False)
        try:
            await upgrade_to_head(url)
            await bench("postgresql", url, args.rounds, not args.no_history)
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
