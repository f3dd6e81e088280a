"""Scenario 3: Slack answers late, past the client's timeout, and with a storm of 429 and 5xx,
while two replicas deliver the outbox. A post whose answer never came (its outcome unknown) is
looked for by its metadata before it is sent again: nothing owed is lost, nothing is posted
twice."""

from __future__ import annotations

import asyncio
import random

from app.slack_emulator import RecordedCall
from bench.chaos_figures import drain, intake_figures, outbox_figures, post_figures
from bench.chaos_load import SlackRetries, slack_client, steady_load
from bench.chaos_plan import Mode, Report
from bench.chaos_stack import SERVE_SETTINGS, Stack

TIMEOUT = float(SERVE_SETTINGS["SLACK_HTTP_TIMEOUT_SECONDS"])
# One round of the storm; its faults are shuffled and taken by whichever calls come next.
# A slow answer past the client's timeout is an unknown outcome: the call took effect.
STORM: tuple[tuple[str, float], ...] = (
    ("slow", 0.3),
    ("slow", TIMEOUT + 0.5),
    ("429", 1),
    ("429", 2),
    ("500", 0),
    ("503", 0),
    ("slow", TIMEOUT + 0.5),
    ("slow", 0.5),
)
LOOKUPS = ("conversations.history", "conversations.replies")
TICKET_RATE = 6.0


async def slow_slack(stack: Stack, mode: Mode, rng: random.Random, report: Report) -> None:
    replicas = [stack.serve("replica-a")]
    if stack.is_postgres:
        replicas.append(stack.serve("replica-b"))
    else:
        report.notes.append("SQLite is a single-writer embedded database: one replica")
    await asyncio.gather(*(replica.start() for replica in replicas))
    await stack.set_up(replicas[0])
    faults = [fault for _ in range(mode.storm_rounds) for fault in STORM]
    rng.shuffle(faults)
    for kind, value in faults:
        if kind == "slow":
            stack.emulator.slow_next(seconds=value)
        else:
            retry_after = int(value) if kind == "429" else None
            stack.emulator.fail_next(status=int(kind), retry_after=retry_after)
    async with slack_client() as client:
        retries = SlackRetries([stack.sender(replica, client) for replica in replicas])
        load = await steady_load(
            stack.customer_message, retries, count=mode.slow_tickets, rate=TICKET_RATE
        )
    owed = await drain(stack.engine, within=mode.drain_seconds)

    calls = stack.emulator.calls()
    report.figures.update(await intake_figures(stack.engine, load))
    report.figures["replicas"] = len(replicas)
    report.figures["faults"] = len(faults)
    report.figures["Slack 429"] = sum(1 for call in calls if call.status == 429)
    report.figures["Slack 5xx"] = sum(1 for call in calls if call.status >= 500)
    report.figures["late answers"] = sum(1 for kind, _ in faults if kind == "slow")
    report.figures["look-ups"] = sum(1 for call in calls if _is_lookup(call))
    report.figures.update(await outbox_figures(stack.engine))
    report.figures.update(await post_figures(stack.engine, stack.emulator))
    report.figures["owed"] = owed
    report.require_zero("lost", "duplicated", "5xx", "duplicate posts", "missing posts")
    report.require_zero("owed", "failed")
    report.require(
        report.figures["Slack 429"] + report.figures["Slack 5xx"] > 0, "the storm was not felt"
    )


def _is_lookup(call: RecordedCall) -> bool:
    flag = str(call.args.get("include_all_metadata", "")).lower()
    return call.method in LOOKUPS and flag in ("true", "1")
