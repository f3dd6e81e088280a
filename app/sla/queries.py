"""Reading SLA state: where each clock of a ticket stands, the tickets at risk, the working week.

Read-only: nothing here moves a clock (app/sla/tracking.py does). A clock's state comes from the
ticket's running due times and its SLA ledger; time left and overdue are business time, counted
on the workspace's calendar, or around the clock for a priority whose policy says so.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, SQLColumnExpression, and_, case, or_, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import UTCDateTime
from app.errors import InvalidInput
from app.sla.calendar import BusinessCalendar
from app.sla.models import BusinessHours, SlaLedgerEntry
from app.sla.policies import (
    DEFAULT_WEEKLY_HOURS,
    Targets,
    calendar_for,
    calendar_or_always_open,
    describe_business_hours,
    targets_for,
)
from app.sla.tracking import AT_RISK, BREACHED, TARGETS
from app.tickets.enums import OPEN_STATUSES
from app.tickets.models import Ticket

MAX_PAGE_SIZE = 200
DEFAULT_PAGE_SIZE = 50
_BAD_CURSOR = "cursor is not valid; pass the next_cursor of a previous page."
_OUTCOMES = ("met", "met_late")


class RiskState(StrEnum):
    AT_RISK = AT_RISK
    BREACHED = BREACHED


class ClockStatus(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    MET = "met"
    BREACHED = "breached"  # still running past its due time, or met late
    NOT_STARTED = "not_started"


@dataclass(frozen=True)
class TargetClock:
    """One target of a ticket, as its latest clock run stands."""

    target: str
    status: ClockStatus
    started_at: datetime | None = None
    due_at: datetime | None = None
    remaining: timedelta | None = None  # business time left (running or paused)
    overdue: timedelta | None = None  # business time past due (breached and still running)
    paused_at: datetime | None = None
    warned_at: datetime | None = None
    met_at: datetime | None = None
    breached_at: datetime | None = None

    @property
    def paused(self) -> bool:
        return self.status is ClockStatus.PAUSED


@dataclass(frozen=True)
class TicketSla:
    ticket: Ticket
    now: datetime
    business_hours: bool
    clocks: list[TargetClock]
    ledger: list[SlaLedgerEntry]


async def ticket_sla(*, session: AsyncSession, ticket: Ticket, now: datetime) -> TicketSla:
    """Every target of the ticket, and its SLA ledger (oldest entry first)."""
    ledger = list(
        await session.scalars(
            select(SlaLedgerEntry)
            .where(SlaLedgerEntry.ticket_id == ticket.id)
            .order_by(SlaLedgerEntry.id)
        )
    )
    targets = await _targets(session, ticket)
    calendar = calendar_or_always_open(await _calendar(session, ticket.workspace_id, now), targets)
    clocks = [
        _clock(ticket, target, [e for e in ledger if e.target == target], calendar, now)
        for target in TARGETS
    ]
    return TicketSla(
        ticket=ticket,
        now=now,
        business_hours=targets.business_hours,
        clocks=clocks,
        ledger=ledger,
    )


def _clock(
    ticket: Ticket,
    target: str,
    entries: list[SlaLedgerEntry],
    calendar: BusinessCalendar,
    now: datetime,
) -> TargetClock:
    run = _latest_run(entries)
    if not run:
        return TargetClock(target, ClockStatus.NOT_STARTED)
    started = next((e.started_at or e.at for e in run if e.kind == "started"), None)
    warned = _last_at(run, "warned")
    breach = next((e for e in reversed(run) if e.kind == "breached"), None)
    outcome = next((e for e in reversed(run) if e.kind in _OUTCOMES), None)
    common: dict[str, Any] = {"started_at": started, "warned_at": warned}
    if outcome is not None:
        if outcome.kind == "met":
            return TargetClock(
                target, ClockStatus.MET, due_at=outcome.due_at, met_at=outcome.at, **common
            )
        return TargetClock(
            target,
            ClockStatus.BREACHED,
            due_at=outcome.due_at,
            met_at=outcome.at,
            breached_at=breach.at if breach else outcome.due_at,
            **common,
        )
    due = getattr(ticket, f"{target}_due_at", None)
    if due is not None:
        if now < due:
            return TargetClock(
                target,
                ClockStatus.RUNNING,
                due_at=due,
                remaining=calendar.between(now, due),
                **common,
            )
        return TargetClock(
            target,
            ClockStatus.BREACHED,
            due_at=due,
            overdue=calendar.between(due, now),
            breached_at=breach.at if breach else due,
            **common,
        )
    last = run[-1]
    if last.kind == "paused" and last.due_at is not None:
        if ticket.status in OPEN_STATUSES:
            # Frozen: what was left when the clock paused, until the customer answers.
            return TargetClock(
                target,
                ClockStatus.PAUSED,
                remaining=calendar.between(last.at, last.due_at),
                paused_at=last.at,
                **common,
            )
        # Resolved (or closed) while waiting on the customer: met, before its due time.
        done_at = ticket.resolved_at or ticket.closed_at or ticket.updated_at or last.at
        return TargetClock(target, ClockStatus.MET, met_at=done_at, **common)
    return TargetClock(target, ClockStatus.NOT_STARTED, **common)


def _latest_run(entries: list[SlaLedgerEntry]) -> list[SlaLedgerEntry]:
    """The entries of the target's latest clock run. A `started` entry opens a new run unless
    it re-plans the running one (same start after a priority change)."""
    runs: list[list[SlaLedgerEntry]] = []
    for entry in entries:
        current = runs[-1] if runs else None
        if current is None or (entry.kind == "started" and not _replans(current, entry)):
            runs.append([entry])
        else:
            current.append(entry)
    return runs[-1] if runs else []


def _replans(run: list[SlaLedgerEntry], started: SlaLedgerEntry) -> bool:
    """A `started` entry that re-plans the run (same start, run not decided yet)."""
    decided = any(e.kind in _OUTCOMES for e in run)
    return not decided and _run_start(run) == started.started_at


def _run_start(run: list[SlaLedgerEntry]) -> datetime | None:
    return next((e.started_at for e in run if e.kind == "started"), None)


def _last_at(run: list[SlaLedgerEntry], kind: str) -> datetime | None:
    return next((e.at for e in reversed(run) if e.kind == kind), None)


async def _targets(session: AsyncSession, ticket: Ticket) -> Targets:
    return await targets_for(
        session=session,
        workspace_id=ticket.workspace_id,
        priority=ticket.priority,
        channel_id=ticket.channel_id,
    )


async def _calendar(session: AsyncSession, workspace_id: int, now: datetime) -> BusinessCalendar:
    # Holidays of last year too: an overdue clock counts back across New Year.
    return await calendar_for(
        session=session, workspace_id=workspace_id, years=range(now.year - 1, now.year + 2)
    )


# -- tickets at risk ---------------------------------------------------------------------------


@dataclass(frozen=True)
class AtRisk:
    """An active ticket at risk or breached, with the running target that falls due first."""

    ticket: Ticket
    target: str | None
    due_at: datetime | None
    remaining: timedelta | None
    overdue: timedelta | None


@dataclass(frozen=True)
class AtRiskPage:
    items: list[AtRisk]
    next_cursor: str | None


def nearest_due() -> ColumnElement[datetime]:
    """The earliest running due time; NULL when no clock runs. Portable: SQLite's min() and
    PostgreSQL's least() treat NULLs differently."""

    def earlier(a: SQLColumnExpression[Any], b: SQLColumnExpression[Any]) -> ColumnElement[Any]:
        return case((a.is_(None), b), (b.is_(None), a), (a <= b, a), else_=b)

    return type_coerce(
        earlier(
            earlier(Ticket.first_response_due_at, Ticket.next_response_due_at),
            Ticket.resolution_due_at,
        ),
        UTCDateTime(),
    )


async def tickets_at_risk(
    *,
    session: AsyncSession,
    workspace_id: int,
    now: datetime,
    states: Sequence[RiskState] = tuple(RiskState),
    limit: int = DEFAULT_PAGE_SIZE,
    cursor: str | None = None,
) -> AtRiskPage:
    """Active tickets whose SLA state is in `states`, the one falling due first first (tickets
    with no running clock, e.g. breached and now waiting on the customer, last)."""
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidInput(f"limit must be between 1 and {MAX_PAGE_SIZE}.")
    due = nearest_due()
    query = select(Ticket).where(
        Ticket.workspace_id == workspace_id,
        Ticket.status.in_(sorted(OPEN_STATUSES)),
        Ticket.sla_state.in_([state.value for state in states]),
    )
    if cursor is not None:
        after_due, after_id = decode_cursor(cursor)
        if after_due is None:
            query = query.where(due.is_(None), Ticket.id > after_id)
        else:
            query = query.where(
                or_(due > after_due, and_(due == after_due, Ticket.id > after_id), due.is_(None))
            )
    order = (case((due.is_(None), 1), else_=0), due, Ticket.id)
    rows = list(await session.scalars(query.order_by(*order).limit(limit + 1)))
    tickets, more = rows[:limit], len(rows) > limit
    calendar = await _calendar(session, workspace_id, now)
    policies: dict[tuple[str, str | None], Targets] = {}
    items = []
    for ticket in tickets:
        policy_key = (ticket.priority.value, ticket.channel_id)
        if policy_key not in policies:
            policies[policy_key] = await _targets(session, ticket)
        items.append(_at_risk(ticket, calendar_or_always_open(calendar, policies[policy_key]), now))
    next_cursor = None
    if more:
        last = items[-1]
        next_cursor = encode_cursor(last.due_at, last.ticket.id)
    return AtRiskPage(items=items, next_cursor=next_cursor)


def _at_risk(ticket: Ticket, calendar: BusinessCalendar, now: datetime) -> AtRisk:
    running = [
        (due, target)
        for target in TARGETS
        if (due := getattr(ticket, f"{target}_due_at")) is not None
    ]
    if not running:
        return AtRisk(ticket, None, None, None, None)
    due, target = min(running)
    if now < due:
        return AtRisk(ticket, target, due, calendar.between(now, due), None)
    return AtRisk(ticket, target, due, None, calendar.between(due, now))


def encode_cursor(due: datetime | None, ticket_id: int) -> str:
    document = {"d": due.isoformat() if due else None, "i": ticket_id}
    raw = json.dumps(document, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime | None, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        document = json.loads(raw)
        due = None if document["d"] is None else datetime.fromisoformat(document["d"])
        ticket_id = document["i"]
    except (binascii.Error, ValueError, TypeError, KeyError):
        raise InvalidInput(_BAD_CURSOR) from None
    if not isinstance(ticket_id, int) or not 0 < ticket_id < 2**63:
        raise InvalidInput(_BAD_CURSOR)
    if due is not None and due.tzinfo is None:
        raise InvalidInput(_BAD_CURSOR)
    return due, ticket_id


# -- the working week --------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkingWeek:
    """The workspace's business hours as stored (or the default, if none are set)."""

    time_zone: str
    weekly_hours: dict[str, list[list[str]]]
    holiday_country: str | None
    holiday_subdivision: str | None
    closed_dates: list[date]
    is_default: bool
    description: str
    updated_by: str | None
    updated_at: datetime | None


async def working_week(*, session: AsyncSession, workspace_id: int) -> WorkingWeek:
    row = await session.get(BusinessHours, workspace_id, populate_existing=True)
    description = await describe_business_hours(session=session, workspace_id=workspace_id)
    if row is None:
        return WorkingWeek(
            time_zone="UTC",
            weekly_hours={
                day: [list(span) for span in spans] for day, spans in DEFAULT_WEEKLY_HOURS.items()
            },
            holiday_country=None,
            holiday_subdivision=None,
            closed_dates=[],
            is_default=True,
            description=description,
            updated_by=None,
            updated_at=None,
        )
    return WorkingWeek(
        time_zone=row.time_zone,
        weekly_hours=row.weekly_hours,
        holiday_country=row.holiday_country,
        holiday_subdivision=row.holiday_subdivision,
        closed_dates=sorted(date.fromisoformat(day) for day in row.closed_dates or []),
        is_default=False,
        description=description,
        updated_by=row.updated_by,
        updated_at=row.updated_at,
    )
