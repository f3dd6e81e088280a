"""Scenario 2: SLA timers fall due on two replicas sharing one database while one of them is
killed -9. Each timer must fire once: a warning and a breach for every ticket, none missing,
none twice, each posted once under the ticket's triage card."""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections import Counter
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.sla.models import SlaLedgerEntry
from app.timers.models import Timer
from bench.chaos_figures import (
    drain,
    intake_figures,
    outbox_figures,
    post_figures,
    scalar,
    wait_for,
)
from bench.chaos_load import SlackRetries, slack_client, steady_load
from bench.chaos_plan import Mode, Report
from bench.chaos_stack import TRIAGE, Stack

TARGET = "first_response"
FIRED = ("warned", "breached")
SLA_KINDS = ("sla.warning", "sla.breach")
ALERTS = {"warned": "left to meet its first response", "breached": "breached its first response"}
NUMBER = re.compile(r"\*T-(\d+)\*")
KILL_AT_FIRED = 0.3  # kill a replica once this share of the timers has fired


async def timers_with_a_replica_killed(
    stack: Stack, mode: Mode, rng: random.Random, report: Report
) -> None:
    replicas = [stack.serve("replica-a")]
    if stack.is_postgres:
        replicas.append(stack.serve("replica-b"))
    else:
        report.notes.append(
            "SQLite is a single-writer embedded database: one replica, killed -9 and restarted"
        )
    await asyncio.gather(*(replica.start() for replica in replicas))
    target = mode.timer_target_seconds
    await stack.set_up(replicas[0], f"sla set normal first_response={target}s business_hours=off")
    async with slack_client() as client:
        retries = SlackRetries([stack.sender(replica, client) for replica in replicas])
        rate = mode.timer_tickets / max(2.0, 0.6 * target)
        load = await steady_load(
            stack.customer_message, retries, count=mode.timer_tickets, rate=rate
        )
    tickets = await scalar(stack.engine, "SELECT count(*) FROM tickets")
    expected = len(FIRED) * tickets

    async def fired_at_least(share: float) -> bool:
        return await _fired(stack) >= share * expected

    started = time.monotonic()
    await wait_for(lambda: fired_at_least(KILL_AT_FIRED), within=3 * target + 30)
    report.figures["killed at fired"] = await _fired(stack)
    report.figures["killed after s"] = time.monotonic() - started
    await replicas[0].kill9()
    if len(replicas) == 1:
        await replicas[0].start()
    await wait_for(lambda: fired_at_least(1.0), within=mode.drain_seconds)
    report.figures["all fired after s"] = time.monotonic() - started
    owed = await drain(stack.engine, within=mode.drain_seconds)
    report.figures["drained after s"] = time.monotonic() - started

    report.figures.update(await intake_figures(stack.engine, load))
    report.figures["replicas"] = len(replicas)
    report.figures.update(await _timer_figures(stack, tickets))
    report.figures.update(await outbox_figures(stack.engine))
    report.figures.update(await post_figures(stack.engine, stack.emulator))
    report.figures["owed"] = owed
    report.require_zero("lost", "duplicated", "5xx", "timers missing", "timers doubled")
    report.require_zero("timers left")
    report.require_zero("alerts missing", "alerts doubled", "duplicate posts", "missing posts")
    report.require_zero("owed", "failed")


async def _fired(stack: Stack) -> int:
    return await scalar(
        stack.engine,
        "SELECT count(*) FROM sla_ledger WHERE target = :t AND kind IN ('warned', 'breached')",
        t=TARGET,
    )


async def _timer_figures(stack: Stack, tickets: int) -> dict[str, int]:
    now = datetime.now(UTC)
    async with AsyncSession(stack.engine) as session:
        ledger = Counter(
            (entry.ticket_id, entry.kind)
            for entry in await session.scalars(
                select(SlaLedgerEntry).where(
                    SlaLedgerEntry.target == TARGET, SlaLedgerEntry.kind.in_(FIRED)
                )
            )
        )
        timers = list(
            await session.scalars(
                select(Timer).where(Timer.kind.in_(SLA_KINDS), Timer.due_at <= now)
            )
        )
        ticket_ids = {timer.ticket_id for timer in timers if timer.payload.get("target") == TARGET}
    alerts = _alert_posts(stack)
    return {
        "tickets": tickets,
        "timers due": len(timers),
        "timers fired": sum(ledger.values()),
        "timers missing": sum(
            1 for ticket in ticket_ids for kind in FIRED if (ticket, kind) not in ledger
        )
        + len(FIRED) * (tickets - len(ticket_ids)),
        "timers doubled": sum(n - 1 for n in ledger.values() if n > 1),
        "timers left": sum(1 for t in timers if t.done_at is None and t.cancelled_at is None),
        "alert posts": sum(alerts.values()),
        "alerts missing": len(FIRED) * tickets - len(alerts),
        "alerts doubled": sum(n - 1 for n in alerts.values() if n > 1),
    }


def _alert_posts(stack: Stack) -> Counter[tuple[int, str]]:
    """The warnings and breaches Slack holds under the triage cards, by ticket number."""
    alerts: Counter[tuple[int, str]] = Counter()
    for message in stack.emulator.messages(TRIAGE):
        text = str(message.get("text") or "")
        number = NUMBER.search(text)
        for kind, marker in ALERTS.items():
            if number and marker in text:
                alerts[(int(number.group(1)), kind)] += 1
    return alerts
