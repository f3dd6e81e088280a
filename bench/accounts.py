"""Account health at size: every account's daily score recomputed, and the accounts page of the
REST API, over 10,000 accounts and 1,000,000 tickets on PostgreSQL.

One scratch database (created next to the one named, dropped at the end, also on failure) is
migrated and seeded as `bench/metrics.py` seeds it (1,000,000 tickets over the last 365 days
with their SLA ledger and CSAT surveys), plus 10,000 accounts, each ticket given one of them
(by its requester), one customer message per ticket, and departures from channels for 2% of the
requesters; then `VACUUM ANALYZE`.

Timed: `app.accounts.scoring.recompute_health` for the workspace (all 10,000 accounts scored and
their day's rows written, in one transaction; wall time and this process's CPU) against a
baseline in the same run: one `GROUP BY account_id` count over the tickets (the least any
per-account computation must read). Then `GET /api/accounts` (first page of 100, and
`?at_risk=true`) and `GET /api/accounts/{id}` over HTTP through `ticketbot serve`, p50/p99.

  python bench/accounts.py --postgres-url postgresql+asyncpg://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx
from _common import free_port, percentile, stop_process
from metrics import (
    BENCH_EMULATOR,
    DEFAULT_POSTGRES,
    TEAM_ID,
    TOKEN,
    dsn,
    line,
    seed,
    serve_env,
    start_server,
    timed,
)
from sqlalchemy import text
from sqlalchemy.engine import make_url

from app.accounts.scoring import HealthPolicy, recompute_health
from app.apikeys.scopes import Scope
from app.apikeys.service import create_api_key
from app.db import create_engine, create_session_factory
from app.schema import upgrade_to_head
from app.slack_emulator import SlackEmulator

RECOMPUTE_BUDGET_S = 60.0
PAGE_BUDGET_MS = 200.0

ACCOUNTS_SQL = """
INSERT INTO accounts (workspace_id, name, owner_user_id, crm_ids, created_at, updated_at)
SELECT $1, 'Account ' || lpad(n::text, 5, '0'),
    'UCSM' || lpad((n % 40)::text, 2, '0'), '{}', $2, $2
FROM generate_series(1, $3) AS n
"""
# Each ticket belongs to its requester's account (5,000 requesters in the seed: two accounts
# per requester number, so every one of the 10,000 accounts has tickets).
LINK_SQL = """
UPDATE tickets AS t SET account_id = a.id
FROM accounts AS a
WHERE a.workspace_id = t.workspace_id
    AND a.name = 'Account ' || lpad((1 + (substr(t.requester_user_id, 6)::int * 2
        + (t.number % 2)) % $1)::text, 5, '0')
"""
MESSAGES_SQL = """
INSERT INTO ticket_messages (ticket_id, channel_id, ts, author_user_id, author_kind,
    is_internal, text, created_at)
SELECT id, coalesce(channel_id, 'CSUPPORT01'), root_ts, requester_user_id, 'customer', false,
    subject, created_at
FROM tickets
"""
DEPARTURES_SQL = """
INSERT INTO channel_departures (workspace_id, channel_id, user_id, left_at)
SELECT DISTINCT ON (requester_user_id) workspace_id, channel_id, requester_user_id,
    $1::timestamptz - interval '3 days'
FROM tickets
WHERE mod(abs(hashtext(requester_user_id)), 50) = 0 AND channel_id IS NOT NULL
ORDER BY requester_user_id, created_at DESC
"""


async def seed_accounts(url: str, workspace_id: int, accounts: int, now: datetime) -> float:
    conn = await asyncpg.connect(dsn(url))
    started = time.perf_counter()
    try:
        async with conn.transaction():
            await conn.execute(ACCOUNTS_SQL, workspace_id, now, accounts)
            await conn.execute(LINK_SQL, accounts)
            await conn.execute(MESSAGES_SQL)
            await conn.execute(DEPARTURES_SQL, now)
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()
    return time.perf_counter() - started


async def measure_recompute(url: str, workspace_id: int, now: datetime, rounds: int) -> None:
    engine = create_engine(url)
    factory = create_session_factory(engine)
    policy = HealthPolicy()
    try:
        for round_ in range(1, rounds + 1):
            async with factory() as session, session.begin():
                started, cpu = time.perf_counter(), time.process_time()
                await session.execute(
                    text("SELECT account_id, count(*) FROM tickets GROUP BY account_id")
                )
                base_wall, base_cpu = time.perf_counter() - started, time.process_time() - cpu
            async with factory() as session, session.begin():
                started, cpu = time.perf_counter(), time.process_time()
                scored = await recompute_health(
                    session=session, workspace_id=workspace_id, now=now, zone="UTC", policy=policy
                )
                wall, used = time.perf_counter() - started, time.process_time() - cpu
            at_risk = sum(1 for item in scored if policy.at_risk(item.health.score, None))
            print(
                f"  round {round_}: {len(scored):,} accounts scored in {wall:.2f} s"
                f" (this process's CPU {used:.2f} s, {used / len(scored) * 1000:.3f} ms an"
                f" account); baseline GROUP BY {base_wall:.2f} s (CPU {base_cpu:.3f} s):"
                f" ratio {wall / base_wall:.1f}x; {at_risk:,} at risk"
                f" -> under {RECOMPUTE_BUDGET_S:.0f} s: {_yes(wall < RECOMPUTE_BUDGET_S)}",
                flush=True,
            )
    finally:
        await engine.dispose()


async def measure_http(url: str, now: datetime, repeat: int) -> dict[str, list[float]]:
    engine = create_engine(url)
    async with create_session_factory(engine)() as session, session.begin():
        key = (
            await create_api_key(
                session=session, name="bench", scopes=[Scope.ACCOUNTS_READ], now=now
            )
        ).token
        some = await session.scalar(text("SELECT min(id) FROM accounts"))
    await engine.dispose()
    emulator = SlackEmulator(bot_token=TOKEN, team_id=TEAM_ID, **BENCH_EMULATOR)
    await emulator.start()
    port = free_port()
    env = serve_env(url, emulator)
    found: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="ticketbot-accounts-") as workdir:
        log = Path(workdir) / "ticketbot.log"
        process = await start_server(env, port, log)
        try:
            async with httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{port}",
                headers={"Authorization": f"Bearer {key}"},
                timeout=30.0,
            ) as client:
                for label, path in (
                    ("GET /api/accounts", "/api/accounts"),
                    ("GET /api/accounts?at_risk=true", "/api/accounts?at_risk=true"),
                    ("GET /api/accounts/{id}", f"/api/accounts/{some}"),
                ):

                    async def get(path: str = path) -> None:
                        answer = await client.get(path)
                        if answer.status_code != 200:
                            raise SystemExit(f"HTTP {answer.status_code}: {answer.text[:300]}")

                    found[label], _ = await timed(get, repeat)
        finally:
            await stop_process(process)
            await emulator.stop()
    return found


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES)
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=2, help="recomputations timed")
    parser.add_argument("--repeat", type=int, default=20, help="timed requests per page")
    args = parser.parse_args()
    name = f"ticketbot_accounts_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(dsn(args.postgres_url))
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = make_url(args.postgres_url).set(database=name).render_as_string(hide_password=False)
    print(f"== account health, {args.accounts:,} accounts, {args.tickets:,} tickets, PostgreSQL ==")
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} (other work slows it)")
    try:
        await upgrade_to_head(url)
        now = datetime.now(UTC).replace(microsecond=0)
        workspace_id, counts, seconds = await seed(url, args.tickets, now)
        print(
            f"seeded tickets in {seconds:.1f} s: "
            + ", ".join(f"{t} {n:,}" for t, n in counts.items())
        )
        seconds = await seed_accounts(url, workspace_id, args.accounts, now)
        print(f"seeded accounts, messages and departures in {seconds:.1f} s", flush=True)
        print("\nrecompute_health (every account of the workspace, one transaction):")
        await measure_recompute(url, workspace_id, now, args.rounds)
        http = await measure_http(url, now, args.repeat)
        print("\nthe accounts API over HTTP (ticketbot serve, one worker):")
        print(f"  {'request':<30} {'p50 ms':>8} {'p99 ms':>8}")
        for label, samples in http.items():
            print(line(label, samples))
        worst = max(percentile(samples, 0.99) * 1000 for samples in http.values())
        verdict = "yes" if worst < PAGE_BUDGET_MS else "NO"
        print(
            f"\naccounts pages under {PAGE_BUDGET_MS:.0f} ms at p99: {verdict}"
            f" (worst {worst:.1f} ms)"
        )
        print(f"load average at the end: {os.getloadavg()[0]:.2f}")
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def _yes(met: bool) -> str:
    return "yes" if met else "NO"


if __name__ == "__main__":
    asyncio.run(main())
