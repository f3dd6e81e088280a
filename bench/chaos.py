"""The resilience harness: real `ticketbot serve` processes under faults, and what survived.

    python -m bench.chaos --mode short            # about a minute; the suite runs this mode
    python -m bench.chaos --mode long             # about half an hour per database
    python -m bench.chaos --scenario kill --database sqlite

Scenarios (each on a fresh database, with the Slack emulator in this process):

* ``kill``: customers' messages arrive as Slack delivers them (signed, retried when not
  acknowledged) while the server is killed -9 at random moments and restarted;
* ``timers``: SLA warnings and breaches fall due on two replicas (one on SQLite), and one
  replica is killed -9 while they fire;
* ``slow``: Slack answers late (past the client's timeout), 429 and 5xx while two replicas
  deliver the outbox;
* ``cut``: the connection to PostgreSQL is cut for a few seconds under load (PostgreSQL only);
* ``bodies``: malformed, unsigned and huge bodies; the server's memory while they arrive.

Each prints its figures (acked, lost, duplicated, owed, delivered, 5xx...). The run fails (exit
status 1) on any acknowledged event lost, any duplicate ticket, timer or post, anything still
owed, any 5xx, a server that grew past 200 MB, or a
traceback in a server's log. Databases: ``sqlite`` and, by default, the
PostgreSQL server of ``TEST_DATABASE_URL`` when it names one (a scratch database is created on
it per scenario and dropped after).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from bench.chaos_bodies import bad_bodies_and_memory
from bench.chaos_intake import database_cut, kill_under_load
from bench.chaos_plan import MODES, Mode, Report, table
from bench.chaos_slow import slow_slack
from bench.chaos_stack import ScratchDatabases, Stack, is_postgres
from bench.chaos_timers import timers_with_a_replica_killed

Scenario = Callable[[Stack, Mode, random.Random, Report], Awaitable[None]]

SCENARIOS: dict[str, Scenario] = {
    "kill": kill_under_load,
    "timers": timers_with_a_replica_killed,
    "slow": slow_slack,
    "cut": database_cut,
    "bodies": bad_bodies_and_memory,
}
LOG_LINES_ON_FAILURE = 30


async def run_scenario(
    name: str, database_url: str, mode: Mode, *, seed: int, workdir: Path
) -> Report:
    """Run one scenario against `database_url` (a database of its own, empty or migrated)."""
    report = Report(name, "postgresql" if is_postgres(database_url) else "sqlite")
    if name == "cut" and not is_postgres(database_url):
        report.skipped = "SQLite is embedded: there is no connection to cut"
        return report
    stack = await Stack(name, database_url, workdir).start()
    started = time.monotonic()
    try:
        await SCENARIOS[name](stack, mode, random.Random(seed), report)
    except Exception as exc:  # the figures of a scenario that broke down are still reported
        report.violations.append(f"the scenario broke down: {type(exc).__name__}: {exc}")
    finally:
        report.seconds = time.monotonic() - started
        # A fault is met with one line in the log (what happened, what happens next), never
        # a traceback: one would mean a failure the code did not expect.
        report.figures["tracebacks"] = sum(
            server.log_count("Traceback") for server in stack.servers
        )
        report.require_zero("tracebacks")
        if report.violations:
            for server in stack.servers:
                excerpt = server.log_around("Traceback") or server.log_tail(LOG_LINES_ON_FAILURE)
                excerpt = excerpt.replace("\n", "\n        ")
                report.notes.append(f"{server.name} log:\n        {excerpt}")
        await stack.close()
    return report


def default_databases() -> list[str]:
    databases = ["sqlite"]
    url = os.environ.get("TEST_DATABASE_URL", "")
    if is_postgres(url):
        databases.append(url)
    return databases


async def run(mode: Mode, scenarios: list[str], databases: list[str], seed: int) -> list[Report]:
    reports: list[Report] = []
    with tempfile.TemporaryDirectory(prefix="ticketbot-chaos-") as scratch:
        workdir = Path(scratch)
        for database in databases:
            server_url = "sqlite+aiosqlite://" if database == "sqlite" else database
            scratch_databases = ScratchDatabases(server_url, workdir)
            try:
                for name in scenarios:
                    url = await scratch_databases.new(name)
                    report = await run_scenario(name, url, mode, seed=seed, workdir=workdir)
                    print(report.text(), flush=True)
                    reports.append(report)
            finally:
                await scratch_databases.drop_all()
    return reports


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--mode", choices=sorted(MODES), default="short")
    parser.add_argument(
        "--scenario", action="append", choices=list(SCENARIOS), help="repeatable; default: all"
    )
    parser.add_argument(
        "--database",
        action="append",
        help="`sqlite` or a PostgreSQL URL (a server to create scratch databases on); repeatable",
    )
    parser.add_argument("--seed", type=int, default=None, help="for a run that can be replayed")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else random.randrange(1_000_000)
    mode = MODES[args.mode]
    print(f"ticketbot resilience harness, {mode.name} mode, seed {seed}", flush=True)
    reports = asyncio.run(
        run(mode, args.scenario or list(SCENARIOS), args.database or default_databases(), seed)
    )
    print()
    print(table(reports))
    failed = [report for report in reports if not report.ok]
    print(f"\n{len(reports) - len(failed)} of {len(reports)} scenario runs held every invariant")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
