"""New tickets per second: signed customer messages into `ticketbot serve`, open loop, by rate.

Every event is a new top-level message from a new customer in a watched channel, so each one
opens a ticket (ticket, first message, audit event, triage card and auto-reply outbox rows),
committed before Slack gets its 200. The load is open loop: requests go out at the target
rate whether or not earlier ones were answered, and a request's latency runs from the moment
it was due, so a server that falls behind shows it. Rates double (50, 100, 200, ... per
second, a few seconds each) until the achieved rate stops keeping up or p99 explodes; the
best achieved rate is the saturation rate. A last step at half of it gives the latencies.

Baseline, measured in the same run with the same load: a Bolt app whose listener inserts one
row in one transaction (bench/_baseline_ingest.py). Both run as one uvicorn worker in their own
process, each on a fresh scratch database (SQLite file, or a PostgreSQL database created and
dropped here). ticketbot's Slack API is the emulator, running in this process.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ROOT, free_port, percentile, python, stop_process, uvicorn_args

from app.db import create_engine, create_session_factory
from app.outbox.enums import OutboxStatus
from app.outbox.models import OutboxMessage
from app.schema import upgrade_to_head
from app.slack_emulator import (
    BENCH_EMULATOR,
    SlackEmulator,
    message_event,
    next_ts,
    slack_signature,
)
from app.tickets.models import Ticket
from app.workspaces.models import WatchedChannel, Workspace

SECRET = "bench-signing-secret"
TOKEN = "xoxb-bench"
TEAM_ID = "T0001"
CHANNEL = "CBENCH"
TRIAGE = "CTRIAGE"
DEFAULT_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"

RATES = (50, 100, 200, 400, 800, 1600, 3200)
STEP_SECONDS = 3.0
HALF_LOAD_SECONDS = 5.0
WARM_UP_EVENTS = 100
MAX_IN_FLIGHT = 256  # client connections; requests beyond wait (and their wait counts)
KEEPS_UP = 0.9  # achieved/target below this: saturated
P99_EXPLODED_MS = 500.0
OUTBOX_DRAIN_SECONDS = 30.0

TARGET_RATIO = 0.7
TARGET_P99_MS = 50.0


@dataclass
class Step:
    target: float
    sent: int
    accepted: int
    achieved: float
    p50_ms: float
    p99_ms: float
    late_p99_ms: float  # how late the generator itself sent (should stay near 0)
    errors: dict[str, int] = field(default_factory=dict)  # non-200 answers, failed requests

    @property
    def failed(self) -> int:
        return self.sent - self.accepted

    def line(self, name: str) -> str:
        return (
            f"  {name:<10} {self.target:>6.0f}/s -> {self.achieved:>6.0f}/s"
            f"   p50 {self.p50_ms:7.1f} ms   p99 {self.p99_ms:7.1f} ms"
            f"   non-200 {self.failed:>4}   sender late p99 {self.late_p99_ms:5.1f} ms"
            + (f"   {self.errors}" if self.errors else "")
        )


@dataclass
class Result:
    name: str
    steps: list[Step]
    saturation: float
    half: Step
    accepted: int
    stored: int
    cpu_ms_per_event: float  # the server's own CPU over the half-load step and its drain


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU the process has used (/proc/<pid>/stat): steady on a busy machine,
    where wall-clock rates are not."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Events:
    """Pre-signed Events API requests, each a new customer's first message in the channel."""

    def __init__(self) -> None:
        self._n = 0

    def batch(self, count: int) -> list[tuple[bytes, dict[str, str]]]:
        timestamp = str(int(time.time()))
        requests = []
        for _ in range(count):
            self._n += 1
            envelope = {
                "token": "unused",
                "team_id": TEAM_ID,
                "api_app_id": "A0001",
                "type": "event_callback",
                "event_id": f"Ev{uuid.uuid4().hex[:20].upper()}",
                "event_time": int(timestamp),
                "event": message_event(
                    CHANNEL,
                    f"U{self._n:09d}",
                    f"Order {self._n} was charged twice, can you refund one of them?",
                    ts=next_ts(),
                    team=TEAM_ID,
                ),
            }
            body = json.dumps(envelope).encode()
            headers = {
                "Content-Type": "application/json",
                "X-Slack-Request-Timestamp": timestamp,
                "X-Slack-Signature": slack_signature(SECRET, timestamp, body),
            }
            requests.append((body, headers))
        return requests


async def open_loop(url: str, events: Events, rate: float, seconds: float) -> Step:
    """Send `rate` requests a second for `seconds`, on schedule, whatever the answers do."""
    requests = events.batch(max(1, round(rate * seconds)))
    latencies: list[float] = []
    lateness: list[float] = []
    errors: Counter[str] = Counter()
    # Fresh connections each step: none left idle long enough for the server to close it
    # just as it is reused (which would count as a failure that is not the server's).
    connector = aiohttp.TCPConnector(limit=MAX_IN_FLIGHT)
    timeout = aiohttp.ClientTimeout(total=60)

    async def one(client: aiohttp.ClientSession, due: float, body: bytes, headers: Any) -> None:
        lateness.append(time.perf_counter() - due)
        try:
            async with client.post(url, data=body, headers=headers) as answer:
                await answer.read()
                if answer.status != 200:
                    errors[f"HTTP {answer.status}"] += 1
        except (aiohttp.ClientError, TimeoutError) as exc:
            errors[type(exc).__name__] += 1
        latencies.append(time.perf_counter() - due)

    # The emulator in this process keeps every call it answers: keep the garbage collector's
    # full passes over that from pausing the sender.
    gc.collect()
    gc.freeze()
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as client:
        # perf_counter, not loop.time(): uvloop's clock ticks in whole milliseconds.
        start = time.perf_counter() + 0.05
        tasks = []
        for i, (body, headers) in enumerate(requests):
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(client, due, body, headers)))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - start
    accepted = len(requests) - sum(errors.values())
    return Step(
        target=rate,
        sent=len(requests),
        accepted=accepted,
        achieved=accepted / elapsed,
        p50_ms=percentile(latencies, 0.50) * 1000,
        p99_ms=percentile(latencies, 0.99) * 1000,
        late_p99_ms=percentile(lateness, 0.99) * 1000,
        errors=dict(errors),
    )


async def measure(
    name: str,
    url: str,
    *,
    between_steps: Callable[[], Any],
    stored: Callable[[], Any],
    pid: int,
) -> Result:
    events = Events()
    warm_up = await open_loop(url, events, 50, WARM_UP_EVENTS / 50)
    accepted = warm_up.accepted
    if warm_up.failed:
        raise SystemExit(f"{name}: warm-up events refused: {warm_up.errors}")
    await between_steps()
    steps: list[Step] = []
    for rate in RATES:
        step = await open_loop(url, events, rate, STEP_SECONDS)
        accepted += step.accepted
        steps.append(step)
        print(step.line(name), flush=True)
        await between_steps()
        if step.achieved < KEEPS_UP * rate or step.p99_ms > P99_EXPLODED_MS:
            break
    saturation = max(step.achieved for step in steps)
    cpu = process_cpu_seconds(pid)
    half = await open_loop(url, events, saturation / 2, HALF_LOAD_SECONDS)
    accepted += half.accepted
    await between_steps()  # ticketbot: the step's Slack calls, owed by those same events
    cpu_ms = (process_cpu_seconds(pid) - cpu) / max(half.accepted, 1) * 1000
    print(
        half.line(name) + f"   <- half of saturation; server CPU {cpu_ms:.1f} ms/event", flush=True
    )
    return Result(name, steps, saturation, half, accepted, await stored(), cpu_ms)


# -- the two servers --------------------------------------------------------------------------


async def start_server(
    args: list[str], env: dict[str, str], port: int, log: Path
) -> asyncio.subprocess.Process:
    with log.open("wb") as stderr:
        process = await asyncio.create_subprocess_exec(
            *args,
            env={**os.environ, **env},
            cwd=ROOT,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=stderr,
        )
    deadline = time.monotonic() + 30
    async with aiohttp.ClientSession() as client:
        while time.monotonic() < deadline:
            if process.returncode is not None:
                break
            with contextlib.suppress(aiohttp.ClientError):
                async with client.get(f"http://127.0.0.1:{port}/healthz") as answer:
                    await answer.read()
                    return process
            await asyncio.sleep(0.1)
    process.kill()
    raise SystemExit(f"{args[:4]} did not start on port {port}; see {log}")


async def run_baseline(database_url: str, workdir: Path) -> Result:
    port = free_port()
    env = {"SLACK_SIGNING_SECRET": SECRET, "BASELINE_DATABASE_URL": database_url}
    process = await start_server(
        uvicorn_args("_baseline_ingest:app", port), env, port, workdir / "baseline.log"
    )

    async def nothing() -> None:
        await asyncio.sleep(0.5)

    async def stored() -> int:
        return await count(database_url, "SELECT count(*) FROM baseline_messages")

    try:
        return await measure(
            "baseline",
            f"http://127.0.0.1:{port}/slack/events",
            between_steps=nothing,
            stored=stored,
            pid=process.pid,
        )
    finally:
        await stop_process(process)


async def run_ticketbot(database_url: str, workdir: Path) -> Result:
    await upgrade_to_head(database_url)
    # Throughput, not Slack's pacing or payload checks (the test suite holds those).
    emulator = SlackEmulator(bot_token=TOKEN, team_id=TEAM_ID, **BENCH_EMULATOR)
    await emulator.start()
    port = free_port()
    env = {
        "DATABASE_URL": database_url,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_API_URL": emulator.api_url,
        "SLACK_PACING": "false",  # the emulator runs without rate limits: BENCH_EMULATOR
        "TRIAGE_CHANNEL_ID": TRIAGE,
        "LOG_LEVEL": "WARNING",
    }
    command = [python(), "-m", "app.cli", "serve", "--no-migrate", "--host", "127.0.0.1"]
    process = await start_server(
        [*command, "--port", str(port)], env, port, workdir / "ticketbot.log"
    )
    engine = create_engine(database_url)
    sessions = create_session_factory(engine)
    try:
        async with sessions() as session, session.begin():
            workspace = await session.scalar(
                select(Workspace).where(Workspace.slack_team_id == TEAM_ID)
            )
            if workspace is None:
                raise SystemExit("ticketbot did not create its workspace on start")
            session.add(
                WatchedChannel(workspace_id=workspace.id, slack_channel_id=CHANNEL, name="bench")
            )

        async def drain_outbox() -> None:
            """Let the Slack calls owed by the last step go out, so steps do not overlap."""
            deadline = time.monotonic() + OUTBOX_DRAIN_SECONDS
            while time.monotonic() < deadline:
                async with sessions() as session:
                    pending = await session.scalar(
                        select(func.count())
                        .select_from(OutboxMessage)
                        .where(OutboxMessage.status == OutboxStatus.PENDING)
                    )
                if not pending:
                    return
                await asyncio.sleep(0.2)
            print(f"  (outbox still had {pending} pending after {OUTBOX_DRAIN_SECONDS:g} s)")

        async def stored() -> int:
            async with sessions() as session:
                return await session.scalar(select(func.count()).select_from(Ticket)) or 0

        result = await measure(
            "ticketbot",
            f"http://127.0.0.1:{port}/slack/events",
            between_steps=drain_outbox,
            stored=stored,
            pid=process.pid,
        )
        async with sessions() as session:
            rows = await session.execute(
                select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
            )
            outbox = {str(status): n for status, n in rows}
        print(f"  ticketbot outbox after the run: {outbox}; Slack calls: {len(emulator.calls())}")
        return result
    finally:
        await stop_process(process)
        await engine.dispose()
        await emulator.stop()


async def count(database_url: str, query: str) -> int:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            return int((await connection.execute(text(query))).scalar_one())
    finally:
        await engine.dispose()


# -- scratch databases ------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def scratch_postgres(admin_url: str, names: list[str]):
    """Fresh databases on the server of `admin_url`, dropped afterwards."""
    url = make_url(admin_url)
    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(dsn)
    try:
        for name in names:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await connection.execute(f'CREATE DATABASE "{name}"')
        yield [url.set(database=name).render_as_string(hide_password=False) for name in names]
    finally:
        for name in names:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.close()


async def run_database(kind: str, admin_url: str) -> None:
    """One comparison on fresh databases; the working files (and logs) go unless it fails."""
    workdir = Path(tempfile.mkdtemp(prefix=f"ticketbot-ingest-{kind}-"))
    if kind == "sqlite":
        urls = [f"sqlite+aiosqlite:///{workdir / name}" for name in ("ticketbot.db", "base.db")]
        await compare(kind, urls[0], urls[1], workdir)
    else:
        names = [f"ticketbot_ingest_{os.getpid()}", f"ticketbot_ingest_base_{os.getpid()}"]
        async with scratch_postgres(admin_url, names) as urls:
            await compare(kind, urls[0], urls[1], workdir)
    shutil.rmtree(workdir, ignore_errors=True)


async def compare(kind: str, ticketbot_url: str, baseline_url: str, workdir: Path) -> None:
    label = "SQLite (fresh files, WAL)" if kind == "sqlite" else "PostgreSQL (fresh databases)"
    print(f"\n== {label} ==", flush=True)
    print(
        f"open loop; steps of {STEP_SECONDS:g} s at {', '.join(map(str, RATES))}/s until the"
        f" achieved rate < {KEEPS_UP:g} x target or p99 > {P99_EXPLODED_MS:g} ms;"
        " latency from when each request was due"
    )
    base = await run_baseline(baseline_url, workdir)
    ours = await run_ticketbot(ticketbot_url, workdir)
    ratio = ours.saturation / base.saturation
    print(
        f"saturation: ticketbot {ours.saturation:.0f}/s, baseline {base.saturation:.0f}/s,"
        f" ratio ticketbot/baseline {ratio:.2f}"
    )
    for result in (ours, base):
        print(
            f"half load:  {result.name:<9} at {result.half.target:.0f}/s:"
            f" p50 {result.half.p50_ms:.1f} ms, p99 {result.half.p99_ms:.1f} ms,"
            f" server CPU {result.cpu_ms_per_event:.2f} ms/event"
        )
    print(
        f"CPU:        baseline/ticketbot per event"
        f" {base.cpu_ms_per_event / ours.cpu_ms_per_event:.2f}"
    )
    print(
        f"target:     ratio >= {TARGET_RATIO}: {_met(ratio >= TARGET_RATIO)};"
        f" ticketbot p99 < {TARGET_P99_MS:g} ms at half load:"
        f" {_met(ours.half.p99_ms < TARGET_P99_MS)}"
    )
    for result, what in ((ours, "tickets"), (base, "rows")):
        verdict = "ok" if result.stored == result.accepted else "MISMATCH"
        print(
            f"stored:     {result.name:<9} {result.stored} {what} for {result.accepted}"
            f" accepted events: {verdict}"
        )


def _met(ok: bool) -> str:
    return "met" if ok else "NOT met"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("TEST_DATABASE_URL", DEFAULT_POSTGRES),
        help="a server to create (and drop) the scratch databases in; default %(default)s",
    )
    args = parser.parse_args()
    kinds = ["sqlite", "postgresql"] if args.database == "both" else [args.database]
    started = time.monotonic()
    for kind in kinds:
        await run_database(kind, args.postgres_url)
    print(f"\ntotal {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    try:
        import uvloop
    except ImportError:
        asyncio.run(main())
    else:
        uvloop.run(main())
