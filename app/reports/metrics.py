"""Support metrics for a period, overall and by day, channel, agent or account.

Each number counts what happened in the period [start, end):
- opened: tickets created in it; resolved: tickets resolved in it ("not a request" left out);
- first response time: created_at to first_response_at of the tickets first answered in it;
- resolution time: created_at to resolved_at of the tickets resolved in it;
- SLA: the targets decided in it, from the SLA ledger: met in time or met late (attainment is
  met / (met + met late)); breaches: breach alerts raised in it (a target still overdue at the
  end of the period is counted there, and as met late once it is met);
- CSAT: the surveys sent in it (score: share of 4 and 5 among the rated; response rate: rated
  among sent).

Days are calendar days in the workspace's time zone. Tickets are grouped by their channel,
assignee and account as they stand now; SLA outcomes and CSAT surveys by those at the time they
were recorded (both copy them), so a period's SLA and CSAT numbers do not move later.

On PostgreSQL everything is aggregated in SQL, percentiles with `percentile_cont`: each query is
one range scan of an index (index-only for tickets and the SLA ledger: migration 0010's covering
indexes), and the queries run in three lanes at once (see bench/metrics.py). On SQLite (the
small-team default) the period's rows are fetched and aggregated here, percentiles with the same
linear interpolation on the same float operations, so both databases give the same numbers.
"""

from __future__ import annotations

import asyncio
import math
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnExpressionArgument,
    DateTime,
    Float,
    Select,
    SQLColumnExpression,
    bindparam,
    func,
    literal_column,
    select,
    text,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from app.csat.enums import SATISFIED_MIN
from app.csat.models import CsatSurvey
from app.csat.stats import CsatNumbers
from app.errors import InvalidInput
from app.sla.models import OUTCOME_PREDICATE, BusinessHours, SlaLedgerEntry
from app.tickets.enums import TicketStatus
from app.tickets.models import Ticket
from app.workspaces.models import Workspace

DEFAULT_PERIOD = timedelta(days=30)
MAX_PERIOD = timedelta(days=366)
PERCENTILES = (0.5, 0.9)
# The reason the ticket service gives when a ticket is marked "not a request": its clocks stop
# as met, but such tickets are left out of every number.
NOT_A_REQUEST = "not a request"
WORK_MEM = "32MB"


class GroupBy(StrEnum):
    DAY = "day"
    CHANNEL = "channel"
    AGENT = "agent"
    ACCOUNT = "account"


@dataclass(frozen=True)
class Durations:
    """How long something took, in seconds: how many, the median and the 90th percentile."""

    count: int = 0
    median: float | None = None
    p90: float | None = None


@dataclass(frozen=True)
class SlaOutcomes:
    met: int = 0
    met_late: int = 0
    breaches: int = 0

    @property
    def decided(self) -> int:
        return self.met + self.met_late

    @property
    def attainment(self) -> float | None:
        """Percent of the targets decided in the period that were met in time."""
        return 100.0 * self.met / self.decided if self.decided else None

    def __add__(self, other: SlaOutcomes) -> SlaOutcomes:
        return SlaOutcomes(
            self.met + other.met, self.met_late + other.met_late, self.breaches + other.breaches
        )


@dataclass(frozen=True)
class GroupMetrics:
    """The numbers of one group (a day, channel, agent or account; None: no channel, unassigned,
    no account), or of the whole period."""

    key: str | None
    opened: int = 0
    first_response: Durations = field(default_factory=Durations)
    resolution: Durations = field(default_factory=Durations)
    sla: SlaOutcomes = field(default_factory=SlaOutcomes)
    csat: CsatNumbers = field(default_factory=CsatNumbers)

    @property
    def resolved(self) -> int:
        return self.resolution.count


@dataclass(frozen=True)
class MetricsReport:
    start: datetime
    end: datetime
    group_by: GroupBy
    time_zone: str
    totals: GroupMetrics
    groups: list[GroupMetrics]


def check_period(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """The period in UTC (times without a zone are UTC); InvalidInput if it is unusable."""
    start, end = _aware(start), _aware(end)
    if start >= end:
        raise InvalidInput("from must be earlier than to.")
    if end - start > MAX_PERIOD:
        raise InvalidInput(f"The period is at most {MAX_PERIOD.days} days long.")
    return start, end


async def reporting_time_zone(*, session: AsyncSession, workspace_id: int) -> str:
    """The zone whose calendar days the report uses: the business hours', else the workspace's."""
    zone = await session.scalar(
        select(BusinessHours.time_zone).where(BusinessHours.workspace_id == workspace_id)
    )
    if zone is None:
        zone = await session.scalar(select(Workspace.time_zone).where(Workspace.id == workspace_id))
    return zone or "UTC"


async def support_metrics(
    *,
    session: AsyncSession,
    workspace_id: int,
    start: datetime,
    end: datetime,
    group_by: GroupBy,
) -> MetricsReport:
    start, end = check_period(start, end)
    zone = await reporting_time_zone(session=session, workspace_id=workspace_id)
    period = _Period(workspace_id, start, end, group_by, zone)
    if session.get_bind().dialect.name == "postgresql":
        found = await _in_postgresql(session, period)
    else:
        found = await _in_python(session, period)
    return _report(period, found)


# -- what is counted ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Period:
    workspace_id: int
    start: datetime
    end: datetime
    group_by: GroupBy
    zone: str

    @cached_property
    def days(self) -> list[date]:
        """The calendar days (in the zone) the period touches."""
        zone = ZoneInfo(self.zone)
        first = self.start.astimezone(zone).date()
        last = (self.end - timedelta(microseconds=1)).astimezone(zone).date()
        return [first + timedelta(days=n) for n in range((last - first).days + 1)]


@dataclass(frozen=True)
class _Source:
    """One family of numbers: the rows it counts, the moment that places a row in the period
    (and in a day), and the columns it groups by."""

    time: SQLColumnExpression[datetime | None]
    channel: SQLColumnExpression[str | None]
    agent: SQLColumnExpression[str | None]
    account: SQLColumnExpression[str | None]
    conditions: Callable[[_Period], list[ColumnExpressionArgument[bool]]]

    def where(self, period: _Period) -> list[ColumnExpressionArgument[bool]]:
        return [*self.conditions(period), self.time >= period.start, self.time < period.end]

    def column(self, group_by: GroupBy) -> SQLColumnExpression[Any]:
        columns: dict[GroupBy, SQLColumnExpression[Any]] = {
            GroupBy.DAY: self.time,
            GroupBy.CHANNEL: self.channel,
            GroupBy.AGENT: self.agent,
            GroupBy.ACCOUNT: self.account,
        }
        return columns[group_by]


def _tickets(
    *extra: ColumnExpressionArgument[bool],
) -> Callable[[_Period], list[ColumnExpressionArgument[bool]]]:
    def conditions(period: _Period) -> list[ColumnExpressionArgument[bool]]:
        return [
            Ticket.workspace_id == period.workspace_id,
            *extra,
            Ticket.status != TicketStatus.DISCARDED,
        ]

    return conditions


def _ticket_source(
    time: SQLColumnExpression[datetime | None], *extra: ColumnExpressionArgument[bool]
) -> _Source:
    return _Source(
        time=time,
        channel=Ticket.channel_id,
        agent=Ticket.assignee_user_id,
        account=Ticket.account_name,
        conditions=_tickets(*extra),
    )


# The literal predicate of the partial index, so that the planner can use it with any parameters.
_ANSWERED = text("first_response_at IS NOT NULL")

_OPENED = _ticket_source(Ticket.created_at)
_FIRST_RESPONSE = _ticket_source(Ticket.first_response_at, _ANSWERED)
_RESOLUTION = _ticket_source(Ticket.resolved_at)
_SLA = _Source(
    time=SlaLedgerEntry.at,
    channel=SlaLedgerEntry.channel_id,
    agent=SlaLedgerEntry.assignee_user_id,
    account=SlaLedgerEntry.account_name,
    conditions=lambda period: [
        SlaLedgerEntry.workspace_id == period.workspace_id,
        OUTCOME_PREDICATE,
        SlaLedgerEntry.reason != NOT_A_REQUEST,
    ],
)
_CSAT = _Source(
    time=CsatSurvey.sent_at,
    channel=CsatSurvey.channel_id,
    agent=CsatSurvey.assignee_user_id,
    account=CsatSurvey.account_name,
    conditions=lambda period: [CsatSurvey.workspace_id == period.workspace_id],
)


@dataclass
class _Found:
    """What the queries found, by group key; durations also for the whole period."""

    opened: dict[str | None, int] = field(default_factory=dict)
    first_response: dict[str | None, Durations] = field(default_factory=dict)
    first_response_total: Durations = field(default_factory=Durations)
    resolution: dict[str | None, Durations] = field(default_factory=dict)
    resolution_total: Durations = field(default_factory=Durations)
    sla: dict[str | None, SlaOutcomes] = field(default_factory=dict)
    csat: dict[str | None, CsatNumbers] = field(default_factory=dict)


# -- PostgreSQL: aggregated in SQL -------------------------------------------------------------

_PERCENTILES = type_coerce(
    literal_column(f"ARRAY[{', '.join(str(p) for p in PERCENTILES)}]::float8[]"), ARRAY(Float)
)


async def _in_postgresql(session: AsyncSession, period: _Period) -> _Found:
    """Three lanes of queries, the caller's session running one and two short-lived sessions
    of the same engine the others, so that PostgreSQL works on them at once (each is one
    index-only scan; together they take about a third of the time one after the other)."""
    found = _Found()

    async def tickets_opened_and_answered(lane: AsyncSession) -> None:
        found.first_response, found.first_response_total = await _pg_durations(
            lane, period, _FIRST_RESPONSE, Ticket.created_at
        )
        found.opened = {
            key: int(count) for key, count in await _grouped(lane, period, _OPENED, func.count())
        }

    async def tickets_resolved_and_rated(lane: AsyncSession) -> None:
        found.resolution, found.resolution_total = await _pg_durations(
            lane, period, _RESOLUTION, Ticket.created_at
        )
        rating = CsatSurvey.rating
        found.csat = {
            key: CsatNumbers(int(sent), int(rated), int(satisfied), int(rating_sum or 0))
            for key, sent, rated, satisfied, rating_sum in await _grouped(
                lane,
                period,
                _CSAT,
                func.count(),
                func.count(rating),
                func.count().filter(rating >= SATISFIED_MIN),
                func.sum(rating),
            )
        }

    async def sla_outcomes(lane: AsyncSession) -> None:
        kind = SlaLedgerEntry.kind
        found.sla = {
            key: SlaOutcomes(int(met), int(late), int(breaches))
            for key, met, late, breaches in await _grouped(
                lane,
                period,
                _SLA,
                func.count().filter(kind == "met"),
                func.count().filter(kind == "met_late"),
                func.count().filter(kind == "breached"),
            )
        }

    lanes = (tickets_opened_and_answered, tickets_resolved_and_rated, sla_outcomes)
    engine = session.bind
    if not isinstance(engine, AsyncEngine):  # bound to one connection: one lane after another
        await _tune(session)
        for lane in lanes:
            await lane(session)
        return found
    async with asyncio.TaskGroup() as running:
        running.create_task(_tuned(session, lanes[0]))
        for lane in lanes[1:]:
            running.create_task(_in_own_session(engine, lane))
    return found


async def _tune(session: AsyncSession) -> None:
    # Room to sort a month of tickets in memory (the default 4 MB spills them to disk); no
    # parallel workers (the lanes already keep the cores busy) and no JIT compilation (it
    # costs more than it saves on queries of this size).
    settings = {"work_mem": WORK_MEM, "max_parallel_workers_per_gather": "0", "jit": "off"}
    await session.execute(
        select(*(func.set_config(name, value, True) for name, value in settings.items()))
    )


async def _tuned(session: AsyncSession, lane: Callable[[AsyncSession], Awaitable[None]]) -> None:
    await _tune(session)
    await lane(session)


async def _in_own_session(
    engine: AsyncEngine, lane: Callable[[AsyncSession], Awaitable[None]]
) -> None:
    """A read-only lane in a session (and pooled connection) of its own, closed when done."""
    async with AsyncSession(engine) as session, session.begin():
        await _tuned(session, lane)


def _pg_key(period: _Period, source: _Source) -> ColumnElement[Any]:
    column = source.column(period.group_by)
    if period.group_by is GroupBy.DAY:
        # The day's number in the period, by a binary search among the local midnights: much
        # cheaper per row than converting every timestamp to the zone's calendar date.
        midnights = [
            datetime.combine(day, time(0), tzinfo=ZoneInfo(period.zone)) for day in period.days[1:]
        ]
        edges = bindparam("day_starts", midnights, type_=ARRAY(DateTime(timezone=True)))
        return func.width_bucket(column, edges)
    # Grouping needs equality only: byte order sorts faster than a language's collation.
    return column.collate("C")


async def _grouped(
    session: AsyncSession, period: _Period, source: _Source, *aggregates: ColumnElement[Any]
) -> list[tuple[Any, ...]]:
    key = _pg_key(period, source).label("key")
    # GROUP BY 1: the key's expression may hold a parameter, which PostgreSQL would not
    # recognise as the same expression a second time.
    query = select(key, *aggregates).where(*source.where(period)).group_by(literal_column("1"))
    rows = await session.execute(query)
    return [(_key_text(period, row[0]), *row[1:]) for row in rows]


async def _pg_durations(
    session: AsyncSession, period: _Period, source: _Source, since: SQLColumnExpression[datetime]
) -> tuple[dict[str | None, Durations], Durations]:
    """Count, median and p90 per group and for the whole period, in one scan (GROUPING SETS)."""
    rows = (
        select(
            _pg_key(period, source).label("key"),
            # date_part, not extract: a float8 (extract gives numeric, slower to sort).
            func.date_part("epoch", source.time - since, type_=Float).label("seconds"),
        )
        .where(*source.where(period))
        .subquery()
    )
    query = select(
        func.grouping(rows.c.key),
        rows.c.key,
        func.count(),
        func.percentile_cont(_PERCENTILES).within_group(rows.c.seconds),
    ).group_by(func.grouping_sets(rows.c.key, literal_column("()")))
    groups: dict[str | None, Durations] = {}
    total = Durations()
    for is_total, key, count, values in await session.execute(query):
        median, p90 = values or (None, None)
        durations = Durations(int(count), median, p90)
        if is_total:
            total = durations
        else:
            groups[_key_text(period, key)] = durations
    return groups, total


def _key_text(period: _Period, value: object) -> str | None:
    if period.group_by is GroupBy.DAY:
        assert isinstance(value, int)
        return period.days[value].isoformat()
    return None if value is None else str(value)


# -- SQLite: the period's rows, aggregated here -------------------------------------------------


async def _in_python(session: AsyncSession, period: _Period) -> _Found:
    found = _Found()
    opened: dict[str | None, int] = defaultdict(int)
    for key, _ in await _rows(session, period, _OPENED):
        opened[key] += 1
    found.opened = dict(opened)
    found.first_response, found.first_response_total = _durations(
        await _rows(session, period, _FIRST_RESPONSE, Ticket.created_at)
    )
    found.resolution, found.resolution_total = _durations(
        await _rows(session, period, _RESOLUTION, Ticket.created_at)
    )
    sla: dict[str | None, SlaOutcomes] = defaultdict(SlaOutcomes)
    for key, (_, kind) in await _rows(session, period, _SLA, SlaLedgerEntry.kind):
        sla[key] += SlaOutcomes(
            met=int(kind == "met"),
            met_late=int(kind == "met_late"),
            breaches=int(kind == "breached"),
        )
    found.sla = dict(sla)
    csat: dict[str | None, list[int | None]] = defaultdict(list)
    for key, (_, rating) in await _rows(session, period, _CSAT, CsatSurvey.rating):
        csat[key].append(rating)
    found.csat = {key: _csat_numbers(ratings) for key, ratings in csat.items()}
    return found


async def _rows(
    session: AsyncSession, period: _Period, source: _Source, *columns: SQLColumnExpression[Any]
) -> list[tuple[str | None, tuple[Any, ...]]]:
    """(group key, (the moment, the other values)) for each row of the source in the period."""
    group_column = source.column(period.group_by)
    query: Select[Any] = select(group_column, source.time, *columns).where(*source.where(period))
    zone = ZoneInfo(period.zone)
    result = []
    for grouped, moment, *values in await session.execute(query):
        if period.group_by is GroupBy.DAY:
            key: str | None = moment.astimezone(zone).date().isoformat()
        else:
            key = grouped
        result.append((key, (moment, *values)))
    return result


def _durations(
    rows: Iterable[tuple[str | None, tuple[Any, ...]]],
) -> tuple[dict[str | None, Durations], Durations]:
    by_key: dict[str | None, list[float]] = defaultdict(list)
    every: list[float] = []
    for key, (ended, began) in rows:
        seconds = epoch_seconds(ended - began)
        by_key[key].append(seconds)
        every.append(seconds)
    return {key: _summarise(values) for key, values in by_key.items()}, _summarise(every)


def _summarise(values: list[float]) -> Durations:
    ordered = sorted(values)
    median, p90 = (percentile_cont(ordered, fraction) for fraction in PERCENTILES)
    return Durations(len(ordered), median, p90)


def epoch_seconds(span: timedelta) -> float:
    """Seconds as PostgreSQL's date_part('epoch', a - b) gives them: the whole days and the
    rest of the day are converted apart and added (timedelta.total_seconds() may differ in the
    last bit for spans of over a day)."""
    size = abs(span)
    seconds = (size.seconds * 1_000_000 + size.microseconds) / 1_000_000 + size.days * 86400
    return -seconds if span < timedelta(0) else seconds


def percentile_cont(ordered: Sequence[float], fraction: float) -> float | None:
    """PostgreSQL's percentile_cont over sorted values: linear interpolation between the two
    nearest ranks, computed the way PostgreSQL computes it (the same float operations)."""
    if not ordered:
        return None
    position = fraction * (len(ordered) - 1)
    lower, upper = math.floor(position), math.ceil(position)
    low = ordered[lower]
    if lower == upper:
        return low
    return low + (position - lower) * (ordered[upper] - low)


def _csat_numbers(ratings: list[int | None]) -> CsatNumbers:
    rated = [rating for rating in ratings if rating is not None]
    return CsatNumbers(
        sent=len(ratings),
        rated=len(rated),
        satisfied=sum(1 for rating in rated if rating >= SATISFIED_MIN),
        rating_sum=sum(rated),
    )


# -- the rows behind the numbers, for the daily rollups ---------------------------------------

Groups = tuple[str | None, str | None, str | None]  # (channel, agent, account)


@dataclass(frozen=True)
class PeriodRows:
    """What each number of a period is counted from, row by row, each with the channel, agent
    and account it is grouped by (app/reports/rollups.py keeps them a day at a time)."""

    opened: list[Groups]
    first_response: list[tuple[Groups, float]]  # seconds
    resolution: list[tuple[Groups, float]]
    sla: list[tuple[Groups, str]]  # met | met_late | breached
    csat: list[tuple[Groups, int | None]]  # the rating, None if unrated


async def period_rows(
    *, session: AsyncSession, workspace_id: int, start: datetime, end: datetime
) -> PeriodRows:
    """The rows the numbers of [start, end) are counted from, by the same definitions."""
    period = _Period(workspace_id, _aware(start), _aware(end), GroupBy.DAY, "UTC")

    async def fetch(source: _Source, *columns: SQLColumnExpression[Any]) -> list[Any]:
        query = select(source.channel, source.agent, source.account, *columns).where(
            *source.where(period)
        )
        return [((row[0], row[1], row[2]), *row[3:]) for row in await session.execute(query)]

    opened = [groups for (groups,) in await fetch(_OPENED)]
    answered = await fetch(_FIRST_RESPONSE, Ticket.first_response_at, Ticket.created_at)
    resolved = await fetch(_RESOLUTION, Ticket.resolved_at, Ticket.created_at)
    return PeriodRows(
        opened=opened,
        first_response=[(g, epoch_seconds(ended - began)) for g, ended, began in answered],
        resolution=[(g, epoch_seconds(ended - began)) for g, ended, began in resolved],
        sla=[(g, kind) for g, kind in await fetch(_SLA, SlaLedgerEntry.kind)],
        csat=[(g, rating) for g, rating in await fetch(_CSAT, CsatSurvey.rating)],
    )


# -- the report --------------------------------------------------------------------------------


def _report(period: _Period, found: _Found) -> MetricsReport:
    keys: list[str | None]
    if period.group_by is GroupBy.DAY:
        keys = [day.isoformat() for day in period.days]
    else:
        seen = set(found.opened) | set(found.first_response) | set(found.resolution)
        seen |= set(found.sla) | set(found.csat)
        # Busiest first; then by name, with "none" (no channel, unassigned, no account) last.
        keys = sorted(seen, key=lambda k: (-found.opened.get(k, 0), k is None, k or ""))
    groups = [
        GroupMetrics(
            key=key,
            opened=found.opened.get(key, 0),
            first_response=found.first_response.get(key, Durations()),
            resolution=found.resolution.get(key, Durations()),
            sla=found.sla.get(key, SlaOutcomes()),
            csat=found.csat.get(key, CsatNumbers()),
        )
        for key in keys
    ]
    totals = GroupMetrics(
        key=None,
        opened=sum(found.opened.values()),
        first_response=found.first_response_total,
        resolution=found.resolution_total,
        sla=sum(found.sla.values(), SlaOutcomes()),
        csat=_sum_csat(found.csat.values()),
    )
    return MetricsReport(
        start=period.start,
        end=period.end,
        group_by=period.group_by,
        time_zone=period.zone,
        totals=totals,
        groups=groups,
    )


def _sum_csat(numbers: Iterable[CsatNumbers]) -> CsatNumbers:
    sent = rated = satisfied = rating_sum = 0
    for n in numbers:
        sent, rated = sent + n.sent, rated + n.rated
        satisfied, rating_sum = satisfied + n.satisfied, rating_sum + n.rating_sum
    return CsatNumbers(sent, rated, satisfied, rating_sum)


def _aware(value: datetime) -> datetime:
    """In UTC; a time without a zone is taken as UTC."""
    return value.astimezone(UTC) if value.tzinfo is not None else value.replace(tzinfo=UTC)
