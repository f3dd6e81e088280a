"""APScheduler in every `serve` process: named jobs, each a thin call into a service.

Correctness never depends on running exactly one scheduler: every job claims its rows in the
database, so replicas running the same job at once do the work once.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from app.inbox.service import prune_events
from app.outbox.housekeeping import prune_delivered
from app.runtime import Runtime

logger = logging.getLogger(__name__)

SLACK_EVENT_RETENTION = timedelta(days=7)
DELIVERED_OUTBOX_RETENTION = timedelta(days=30)


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
    return scheduler


async def prune_history(runtime: Runtime) -> None:
    now = runtime.clock.now()
    async with runtime.session_factory() as session, session.begin():
        events = await prune_events(session=session, now=now, keep=SLACK_EVENT_RETENTION)
        deliveries = await prune_delivered(
            session=session, now=now, keep=DELIVERED_OUTBOX_RETENTION
        )
    if events or deliveries:
        logger.info("pruned %d old Slack events and %d delivered outbox rows", events, deliveries)
