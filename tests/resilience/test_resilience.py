"""The resilience harness's short mode (bench/chaos.py), on each database.

Real `ticketbot serve` processes are killed -9 under load, run as two replicas while SLA
timers fire, face a slow Slack answering 429 and 5xx, lose their PostgreSQL connection for a
few seconds, and get bodies Slack never sends. The scenarios of one database run side by side
(they mostly wait: on leases, timers and retries), each on a scratch database of its own.
A scenario fails on any acknowledged event lost, any duplicate ticket, timer or post, anything
still owed to Slack, any 5xx, or a server that grew past 200 MB.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from bench.chaos import SCENARIOS, run_scenario
from bench.chaos_plan import SHORT, table
from bench.chaos_stack import ScratchDatabases
from tests.support.databases import SqliteTestDatabase, postgres_admin_url

SEED = 20261130

# Several real servers start, migrate and drain here; pytest's default limit is for one test.
pytestmark = [pytest.mark.resilience, pytest.mark.timeout(300)]


async def test_nothing_is_lost_or_doubled_under_faults(
    database_backend: Any, tmp_path: Path
) -> None:
    sqlite = isinstance(database_backend, SqliteTestDatabase)
    server_url = "sqlite+aiosqlite://" if sqlite else postgres_admin_url()
    databases = ScratchDatabases(server_url, tmp_path)
    try:
        urls = {name: await databases.new(name) for name in SCENARIOS}
        reports = await asyncio.gather(
            *(
                run_scenario(name, url, SHORT, seed=SEED, workdir=tmp_path)
                for name, url in urls.items()
            )
        )
    finally:
        await databases.drop_all()

    figures = "\n".join(report.text() for report in reports) + "\n\n" + table(list(reports))
    print(figures)  # shown with -s or -rP: the run's figures, whatever the outcome
    assert all(report.ok for report in reports), figures
    ran = [report for report in reports if not report.skipped]
    assert len(ran) == len(SCENARIOS) - (1 if sqlite else 0), figures
