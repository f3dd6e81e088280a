"""SLA clocks of a ticket: started, met, re-planned; each arms a warning and a breach timer.

Called by the ticket services inside the transaction of the change that moves a clock, so the
ticket, its ledger and its timers always agree. A due time is computed once, from the moment its
clock started and the policy at that time; a policy change never back-dates a breach.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.sla.calendar import BusinessCalendar
from app.sla.models import SlaLedgerEntry
from app.sla.policies import Targets, calendar_for, calendar_or_always_open, targets_for
from app.tickets.enums import Priority, SlaState
from app.tickets.models import Ticket
from app.timers.models import Timer
from app.timers.service import cancel_timers, schedule_timer

FIRST_RESPONSE = "first_response"
NEXT_RESPONSE = "next_response"
RESOLUTION = "resolution"
TARGETS = (FIRST_RESPONSE, NEXT_RESPONSE, RESOLUTION)

SLA_WARNING = "sla.warning"
SLA_BREACH = "sla.breach"

ON_TRACK, AT_RISK, BREACHED = SlaState.ON_TRACK, SlaState.AT_RISK, SlaState.BREACHED


def timer_key(ticket: Ticket, target: str, started: datetime, kind: str) -> str:
    """One key per clock run: a later run of the same target (the next customer message, a
    reopen) gets timers of its own, while a re-plan or a resume of this run moves these."""
    return f"sla:{ticket.id}:{target}:{int(started.timestamp())}:{kind.removeprefix('sla.')}"


async def _cancel_run(session: AsyncSession, ticket: Ticket, target: str, now: datetime) -> None:
    started = await _started_at(session, ticket, target) or ticket.created_at
    for kind in (SLA_WARNING, SLA_BREACH):
        await cancel_timers(session=session, now=now, key=timer_key(ticket, target, started, kind))


@dataclass(frozen=True)
class ClockRun:
    """A clock a new ticket starts with: its target, when it started, when it is due and when
    it warns."""

    target: str
    started: datetime
    due: datetime
    warn_at: datetime


async def plan_new_ticket_clocks(
    *,
    session: AsyncSession,
    workspace_id: int,
    priority: Priority,
    channel_id: str | None,
    opened_at: datetime,
    now: datetime,
) -> list[ClockRun]:
    """The first-response and resolution clocks of a ticket about to be opened. Worked out
    before the ticket is stored, so its due times go in with it (intake reads everything
    before it takes the workspace's next ticket number)."""
    targets, calendar = await _policy_of(session, workspace_id, priority, channel_id, now)
    return [
        ClockRun(
            target=target,
            started=opened_at,
            due=calendar.add(opened_at, duration),
            warn_at=calendar.add(opened_at, duration * targets.warn_fraction),
        )
        for target, duration in (
            (FIRST_RESPONSE, targets.first_response),
            (RESOLUTION, targets.resolution),
        )
        if duration is not None
    ]


async def start_ticket_clocks(
    *, session: AsyncSession, ticket: Ticket, now: datetime, plan: list[ClockRun] | None = None
) -> None:
    """A new ticket: the first-response and resolution clocks start at its creation. `plan`:
    what `plan_new_ticket_clocks` worked out for it before it was stored."""
    if plan is None:
        plan = await plan_new_ticket_clocks(
            session=session,
            workspace_id=ticket.workspace_id,
            priority=ticket.priority,
            channel_id=ticket.channel_id,
            opened_at=ticket.created_at,
            now=now,
        )
    for run in plan:
        await _schedule(
            session, ticket, run.target, run.due, run.warn_at, run.started, now, new_ticket=True
        )
        _ledger(
            session,
            ticket,
            run.target,
            "started",
            run.due,
            "ticket opened",
            now,
            started=run.started,
        )


async def start_next_response(*, session: AsyncSession, ticket: Ticket, now: datetime) -> None:
    """A customer message awaits an answer. Already running: the oldest unanswered one counts."""
    if ticket.next_response_due_at is not None or ticket.first_response_at is None:
        return  # before the first response, the first-response clock covers it
    targets, calendar = await _policy(session, ticket, now)
    if targets.next_response is not None:
        await _arm(
            session,
            ticket,
            NEXT_RESPONSE,
            now,
            targets.next_response,
            targets,
            calendar,
            now,
            "customer wrote",
        )


async def restart_resolution(*, session: AsyncSession, ticket: Ticket, now: datetime) -> None:
    """A resolved ticket reopened: a fresh resolution clock from now."""
    targets, calendar = await _policy(session, ticket, now)
    if targets.resolution is not None:
        await _arm(
            session, ticket, RESOLUTION, now, targets.resolution, targets, calendar, now, "reopened"
        )


async def target_met(
    *, session: AsyncSession, ticket: Ticket, target: str, now: datetime, reason: str
) -> None:
    due = getattr(ticket, f"{target}_due_at")
    if due is None:
        if target == RESOLUTION:
            await _met_while_paused(session, ticket, now, reason)
        return
    await _cancel_run(session, ticket, target, now)
    setattr(ticket, f"{target}_due_at", None)
    kind = "met" if now <= due else "met_late"
    _ledger(session, ticket, target, kind, due, reason, now)
    ticket.sla_state = _state_after(ticket, now)


async def _met_while_paused(
    session: AsyncSession, ticket: Ticket, now: datetime, reason: str
) -> None:
    """Resolved while waiting on the customer: the paused clock still had time, so it is met."""
    last = await session.scalar(
        select(SlaLedgerEntry)
        .where(SlaLedgerEntry.ticket_id == ticket.id, SlaLedgerEntry.target == RESOLUTION)
        .order_by(SlaLedgerEntry.id.desc())
        .limit(1)
    )
    if last is not None and last.kind == "paused":
        _ledger(session, ticket, RESOLUTION, "met", last.due_at, reason, now)


async def stop_all(*, session: AsyncSession, ticket: Ticket, now: datetime, reason: str) -> None:
    """Resolved or discarded: every running clock stops (resolution counts as met)."""
    for target in TARGETS:
        await target_met(session=session, ticket=ticket, target=target, now=now, reason=reason)


async def replan(*, session: AsyncSession, ticket: Ticket, now: datetime, reason: str) -> None:
    """The priority changed: running clocks get the new targets, counted from when they started.

    A due time that falls in the past is not back-dated: its breach fires at the next sweep.
    """
    targets, calendar = await _policy(session, ticket, now)
    for target in TARGETS:
        if getattr(ticket, f"{target}_due_at") is None:
            continue
        started = await _started_at(session, ticket, target) or ticket.created_at
        duration = getattr(targets, target)
        if duration is None:
            await target_met(session=session, ticket=ticket, target=target, now=now, reason=reason)
            continue
        await _arm(session, ticket, target, started, duration, targets, calendar, now, reason)


async def _arm(
    session: AsyncSession,
    ticket: Ticket,
    target: str,
    started: datetime,
    duration: timedelta,
    targets: Targets,
    calendar: BusinessCalendar,
    now: datetime,
    reason: str,
) -> None:
    paused = await _pauses(session, ticket, target, now)
    due = calendar.add(started, duration, paused=paused)
    warn_at = calendar.add(started, duration * targets.warn_fraction, paused=paused)
    await _schedule(session, ticket, target, due, warn_at, started, now)
    _ledger(session, ticket, target, "started", due, reason, now, started=started)


async def _schedule(
    session: AsyncSession,
    ticket: Ticket,
    target: str,
    due: datetime,
    warn_at: datetime | None,
    started: datetime,
    now: datetime,
    *,
    new_ticket: bool = False,
) -> None:
    setattr(ticket, f"{target}_due_at", due)
    payload = {"target": target, "due_at": due.isoformat(), "started_at": started.isoformat()}
    alarms = [(SLA_BREACH, due)] + ([(SLA_WARNING, warn_at)] if warn_at is not None else [])
    if new_ticket:
        # Keys of a ticket created in this transaction cannot exist yet: plain inserts, which
        # the flush sends as one statement, instead of one upsert round trip per timer.
        session.add_all(
            Timer(
                kind=kind,
                key=timer_key(ticket, target, started, kind),
                workspace_id=ticket.workspace_id,
                ticket_id=ticket.id,
                due_at=at,
                payload=payload,
                attempts=0,
                created_at=now,
            )
            for kind, at in alarms
        )
        return
    for kind, at in alarms:
        await schedule_timer(
            session=session,
            kind=kind,
            key=timer_key(ticket, target, started, kind),
            workspace_id=ticket.workspace_id,
            ticket_id=ticket.id,
            due_at=at,
            now=now,
            payload=payload,
        )


async def pause_resolution(
    *, session: AsyncSession, ticket: Ticket, now: datetime, reason: str
) -> None:
    """Waiting on the customer: the resolution clock stops; what was left is kept."""
    due = ticket.resolution_due_at
    if due is None or due <= now:
        return  # nothing running, or already overdue: a breach is not paused away
    await _cancel_run(session, ticket, RESOLUTION, now)
    ticket.resolution_due_at = None
    _ledger(session, ticket, RESOLUTION, "paused", due, reason, now)


async def resume_resolution(
    *, session: AsyncSession, ticket: Ticket, now: datetime, reason: str
) -> None:
    """The customer answered: the resolution clock runs on with the time it had left."""
    last = await session.scalar(
        select(SlaLedgerEntry)
        .where(SlaLedgerEntry.ticket_id == ticket.id, SlaLedgerEntry.target == RESOLUTION)
        .order_by(SlaLedgerEntry.id.desc())
        .limit(1)
    )
    if last is None or last.kind != "paused" or last.due_at is None:
        return
    targets, calendar = await _policy(session, ticket, now)
    remaining = calendar.between(last.at, last.due_at)
    due = calendar.add(now, remaining)
    warn_at = None
    if targets.resolution is not None:
        before_warning = remaining - targets.resolution * (1 - targets.warn_fraction)
        warn_at = calendar.add(now, before_warning) if before_warning > timedelta(0) else None
    started = await _started_at(session, ticket, RESOLUTION) or ticket.created_at
    await _schedule(session, ticket, RESOLUTION, due, warn_at, started, now)
    _ledger(session, ticket, RESOLUTION, "resumed", due, reason, now)


async def _pauses(
    session: AsyncSession, ticket: Ticket, target: str, now: datetime
) -> list[tuple[datetime, datetime]]:
    """The target's paused intervals so far (an open pause runs until now)."""
    rows = await session.scalars(
        select(SlaLedgerEntry)
        .where(
            SlaLedgerEntry.ticket_id == ticket.id,
            SlaLedgerEntry.target == target,
            SlaLedgerEntry.kind.in_(("paused", "resumed")),
        )
        .order_by(SlaLedgerEntry.id)
    )
    intervals, paused_at = [], None
    for row in rows:
        if row.kind == "paused":
            paused_at = row.at
        elif paused_at is not None:
            intervals.append((paused_at, row.at))
            paused_at = None
    if paused_at is not None:
        intervals.append((paused_at, now))
    return intervals


async def _policy(
    session: AsyncSession, ticket: Ticket, now: datetime
) -> tuple[Targets, BusinessCalendar]:
    return await _policy_of(session, ticket.workspace_id, ticket.priority, ticket.channel_id, now)


async def _policy_of(
    session: AsyncSession,
    workspace_id: int,
    priority: Priority,
    channel_id: str | None,
    now: datetime,
) -> tuple[Targets, BusinessCalendar]:
    targets = await targets_for(
        session=session, workspace_id=workspace_id, priority=priority, channel_id=channel_id
    )
    calendar = await calendar_for(
        session=session, workspace_id=workspace_id, years=range(now.year, now.year + 2)
    )
    return targets, calendar_or_always_open(calendar, targets)


async def _started_at(session: AsyncSession, ticket: Ticket, target: str) -> datetime | None:
    await session.flush()  # a run started in this very transaction counts
    return await session.scalar(_STARTED_AT, {"ticket_id": ticket.id, "target": target})


# Asked whenever a clock is met or re-planned (each agent reply): built once, with parameters.
_STARTED_AT = (
    select(SlaLedgerEntry.started_at)
    .where(
        SlaLedgerEntry.ticket_id == bindparam("ticket_id"),
        SlaLedgerEntry.target == bindparam("target"),
        SlaLedgerEntry.kind == "started",
    )
    .order_by(SlaLedgerEntry.id.desc())
    .limit(1)
)


def _ledger(
    session: AsyncSession,
    ticket: Ticket,
    target: str,
    kind: str,
    due: datetime | None,
    reason: str,
    now: datetime,
    *,
    started: datetime | None = None,
) -> None:
    session.add(
        SlaLedgerEntry(
            ticket_id=ticket.id,
            target=target,
            kind=kind,
            due_at=due,
            started_at=started,
            reason=reason,
            at=now,
            **ledger_context(ticket),
        )
    )


def ledger_context(ticket: Ticket) -> dict[str, Any]:
    """What a ledger row copies from its ticket, for the metrics by channel, agent and account."""
    return {
        "workspace_id": ticket.workspace_id,
        "channel_id": ticket.channel_id,
        "assignee_user_id": ticket.assignee_user_id,
        "account_name": ticket.account_name,
    }


def _state_after(ticket: Ticket, now: datetime) -> str:
    """A breach stays on the card until the ticket is done; a met target clears "at risk"."""
    return BREACHED if ticket.sla_state == BREACHED else ON_TRACK
