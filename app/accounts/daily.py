"""The accounts' day: every morning each workspace's accounts are scored again, and on Mondays
each account owner gets a direct message about their accounts (what changed, and why).

One timer per workspace, re-armed by its own run (a run missed while ticketbot was down
happens at the next sweep); which replica runs it is decided by the timer's row lock.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.scoring import HealthPolicy, Scored, recompute_health
from app.outbox.service import enqueue_slack_call
from app.sla.digest import next_digest_at, workspace_time_zone
from app.text_safety import escape
from app.timers.handlers import TimerHandlers
from app.timers.models import Timer
from app.timers.service import is_armed, schedule_timer

HEALTH = "accounts.health"
MONDAY = 0


def _key(workspace_id: int) -> str:
    return f"accounts.health:{workspace_id}"


async def ensure_daily_health(
    *, session: AsyncSession, workspace_id: int, hour: int, now: datetime
) -> None:
    """At start-up and install: arm the morning scoring unless it is armed."""
    if not await is_armed(session=session, key=_key(workspace_id)):
        await _schedule(session, workspace_id, hour, now)


async def _schedule(session: AsyncSession, workspace_id: int, hour: int, now: datetime) -> None:
    zone = await workspace_time_zone(session, workspace_id)
    await schedule_timer(
        session=session,
        kind=HEALTH,
        key=_key(workspace_id),
        workspace_id=workspace_id,
        due_at=next_digest_at(now, hour, zone),
        now=now,
        payload={"hour": hour},
    )


ScoredHook = Callable[[AsyncSession, int, list[int], datetime], Awaitable[None]]
"""(session, workspace id, the ids of the accounts just scored, now): e.g. a CRM connector
owes their new scores."""


def register_health_handler(
    handlers: TimerHandlers, policy: HealthPolicy, after_scoring: ScoredHook | None = None
) -> None:
    async def on_health(session: AsyncSession, timer: Timer, now: datetime, late: bool) -> None:
        zone = await workspace_time_zone(session, timer.workspace_id)
        scored = await recompute_health(
            session=session, workspace_id=timer.workspace_id, now=now, zone=zone, policy=policy
        )
        changed = [each.account.id for each in scored if each.health.score != each.previous]
        if after_scoring is not None and changed:
            await after_scoring(session, timer.workspace_id, changed, now)
        if now.astimezone(ZoneInfo(zone)).weekday() == MONDAY:
            await send_owner_digests(
                session=session,
                workspace_id=timer.workspace_id,
                scored=scored,
                policy=policy,
                now=now,
            )
        await _schedule(session, timer.workspace_id, int(timer.payload.get("hour", 6)), now)

    handlers.register(HEALTH, on_health)


async def send_owner_digests(
    *,
    session: AsyncSession,
    workspace_id: int,
    scored: list[Scored],
    policy: HealthPolicy,
    now: datetime,
) -> int:
    """A direct message to each account owner: their accounts, at-risk ones first, each with
    its score, its change over the week and the reasons that cost the most. Returns how many
    owners were written to."""
    by_owner: dict[str, list[Scored]] = {}
    for item in scored:
        if item.account.owner_user_id:
            by_owner.setdefault(item.account.owner_user_id, []).append(item)
    for owner, items in by_owner.items():
        lines = [f":bar_chart: *Your accounts this week* ({len(items)})"]
        ordered = sorted(
            items,
            key=lambda item: (
                not policy.at_risk(item.health.score, item.account.health_week_ago),
                item.health.score,
                item.account.name.lower(),
            ),
        )
        for item in ordered:
            lines.append(_owner_line(item, item.account.health_week_ago, policy))
        await enqueue_slack_call(
            session=session,
            method="chat.postMessage",
            payload={"channel": owner, "text": "\n".join(lines)},
            now=now,
            workspace_id=workspace_id,
        )
    return len(by_owner)


def _owner_line(item: Scored, week_ago: int | None, policy: HealthPolicy) -> str:
    score = item.health.score
    risk = policy.at_risk(score, week_ago)
    mark = ":red_circle:" if risk else ":large_green_circle:"
    change = ""
    if week_ago is not None and week_ago != score:
        change = f" ({'+' if score > week_ago else '-'}{abs(score - week_ago)} this week)"
    line = f"{mark} *{escape(item.account.name)}*: {score}/100{change}"
    if risk:
        line += " · *at risk*"
    why = "; ".join(escape(str(reason)) for reason in item.health.costs[:3])
    return f"{line}\n      {why}" if why else line
