"""How fast `/ticket` slash commands answer with 100,000 tickets on PostgreSQL.

Slack waits 3 seconds for the answer to a slash command; ticketbot answers with the command's
result (its database work runs before the ack), so every command must fit in that budget.

One scratch database (created next to the one named, dropped at the end) is seeded in bulk:
one workspace, a lead and ten agents, eight watched channels, N tickets over the last 180 days
(~10% active: new/open/waiting on the customer, all priorities, some unassigned, on track, at
risk or breached; the rest resolved or closed), their SLA ledger, and CSAT surveys for ~20% of
the tickets resolved in the last 90 days. Then `ticketbot serve` runs as one uvicorn worker in
its own process, against the Slack emulator running in this one, and gets signed `/ticket`
commands one at a time (latency, not throughput), as the lead and as an agent. Each answer
must be an HTTP 200 whose text is the expected one (list totals are checked against the
database). Baseline, in the same run: `/ticket help`, which does no database work.

  python bench/commands.py --postgres-url postgresql+asyncpg://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ROOT, free_port, percentile, python, stop_process

from app.schema import upgrade_to_head
from app.slack_emulator import BENCH_EMULATOR, SlackEmulator, SlackSender

SECRET = "bench-signing-secret"
TOKEN = "xoxb-bench"
TEAM_ID = "T0001"  # the emulator's team: `serve` finds the seeded workspace by it at start-up
TRIAGE = "CTRIAGE"
LEAD = "ULEAD0001"
AGENTS = [f"UAGENT{i:02d}" for i in range(1, 11)]
CHANNELS = [f"CSUPPORT{i:02d}" for i in range(1, 9)]
DEFAULT_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
SLACK_BUDGET_MS = 3000.0
WARM_UPS = 2


def dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


# -- seeding ----------------------------------------------------------------------------------


def _h(salt: str, modulus: int, of: str = "n") -> str:
    """A deterministic pseudo-random 0..modulus-1 per row (the same data on every run)."""
    return f"mod(abs(hashtext('{salt}' || {of})::bigint), {modulus})::int"


# $1: now, $2: the number of tickets, $3: the workspace id. Ticket numbers follow creation
# time. Tickets of the last 30 days are active at 45%, older ones at 2.5% (a stale backlog):
# ~10% in all. Channel 1 is the busiest; 40% of requesters are external (60 accounts).
TICKETS_SQL = f"""
WITH base AS (
    SELECT n,
        $1::timestamptz - make_interval(secs => 15552000.0 * ($2 - n) / $2 + 60) AS created_at,
        {_h("a", 1000)} AS r_active, {_h("p", 100)} AS r_priority, {_h("s", 100)} AS r_status,
        {_h("c", 100)} AS r_channel, {_h("g", 100)} AS r_agent, {_h("q", 100)} AS r_sla,
        {_h("u", 5000)} AS customer, 5 + {_h("f", 235)} AS response_minutes,
        20 + {_h("r", 4300)} AS resolve_minutes
    FROM generate_series(1, $2) AS n
), shaped AS (
    SELECT b.*,
        CASE WHEN b.created_at > $1::timestamptz - interval '30 days'
            THEN b.r_active < 450 ELSE b.r_active < 25 END AS active,
        CASE WHEN r_priority < 10 THEN 'urgent' WHEN r_priority < 30 THEN 'high'
            WHEN r_priority < 85 THEN 'normal' ELSE 'low' END AS priority,
        'CSUPPORT0' || CASE WHEN r_channel < 30 THEN 1 WHEN r_channel < 50 THEN 2
            WHEN r_channel < 65 THEN 3 WHEN r_channel < 77 THEN 4 WHEN r_channel < 86 THEN 5
            WHEN r_channel < 93 THEN 6 WHEN r_channel < 97 THEN 7 ELSE 8 END AS channel_id,
        customer % 5 < 2 AS external,
        (ARRAY['Acme', 'Globex', 'Initech', 'Umbrella', 'Hooli', 'Stark', 'Wayne', 'Wonka',
            'Tyrell', 'Soylent'])[1 + customer % 10] || ' ' || (1 + (customer / 10) % 6)
            AS account
    FROM base AS b
), stated AS (
    SELECT s.*,
        CASE WHEN NOT active THEN NULL WHEN r_status < 35 THEN 'new'
            WHEN r_status < 75 THEN 'open' ELSE 'waiting_on_customer' END AS active_status,
        CASE WHEN active AND r_agent < 25 THEN NULL WHEN NOT active AND r_agent < 3 THEN NULL
            WHEN r_agent % 11 = 0 THEN '{LEAD}'
            ELSE 'UAGENT' || lpad((r_agent % 11)::text, 2, '0') END AS assignee,
        CASE priority WHEN 'urgent' THEN 30 WHEN 'high' THEN 60 WHEN 'normal' THEN 240
            ELSE 480 END AS response_target,
        CASE priority WHEN 'urgent' THEN 480 WHEN 'high' THEN 1440 WHEN 'normal' THEN 4320
            ELSE 7200 END AS resolution_target,
        least(created_at + make_interval(mins => response_minutes + resolve_minutes),
            $1::timestamptz - interval '30 seconds') AS resolved
    FROM shaped AS s
), timed AS (
    SELECT t.*,
        CASE WHEN active_status = 'new' THEN NULL
            ELSE least(created_at + make_interval(mins => response_minutes), resolved)
            END AS first_response_at,
        CASE WHEN active THEN NULL ELSE resolved END AS resolved_at,
        CASE WHEN NOT active AND resolved + interval '7 days' < $1::timestamptz
            THEN resolved + interval '7 days' END AS closed_at,
        extract(epoch FROM created_at)::bigint AS epoch, lpad((n % 1000000)::text, 6, '0') AS seq
    FROM stated AS t
)
INSERT INTO tickets (workspace_id, number, subject, status, priority, source,
    requester_user_id, requester_team_id, is_external, account_name, assignee_user_id,
    channel_id, root_ts, permalink, triage_channel_id, triage_card_ts,
    first_response_due_at, next_response_due_at, resolution_due_at, sla_state,
    created_at, updated_at, first_response_at, last_customer_message_at, resolved_at,
    closed_at)
SELECT $3, n,
    (ARRAY['Order ', 'Invoice ', 'Login problem on account ', 'Export failed for job ',
        'Webhook retries for endpoint '])[1 + n % 5] || n || ' needs a look',
    coalesce(active_status, CASE WHEN closed_at IS NULL THEN 'resolved' ELSE 'closed' END),
    priority, 'message',
    'UCUST' || lpad(customer::text, 5, '0'),
    CASE WHEN external THEN 'TEXT' || lpad((customer % 60)::text, 3, '0') ELSE '{TEAM_ID}' END,
    external, CASE WHEN external THEN account END, assignee,
    channel_id, epoch || '.' || seq,
    'https://acme.slack.com/archives/' || channel_id || '/p' || epoch || seq,
    '{TRIAGE}', epoch + 1 || '.' || seq,
    CASE WHEN active_status = 'new' THEN created_at + make_interval(mins => response_target) END,
    NULL,
    CASE WHEN active_status IN ('new', 'open')
        THEN created_at + make_interval(mins => resolution_target) END,
    CASE WHEN active THEN (CASE WHEN r_sla < 65 THEN 'on_track' WHEN r_sla < 83 THEN 'at_risk'
        ELSE 'breached' END) WHEN r_sla < 88 THEN 'on_track' ELSE 'breached' END,
    created_at, coalesce(closed_at, resolved_at, first_response_at, created_at),
    first_response_at, created_at, resolved_at, closed_at
FROM timed
"""

# Every ticket's first response and resolution clocks started when it was opened; answered
# tickets met (or missed) the first one, resolved tickets the second; breached new tickets
# have their breach. Ids follow the ticket and time, as they would have been written.
LEDGER_SQL = """
WITH targets AS (
    SELECT id, created_at, first_response_at, resolved_at, status, sla_state,
        created_at + CASE priority WHEN 'urgent' THEN interval '30 minutes'
            WHEN 'high' THEN interval '1 hour' WHEN 'normal' THEN interval '4 hours'
            ELSE interval '8 hours' END AS response_due,
        created_at + CASE priority WHEN 'urgent' THEN interval '8 hours'
            WHEN 'high' THEN interval '1 day' WHEN 'normal' THEN interval '3 days'
            ELSE interval '5 days' END AS resolution_due
    FROM tickets
)
INSERT INTO sla_ledger (ticket_id, target, kind, due_at, started_at, reason, at)
SELECT t.id, e.target, e.kind, e.due_at, e.started_at, e.reason, e.at
FROM targets AS t
CROSS JOIN LATERAL (VALUES
    ('first_response', 'started', t.response_due, t.created_at, 'ticket opened', t.created_at),
    ('resolution', 'started', t.resolution_due, t.created_at, 'ticket opened', t.created_at),
    ('first_response',
        CASE WHEN t.first_response_at <= t.response_due THEN 'met' ELSE 'met_late' END,
        t.response_due, NULL, 'agent replied', t.first_response_at),
    ('first_response', 'breached', t.response_due, NULL, '',
        CASE WHEN t.status = 'new' AND t.sla_state = 'breached' THEN t.response_due END),
    ('resolution',
        CASE WHEN t.resolved_at <= t.resolution_due THEN 'met' ELSE 'met_late' END,
        t.resolution_due, NULL, 'resolved', t.resolved_at)
) AS e (target, kind, due_at, started_at, reason, at)
WHERE e.at IS NOT NULL
ORDER BY t.id, e.at
"""

# ~20% of the tickets resolved in the last 90 days were asked to rate, 10 minutes after the
# resolution; 35% of those never answered; the rest rated mostly 4 and 5. Surveys older than a
# week expired; one resolved in the last 10 minutes is still scheduled.
CSAT_SQL = f"""
WITH asked AS (
    SELECT t.*, t.resolved_at + interval '10 minutes' AS prompt_at,
        {_h("k", 100, "t.number")} AS r_rating
    FROM tickets AS t
    WHERE t.resolved_at >= $1::timestamptz - interval '90 days'
        AND {_h("v", 100, "t.number")} < 20
), rated AS (
    SELECT a.*,
        CASE WHEN a.prompt_at > $1::timestamptz THEN NULL ELSE a.prompt_at END AS sent,
        CASE WHEN a.prompt_at > $1::timestamptz OR r_rating < 35 THEN NULL
            WHEN r_rating < 43 THEN 1 WHEN r_rating < 51 THEN 2 WHEN r_rating < 61 THEN 3
            WHEN r_rating < 80 THEN 4 ELSE 5 END AS rating
    FROM asked AS a
)
INSERT INTO csat_surveys (workspace_id, ticket_id, status, requester_user_id, channel_id,
    thread_ts, prompt_ts, assignee_user_id, account_name, is_external, resolved_at, send_at,
    sent_at, reminded_at, expires_at, closed_at, rating, rated_at, comment, created_at)
SELECT workspace_id, id,
    CASE WHEN sent IS NULL THEN 'scheduled'
        WHEN sent + interval '7 days' < $1::timestamptz THEN 'expired' ELSE 'sent' END,
    requester_user_id, channel_id, root_ts,
    CASE WHEN sent IS NOT NULL THEN extract(epoch FROM sent)::bigint || '.000900' END,
    assignee_user_id, account_name, is_external, resolved_at, prompt_at, sent,
    CASE WHEN rating IS NULL AND sent + interval '1 day' < $1::timestamptz
        THEN sent + interval '1 day' END,
    sent + interval '7 days',
    CASE WHEN sent + interval '7 days' < $1::timestamptz THEN sent + interval '7 days' END,
    rating,
    CASE WHEN rating IS NOT NULL
        THEN least(sent + make_interval(mins => 1 + r_rating), $1::timestamptz) END,
    CASE WHEN rating <= 2 THEN 'It took days to get an answer.' END,
    resolved_at
FROM rated
"""


@dataclass
class Seeded:
    workspace_id: int
    counts: dict[str, int]
    seconds: float
    totals: dict[str, int] = field(default_factory=dict)  # the expected list totals


async def seed(url: str, tickets: int) -> Seeded:
    conn = await asyncpg.connect(dsn(url))
    try:
        started = time.perf_counter()
        now = datetime.now(UTC)
        async with conn.transaction():
            workspace_id = await conn.fetchval(
                "INSERT INTO workspaces (slack_team_id, name, bot_user_id, triage_channel_id,"
                " time_zone, next_ticket_number) VALUES ($1, 'Acme Support', 'UBOT', $2, 'UTC',"
                " $3) RETURNING id",
                TEAM_ID,
                TRIAGE,
                tickets + 1,
            )
            await conn.executemany(
                "INSERT INTO team_members (workspace_id, slack_user_id, role, added_by)"
                " VALUES ($1, $2, $3, 'bench')",
                [(workspace_id, LEAD, "lead")] + [(workspace_id, a, "agent") for a in AGENTS],
            )
            await conn.executemany(
                "INSERT INTO watched_channels (workspace_id, slack_channel_id, name, added_by)"
                " VALUES ($1, $2, $3, $4)",
                [(workspace_id, c, f"support-{i}", LEAD) for i, c in enumerate(CHANNELS, 1)],
            )
            await conn.execute(TICKETS_SQL, now, tickets, workspace_id)
            await conn.execute(LEDGER_SQL)
            await conn.execute(CSAT_SQL, now)
        # As autovacuum would leave it (and so it does not start in the middle of a run).
        await conn.execute("VACUUM ANALYZE")
        seconds = time.perf_counter() - started
        counts = {}
        for table in ("workspaces", "team_members", "watched_channels", "tickets"):
            counts[table] = await conn.fetchval(f"SELECT count(*) FROM {table}")
        counts["active tickets"] = await conn.fetchval(
            "SELECT count(*) FROM tickets WHERE status IN ('new', 'open', 'waiting_on_customer')"
        )
        counts["sla_ledger"] = await conn.fetchval("SELECT count(*) FROM sla_ledger")
        counts["csat_surveys"] = await conn.fetchval("SELECT count(*) FROM csat_surveys")
        counts["rated"] = await conn.fetchval(
            "SELECT count(*) FROM csat_surveys WHERE rating IS NOT NULL"
        )
        active = "status IN ('new', 'open', 'waiting_on_customer')"
        totals = {
            "open": counts["active tickets"],
            "unassigned": await conn.fetchval(
                f"SELECT count(*) FROM tickets WHERE {active} AND assignee_user_id IS NULL"
            ),
            "breaching": await conn.fetchval(
                f"SELECT count(*) FROM tickets WHERE {active}"
                " AND sla_state IN ('at_risk', 'breached')"
            ),
            "channel": await conn.fetchval(
                f"SELECT count(*) FROM tickets WHERE {active} AND channel_id = $1", CHANNELS[0]
            ),
        }
        for user in (LEAD, AGENTS[0]):
            totals[f"mine:{user}"] = await conn.fetchval(
                f"SELECT count(*) FROM tickets WHERE {active} AND assignee_user_id = $1", user
            )
        return Seeded(workspace_id, counts, seconds, totals)
    finally:
        await conn.close()


# -- the commands -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Probe:
    name: str
    text: str
    expect: str  # the answer's text starts with this (list: the exact total)


def probes(seeded: Seeded, user: str, tickets: int) -> list[Probe]:
    totals = seeded.totals

    def listed(title: str, total: int) -> str:
        return f"{title}: {total}" if total else f"{title}: none"

    channel = CHANNELS[0]
    middle = max(1, tickets // 2)
    return [
        Probe("help", "help", "*Usage:*"),
        Probe("list", "list", listed("Open tickets", totals["open"])),
        Probe(
            "list unassigned",
            "list unassigned",
            listed("Unassigned tickets", totals["unassigned"]),
        ),
        Probe(
            "list breaching",
            "list breaching",
            listed("Tickets at risk or breached", totals["breaching"]),
        ),
        Probe("list mine", "list mine", listed("Your open tickets", totals[f"mine:{user}"])),
        Probe("list page=200", "list page=200", listed("Open tickets", totals["open"])),
        Probe(
            "list #channel",
            f"list <#{channel}|support-1>",
            listed(f"Open tickets in <#{channel}>", totals["channel"]),
        ),
        Probe(f"show T-{middle}", f"show T-{middle}", f"*T-{middle}* · "),
        Probe("stats", "stats", "*Support stats, last 7 days*"),
        Probe("stats 30d", "stats 30d", "*Support stats, last 30 days*"),
        Probe("stats 90d", "stats 90d", "*Support stats, last 90 days*"),
        Probe("csat", "csat", "*CSAT* is "),
        Probe("sla", "sla", "*SLA targets*"),
    ]


@dataclass
class Timing:
    probe: Probe
    user: str
    latencies: list[float] = field(default_factory=list)  # seconds
    wrong: int = 0
    sample: str = ""


class WrongAnswer(Exception):
    pass


async def ask(sender: SlackSender, probe: Probe, user: str) -> tuple[float, str]:
    """Send the command; the latency, and the answer if it is the expected one."""
    started = time.perf_counter()
    answer = await sender.send_command(
        probe.text, user_id=user, channel_id=CHANNELS[0], channel_name="support-1"
    )
    elapsed = time.perf_counter() - started
    if answer.status_code != 200:
        raise WrongAnswer(f"HTTP {answer.status_code}: {answer.text[:300]}")
    try:
        body: dict[str, Any] = answer.json()
    except ValueError:
        raise WrongAnswer(f"not JSON: {answer.text[:300]!r}") from None
    text = body.get("text") or ""
    if not text.startswith(probe.expect):
        raise WrongAnswer(f"expected {probe.expect!r}..., got {text[:300]!r}")
    shown = text
    blocks = body.get("blocks") or []
    if blocks and blocks[0].get("type") == "section":  # a list: its header says which page
        shown = blocks[0]["text"]["text"]
    return elapsed, shown


async def run_commands(
    base_url: str, seeded: Seeded, tickets: int, repeat: int
) -> list[list[Timing]]:
    """Warm-ups, then `repeat` rounds of every command as each user, one request at a time."""
    users = [("lead", LEAD), ("agent", AGENTS[0])]
    grid = [
        [Timing(probe, role) for probe in probes(seeded, user, tickets)] for role, user in users
    ]
    async with (
        httpx.AsyncClient(timeout=30.0) as client,
        SlackSender(base_url, SECRET, team_id=TEAM_ID, client=client) as sender,
    ):
        for (_, user), row in zip(users, grid, strict=True):
            for timing in row:
                for _ in range(WARM_UPS):
                    try:
                        _, timing.sample = await ask(sender, timing.probe, user)
                    except WrongAnswer as exc:
                        raise SystemExit(
                            f"/ticket {timing.probe.text} as {timing.user}: {exc}"
                        ) from None
        # Rounds, so that anything slow in the machine falls on every command alike.
        for _ in range(repeat):
            for (_, user), row in zip(users, grid, strict=True):
                for timing in row:
                    try:
                        elapsed, _ = await ask(sender, timing.probe, user)
                    except WrongAnswer as exc:
                        timing.wrong += 1
                        print(f"  wrong answer to /ticket {timing.probe.text}: {exc}", flush=True)
                        continue
                    timing.latencies.append(elapsed)
    return grid


# -- the server -------------------------------------------------------------------------------


async def start_server(env: dict[str, str], port: int, log: Path) -> asyncio.subprocess.Process:
    args = [python(), "-m", "app.cli", "serve", "--no-migrate", "--host", "127.0.0.1"]
    with log.open("wb") as stderr:
        process = await asyncio.create_subprocess_exec(
            *args,
            "--port",
            str(port),
            env={**os.environ, **env},
            cwd=ROOT,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=stderr,
        )
    deadline = time.monotonic() + 30
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline and process.returncode is None:
            with contextlib.suppress(httpx.TransportError):
                if (await client.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200:
                    return process
            await asyncio.sleep(0.1)
    process.kill()
    raise SystemExit(f"ticketbot serve did not start on port {port}; see {log}")


async def measure(url: str, seeded: Seeded, tickets: int, repeat: int) -> None:
    # Throughput, not Slack's pacing or payload checks (the test suite holds those).
    emulator = SlackEmulator(bot_token=TOKEN, team_id=TEAM_ID, **BENCH_EMULATOR)
    await emulator.start()
    port = free_port()
    env = {
        "DATABASE_URL": url,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_API_URL": emulator.api_url,
        "SLACK_PACING": "false",  # the emulator runs without rate limits: BENCH_EMULATOR
        "TRIAGE_CHANNEL_ID": TRIAGE,
        "SUPPORT_LEADS": LEAD,
        "DIGEST_HOUR": "-1",  # no daily digest going out in the middle of a run
        "LOG_LEVEL": "WARNING",
    }
    workdir = Path(tempfile.mkdtemp(prefix="ticketbot-commands-"))  # kept if the run fails
    log = workdir / "ticketbot.log"
    try:
        process = await start_server(env, port, log)
        try:
            grid = await run_commands(f"http://127.0.0.1:{port}", seeded, tickets, repeat)
        except (SystemExit, httpx.HTTPError) as exc:
            problem = exc if isinstance(exc, SystemExit) else repr(exc)
            raise SystemExit(f"{problem}\n(ticketbot's log: {log})") from None
        finally:
            await stop_process(process)
    finally:
        await emulator.stop()
    if report(grid, repeat):
        shutil.rmtree(workdir, ignore_errors=True)
    else:
        print(f"(ticketbot's log: {log})")


def report(grid: list[list[Timing]], repeat: int) -> bool:
    """Print the answers and the latencies; whether every answer was the expected one."""
    print("\nanswers (the lead's, first 100 characters):")
    for timing in grid[0]:
        shown = " / ".join(timing.sample.splitlines())
        print(f"  {timing.probe.name:<16} {shown[:100]}")
    print(
        f"\n{repeat} timed requests per command and user, one at a time, after {WARM_UPS}"
        " warm-ups; latency = request sent to answer read"
    )
    print(
        f"  {'command':<16} {'user':<6} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}"
        f" {'p50/help':>9}  wrong"
    )
    worst: tuple[float, str] = (0.0, "")
    every_answered = True
    for row in grid:
        help_p50 = percentile(row[0].latencies, 0.50)
        for timing in row:
            values = timing.latencies
            if not values:
                every_answered = False
                print(f"  {timing.probe.name:<16} {timing.user:<6} no right answers")
                continue
            p50, top = percentile(values, 0.50), max(values)
            print(
                f"  {timing.probe.name:<16} {timing.user:<6} {p50 * 1000:8.1f}"
                f" {percentile(values, 0.99) * 1000:8.1f} {top * 1000:8.1f}"
                f" {p50 / help_p50:9.1f}  {timing.wrong}"
            )
            every_answered = every_answered and not timing.wrong
            if top > worst[0]:
                worst = (top, f"{timing.probe.name} as {timing.user}")
    under = worst[0] * 1000 < SLACK_BUDGET_MS
    print(
        f"every max under {SLACK_BUDGET_MS:,.0f} ms: {'yes' if under else 'NO'}"
        f" (slowest: {worst[1]}, {worst[0] * 1000:.1f} ms)"
        + ("" if every_answered else "; some answers were wrong, see above")
    )
    return every_answered


# -- main -------------------------------------------------------------------------------------


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--postgres-url",
        default=DEFAULT_POSTGRES,
        help="a server to create (and drop) the scratch database in; default %(default)s",
    )
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=30, help="timed requests per command")
    args = parser.parse_args()
    if args.tickets < 1 or args.repeat < 1:
        parser.error("--tickets and --repeat must be at least 1")
    name = f"ticketbot_commands_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(dsn(args.postgres_url))
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = make_url(args.postgres_url).set(database=name).render_as_string(hide_password=False)
    print(
        f"== /ticket commands, {args.tickets:,} tickets, PostgreSQL (scratch database) ==",
        flush=True,
    )
    try:
        started = time.perf_counter()
        await upgrade_to_head(url)
        print(f"migrated in {time.perf_counter() - started:.1f} s", flush=True)
        seeded = await seed(url, args.tickets)
        counts = ", ".join(f"{table} {n:,}" for table, n in seeded.counts.items())
        print(f"seeded in {seeded.seconds:.1f} s (with VACUUM ANALYZE): {counts}", flush=True)
        await measure(url, seeded, args.tickets, args.repeat)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    try:
        import uvloop
    except ImportError:
        asyncio.run(main())
    else:
        uvloop.run(main())
