"""How fast the web dashboard's pages answer over 1,000,000 tickets on PostgreSQL.

The database is seeded as `metrics.py` seeds it (one workspace, 8 channels, 12 agents, 60
accounts named on the tickets, N tickets over the last 365 days with their first responses,
resolutions, SLA ledger and CSAT surveys), and its daily rollups built as `serve`'s timer
builds them (timed: what a first start over existing history costs). `ticketbot serve` then
answers each page for a lead whose session cookie is signed as the sign-in would sign it; each
page is fetched `--repeat` times after warm-ups, one at a time, and p50/p99 are printed against
the page budget (300 ms) and against `GET /healthz` in the same run (the cost of a request
that does nothing).

  python bench/dashboard.py --postgres-url postgresql+asyncpg://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import asyncpg
import httpx
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import free_port, percentile, stop_process
from metrics import DEFAULT_POSTGRES, TEAM_ID, TOKEN, dsn, seed, serve_env, start_server

from app.config import Settings
from app.db import create_engine, create_session_factory
from app.reports.metrics import reporting_time_zone
from app.reports.rollups import DAYS_PER_RUN, build_days, days_to_build
from app.schema import upgrade_to_head
from app.slack_emulator import BENCH_EMULATOR, SlackEmulator
from app.web.session import SESSION_COOKIE, SessionSigner

BUDGET_MS = 300.0
LEAD = "ULEADBENCH"
WARM_UPS = 2


def pages(tickets: int) -> list[tuple[str, str]]:
    middle = max(1, tickets // 2)
    return [
        ("queue (open tickets)", "/web/queue"),
        ("queue, urgent and breached", "/web/queue?priority=urgent&sla=breached"),
        ("queue, all statuses, page 1", "/web/queue?status=resolved&status=closed"),
        (f"ticket T-{middle}", f"/web/tickets/{middle}"),
        ("reports, 7 days by channel", "/web/reports?days=7&by=channel"),
        ("reports, 30 days by channel", "/web/reports?days=30&by=channel"),
        ("reports, 30 days by agent", "/web/reports?days=30&by=agent"),
        # 90 days: the previous period is seeded too (a year's previous one is before the seed)
        ("reports, 90 days by account", "/web/reports?days=90&by=account"),
        ("reports, 365 days by account", "/web/reports?days=365&by=account"),
        ("accounts", "/web/accounts"),
        ("testimonials", "/web/testimonials"),
    ]


async def sample(client: httpx.AsyncClient, path: str, repeat: int) -> list[float]:
    samples = []
    for run in range(WARM_UPS + repeat):
        started = time.perf_counter()
        answer = await client.get(path)
        elapsed = time.perf_counter() - started
        if answer.status_code != 200:
            raise SystemExit(f"{path}: HTTP {answer.status_code}: {answer.text[:300]}")
        if run >= WARM_UPS:
            samples.append(elapsed)
    return samples


async def build_rollups(url: str, workspace_id: int, now: datetime) -> tuple[int, float, float]:
    """Every day the reports may read, built in runs as the timer builds them."""
    engine = create_engine(url)
    factory = create_session_factory(engine)
    built, started, cpu = 0, time.perf_counter(), time.process_time()
    try:
        while True:
            async with factory() as session, session.begin():
                zone = await reporting_time_zone(session=session, workspace_id=workspace_id)
                days = await days_to_build(
                    session=session,
                    workspace_id=workspace_id,
                    today=now.astimezone(ZoneInfo(zone)).date(),
                    zone=zone,
                    now=now,
                    limit=DAYS_PER_RUN["postgresql"],
                )
                await build_days(
                    session=session, workspace_id=workspace_id, days=days, zone=zone, now=now
                )
            built += len(days)
            if len(days) < DAYS_PER_RUN["postgresql"]:
                break
    finally:
        await engine.dispose()
    return built, time.perf_counter() - started, time.process_time() - cpu


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES)
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=10, help="timed fetches per page")
    parser.add_argument(
        "--keep",
        metavar="NAME",
        help="seed into database NAME and keep it; if it exists, measure it again unseeded"
        " (its tickets stay as seeded, their ages grow)",
    )
    args = parser.parse_args()
    name = args.keep or f"ticketbot_dashboard_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(dsn(args.postgres_url))
    exists = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
    if not exists:
        await admin.execute(f'CREATE DATABASE "{name}"')
    url = make_url(args.postgres_url).set(database=name).render_as_string(hide_password=False)
    print(f"== web dashboard pages, {args.tickets:,} tickets, PostgreSQL ({name}) ==")
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} (other work slows it)")
    emulator = SlackEmulator(bot_token=TOKEN, team_id=TEAM_ID, **BENCH_EMULATOR)
    try:
        await upgrade_to_head(url)
        now = datetime.now(UTC).replace(microsecond=0)
        if exists:
            workspace_id = await _workspace_id(url)
            print("seeded before: measured as it stands")
        else:
            workspace_id, counts, seconds = await seed(url, args.tickets, now)
            seeded = ", ".join(f"{t} {n:,}" for t, n in counts.items())
            print(f"seeded in {seconds:.1f} s: {seeded}")
        built, wall, cpu = await build_rollups(url, workspace_id, now)
        # As a running install's tables are: vacuumed and analysed, so that autovacuum, woken
        # by the bulk load, does not run during the measurements.
        conn = await asyncpg.connect(dsn(url))
        try:
            await conn.execute("VACUUM ANALYZE")
        finally:
            await conn.close()
        print(
            f"daily rollups built as serve's timer builds them: {built} days in {wall:.1f} s"
            f" ({wall / max(built, 1) * 1000:.0f} ms and {cpu / max(built, 1) * 1000:.0f} ms"
            " of this process's CPU a day)"
        )
        await emulator.start()
        env = {
            **serve_env(url, emulator),
            "SUPPORT_LEADS": LEAD,
            "SLACK_CLIENT_ID": "1.2",
            "SLACK_CLIENT_SECRET": "bench",
        }
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            database_url=url,
            slack_bot_token=TOKEN,
            slack_signing_secret=env["SLACK_SIGNING_SECRET"],
        )
        signer = SessionSigner(settings.web_session_key(), timedelta(hours=12))
        cookie = signer.new_session(
            workspace_id=workspace_id, user_id=LEAD, name="Bench Lead", now=datetime.now(UTC)
        )
        port = free_port()
        with tempfile.TemporaryDirectory(prefix="ticketbot-dashboard-") as workdir:
            log = Path(workdir) / "ticketbot.log"
            process = await start_server(env, port, log)
            try:
                async with httpx.AsyncClient(
                    base_url=f"http://127.0.0.1:{port}",
                    cookies={SESSION_COOKIE: cookie},
                    timeout=60.0,
                ) as client:
                    baseline = await sample(client, "/healthz", args.repeat)
                    base = percentile(baseline, 0.5) * 1000
                    print(f"\n{args.repeat} fetches per page after {WARM_UPS} warm-ups")
                    print(f"  {'page':<34} {'p50 ms':>8} {'p99 ms':>8} {'x healthz':>10} budget")
                    print(f"  {'GET /healthz (baseline)':<34} {base:8.1f}")
                    for label, path in pages(args.tickets):
                        found = await sample(client, path, args.repeat)
                        p50, p99 = percentile(found, 0.5) * 1000, percentile(found, 0.99) * 1000
                        verdict = "met" if p99 < BUDGET_MS else "NOT met"
                        print(f"  {label:<34} {p50:8.1f} {p99:8.1f} {p50 / base:10.1f} {verdict}")
            finally:
                await stop_process(process)
        print(f"\nload average at the end: {os.getloadavg()[0]:.2f}")
    finally:
        await emulator.stop()
        if not args.keep:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def _workspace_id(url: str) -> int:
    conn = await asyncpg.connect(dsn(url))
    try:
        return int(await conn.fetchval("SELECT min(id) FROM workspaces"))
    finally:
        await conn.close()


if __name__ == "__main__":
    asyncio.run(main())
