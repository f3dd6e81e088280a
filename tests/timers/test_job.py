"""The sweep as the running app schedules it: a named job in every process, and what it owes
Slack delivered right after its commit."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from app.scheduler import build_scheduler, sweep_timers
from app.workspaces.models import Workspace
from tests.support.server import wait_until
from tests.timers.helpers import ALERT, post_alert, schedule


async def test_every_process_schedules_the_sweep(running_app):
    job = build_scheduler(running_app.runtime).get_job("timers.sweep")

    assert job is not None
    assert job.trigger.interval == timedelta(
        seconds=running_app.settings.scheduler_interval_seconds
    )
    assert job.coalesce is True and job.max_instances == 1
    assert running_app.runtime.timer_sweeper.settings.late_after == 2 * job.trigger.interval


async def test_a_due_timer_reaches_slack(running_app, emulator, clock):
    runtime = running_app.runtime
    runtime.timer_handlers.register(ALERT, post_alert)
    async with runtime.session_factory() as session:
        workspace_id = await session.scalar(select(Workspace.id))
    await schedule(
        runtime.session_factory,
        key="sla:1:breach",
        workspace_id=workspace_id,
        due_at=clock.now() + timedelta(minutes=30),
        now=clock.now(),
    )

    await sweep_timers(runtime)
    assert emulator.delivered("chat.postMessage") == []
    clock.advance(minutes=30)
    await sweep_timers(runtime)

    # The outbox poll is 60 s in tests: this delivery comes from the sweep's commit waking it.
    calls = await wait_until(lambda: emulator.delivered("chat.postMessage"), within=3)
    assert [call.args["text"] for call in calls] == ["alert sla:1:breach"]
