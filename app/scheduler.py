"""APScheduler in every `serve` process: named jobs, each a thin call into a service.

Correctness never depends on running exactly one scheduler: every job claims its rows in the
database, so replicas running the same job at once do the work once.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from app.accounts.service import prune_departures
from app.db import is_database_unavailable
from app.inbox.service import prune_events
from app.outbox.housekeeping import prune_delivered
from app.runtime import Runtime, catch_up_now
from app.slack.usergroups import sync_support_agents

logger = logging.getLogger(__name__)

SLACK_EVENT_RETENTION = timedelta(days=7)
DELIVERED_OUTBOX_RETENTION = timedelta(days=30)
USERGROUP_SYNC_INTERVAL = timedelta(minutes=10)
USERGROUP_SYNC_FIRST_DELAY = timedelta(seconds=30)


def outage_tolerant(
    job: Callable[[Runtime], Awaitable[None]],
) -> Callable[[Runtime], Awaitable[None]]:
    """A run that finds the database unreachable logs one line and waits for the next run
    (every job picks up where the last one left: its work is rows in the database); any other
    failure is a bug, left to APScheduler to log with its traceback."""

    @functools.wraps(job)
    async def run(runtime: Runtime) -> None:
        try:
            await job(runtime)
        except Exception as exc:
            if not is_database_unavailable(exc):
                raise
            logger.warning(
                "%s skipped: the database is unavailable (%s)", job.__name__, type(exc).__name__
            )

    return run


def build_scheduler(runtime: Runtime) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(timezone="UTC")
    scheduler.add_job(
        prune_history,
        "interval",
        hours=1,
        args=[runtime],
        id="housekeeping.prune_history",
        replace_existing=True,
        coalesce=True,
        max_instances=1,
    )
    scheduler.add_job(
        sweep_timers,
        "interval",
        seconds=runtime.settings.scheduler_interval_seconds,
        args=[runtime],
        id="timers.sweep",
        replace_existing=True,
        coalesce=True,
        max_instances=1,
        # Run however late the event loop gets to it (the default skips runs missed by 1 s).
        misfire_grace_time=None,
    )
    if runtime.settings.catch_up_interval_seconds > 0:
        # The first run is the start-up one (app/runtime.py); this one follows an interval on.
        scheduler.add_job(
            catch_up,
            "interval",
            seconds=runtime.settings.catch_up_interval_seconds,
            args=[runtime],
            id="slack.catch_up",
            replace_existing=True,
            coalesce=True,
            max_instances=1,
        )
    if runtime.settings.support_agents_usergroup_id:
        scheduler.add_job(
            sync_usergroup,
            "interval",
            seconds=USERGROUP_SYNC_INTERVAL.total_seconds(),
            # Scheduling runs on the wall clock, not the app's (injected) clock.
            next_run_time=datetime.now(UTC) + USERGROUP_SYNC_FIRST_DELAY,
            args=[runtime],
            id="team.sync_usergroup",
            replace_existing=True,
            coalesce=True,
            max_instances=1,
        )
    return scheduler


@outage_tolerant
async def prune_history(runtime: Runtime) -> None:
    now = runtime.clock.now()
    async with runtime.session_factory() as session, session.begin():
        events = await prune_events(session=session, now=now, keep=SLACK_EVENT_RETENTION)
        deliveries = await prune_delivered(
            session=session, now=now, keep=DELIVERED_OUTBOX_RETENTION
        )
        await prune_departures(session=session, now=now)
    if events or deliveries:
        logger.info("pruned %d old Slack events and %d delivered outbox rows", events, deliveries)


@outage_tolerant
async def sweep_timers(runtime: Runtime) -> None:
    """Fire the timers that are due. Every replica runs this; each timer is claimed by one."""
    await runtime.timer_sweeper.sweep_until_idle()


@outage_tolerant
async def catch_up(runtime: Runtime) -> None:
    """Read back what Slack holds and no event brought (Slack gives up retrying an event after
    about an hour). Every replica runs this; a channel has one catch-up going at most."""
    await catch_up_now(runtime)


@outage_tolerant
async def sync_usergroup(runtime: Runtime) -> None:
    """Make the SUPPORT_AGENTS_USERGROUP_ID members agents (a read of Slack, then one commit)."""
    usergroup_id = runtime.settings.support_agents_usergroup_id
    if not usergroup_id:
        return
    await sync_support_agents(
        client=runtime.slack_handler.app.client,
        session_factory=runtime.session_factory,
        identity=runtime.identity,
        usergroup_id=usergroup_id,
        default_triage_channel_id=runtime.settings.triage_channel_id,
    )
