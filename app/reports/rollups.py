"""Daily rollups: the support metrics of each calendar day, kept so that a report over a long
period reads a few rows a day instead of every ticket of the period.

A day's rollup is rebuilt whole from the tickets, the SLA ledger and the CSAT surveys
(`metrics.period_rows`, the report's own definitions), never patched: one writer, and a
rebuilt day is exactly what a report of that day says. A self-rescheduling timer per workspace
rebuilds yesterday and today's earlier days as they end, builds the days not built yet (the
newest first, in catch-up runs one after another), and rebuilds each older day again once it
is `STALE_AFTER` old, because tickets are grouped by their channel, assignee and account as
they stand now and those change. A report reads the rollups of built days and counts the days
not built (today always) from the rows, so it is never wrong, only slower before the first
build.

Counts are exact; medians and 90th percentiles are read from the days' histograms, within 1%
of the exact figures (`app/reports/histogram.py`).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.csat.enums import SATISFIED_MIN
from app.csat.stats import CsatNumbers
from app.reports import histogram
from app.reports.metrics import (
    PERCENTILES,
    Durations,
    GroupBy,
    GroupMetrics,
    MetricsReport,
    PeriodRows,
    SlaOutcomes,
    period_rows,
    reporting_time_zone,
)
from app.reports.models import ReportRollup, ReportRollupDay, ReportRollupMonth, RollupNumbers
from app.tickets.models import Ticket
from app.timers.handlers import TimerHandlers
from app.timers.models import Timer
from app.timers.service import is_armed, schedule_timer

ROLLUPS = "reports.rollups"
REFRESH_EVERY = timedelta(minutes=15)
STALE_AFTER = timedelta(hours=12)
KEPT_DAYS = 2 * 366  # a year's report and the year before it
# A run is one transaction of the timer sweep, which meanwhile handles no other timer (SLA
# alerts among them): a few days at a time (about 0.6 s at a million tickets a year), and the
# next run at once while days are left.
DAYS_PER_RUN = {"postgresql": 3, "sqlite": 2}
WHOLE_DAY = "day"

Cells = dict[tuple[str, str], "Cell"]


@dataclass
class Cell:
    """One grouping's numbers over some days."""

    opened: int = 0
    first_response: histogram.Counts = field(default_factory=histogram.empty)
    resolution: histogram.Counts = field(default_factory=histogram.empty)
    sla: SlaOutcomes = field(default_factory=SlaOutcomes)
    csat: CsatNumbers = field(default_factory=CsatNumbers)

    def add(self, other: Cell) -> None:
        self.opened += other.opened
        self.first_response += other.first_response
        self.resolution += other.resolution
        self.sla += other.sla
        self.add_csat(other.csat)

    def add_csat(self, more: CsatNumbers) -> None:
        self.csat = CsatNumbers(
            self.csat.sent + more.sent,
            self.csat.rated + more.rated,
            self.csat.satisfied + more.satisfied,
            self.csat.rating_sum + more.rating_sum,
        )

    def metrics(self, key: str | None) -> GroupMetrics:
        return GroupMetrics(
            key=key,
            opened=self.opened,
            first_response=_durations(self.first_response),
            resolution=_durations(self.resolution),
            sla=self.sla,
            csat=self.csat,
        )

    def columns(self) -> dict[str, Any]:
        """As a rollup row stores it."""
        return {
            "opened": self.opened,
            "first_response": histogram.encode(self.first_response),
            "resolution": histogram.encode(self.resolution),
            "sla_met": self.sla.met,
            "sla_met_late": self.sla.met_late,
            "sla_breaches": self.sla.breaches,
            "csat_sent": self.csat.sent,
            "csat_rated": self.csat.rated,
            "csat_satisfied": self.csat.satisfied,
            "csat_rating_sum": self.csat.rating_sum,
        }

    @classmethod
    def from_numbers(
        cls,
        opened: int,
        first_response: bytes,
        resolution: bytes,
        *counts: int,
    ) -> Cell:
        """A rollup row's numbers, in its columns' order."""
        met, met_late, breaches, sent, rated, satisfied, rating_sum = counts
        return cls(
            opened=opened,
            first_response=histogram.decode(first_response),
            resolution=histogram.decode(resolution),
            sla=SlaOutcomes(met, met_late, breaches),
            csat=CsatNumbers(sent, rated, satisfied, rating_sum),
        )


def cells_of(rows: PeriodRows) -> Cells:
    """Each grouping's numbers: the whole day, and each channel, agent and account."""
    cells: Cells = {}

    of_groups: dict[tuple[str | None, str | None, str | None], list[Cell]] = {}

    def each(groups: tuple[str | None, str | None, str | None]) -> list[Cell]:
        found = of_groups.get(groups)
        if found is None:
            channel, agent, account = groups
            keys = (
                (WHOLE_DAY, ""),
                (GroupBy.CHANNEL.value, channel or ""),
                (GroupBy.AGENT.value, agent or ""),
                (GroupBy.ACCOUNT.value, account or ""),
            )
            found = of_groups[groups] = [
                cells[key] if key in cells else cells.setdefault(key, Cell()) for key in keys
            ]
        return found

    for groups in rows.opened:
        for cell in each(groups):
            cell.opened += 1
    # Each cell's durations as bucket indexes first, counted at once at the end: adding one
    # to a numpy array element by element costs more than the list.
    first_response: dict[int, list[int]] = {}
    resolution: dict[int, list[int]] = {}
    for groups, seconds in rows.first_response:
        index = histogram.index_of(seconds)
        for cell in each(groups):
            first_response.setdefault(id(cell), []).append(index)
    for groups, seconds in rows.resolution:
        index = histogram.index_of(seconds)
        for cell in each(groups):
            resolution.setdefault(id(cell), []).append(index)
    for groups, kind in rows.sla:
        outcome = SlaOutcomes(
            met=int(kind == "met"),
            met_late=int(kind == "met_late"),
            breaches=int(kind == "breached"),
        )
        for cell in each(groups):
            cell.sla += outcome
    for groups, rating in rows.csat:
        one = CsatNumbers(
            sent=1,
            rated=int(rating is not None),
            satisfied=int(rating is not None and rating >= SATISFIED_MIN),
            rating_sum=rating or 0,
        )
        for cell in each(groups):
            cell.add_csat(one)
    for cell in cells.values():
        cell.first_response = histogram.of_indexes(first_response.get(id(cell), []))
        cell.resolution = histogram.of_indexes(resolution.get(id(cell), []))
    return cells


async def day_cells(
    *, session: AsyncSession, workspace_id: int, day: date, zone: str, until: datetime | None = None
) -> Cells:
    """One calendar day's numbers, counted from the rows (up to `until` for today)."""
    start = datetime.combine(day, time(), ZoneInfo(zone))
    end = datetime.combine(day + timedelta(days=1), time(), ZoneInfo(zone))
    if until is not None:
        end = min(end, until)
    rows = await period_rows(session=session, workspace_id=workspace_id, start=start, end=end)
    # Counting a busy day is some 100 ms of CPU: on a worker thread, so that requests (Slack's
    # among them) are not held back meanwhile.
    return await asyncio.to_thread(cells_of, rows)


async def build_day(
    *, session: AsyncSession, workspace_id: int, day: date, zone: str, now: datetime
) -> None:
    """Rebuild one day's rollup from the rows, whole."""
    cells = await day_cells(session=session, workspace_id=workspace_id, day=day, zone=zone)
    await session.execute(
        delete(ReportRollup).where(
            ReportRollup.workspace_id == workspace_id, ReportRollup.day == day
        )
    )
    await session.execute(
        delete(ReportRollupDay).where(
            ReportRollupDay.workspace_id == workspace_id, ReportRollupDay.day == day
        )
    )
    session.add_all(
        ReportRollup(
            workspace_id=workspace_id, day=day, grouping=grouping, key=key, **cell.columns()
        )
        for (grouping, key), cell in cells.items()
    )
    session.add(ReportRollupDay(workspace_id=workspace_id, day=day, built_at=now))
    await session.flush()


async def build_month(*, session: AsyncSession, workspace_id: int, month: date) -> None:
    """Rebuild a month's rollup as the sum of its days' (built before, in this transaction)."""
    end = _next_month(month)
    sums: dict[tuple[str, str], _Sums] = {}
    for grouping, key, *numbers in await session.execute(
        select(ReportRollup.grouping, ReportRollup.key, *_numbers_of(ReportRollup)).where(
            ReportRollup.workspace_id == workspace_id,
            ReportRollup.day >= month,
            ReportRollup.day < end,
        )
    ):
        sums.setdefault((grouping, key), _Sums()).add(numbers)
    cells = {group: added.cell() for group, added in sums.items()}
    await session.execute(
        delete(ReportRollupMonth).where(
            ReportRollupMonth.workspace_id == workspace_id, ReportRollupMonth.month == month
        )
    )
    session.add_all(
        ReportRollupMonth(
            workspace_id=workspace_id, month=month, grouping=grouping, key=key, **cell.columns()
        )
        for (grouping, key), cell in cells.items()
    )
    await session.flush()


async def build_days(
    *, session: AsyncSession, workspace_id: int, days: list[date], zone: str, now: datetime
) -> None:
    """Rebuild these days, then the months they fall in."""
    for day in days:
        await build_day(session=session, workspace_id=workspace_id, day=day, zone=zone, now=now)
    for month in sorted({day.replace(day=1) for day in days}):
        await build_month(session=session, workspace_id=workspace_id, month=month)


def _numbers_of(model: type[RollupNumbers]) -> tuple[Any, ...]:
    return (
        model.opened,
        model.first_response,
        model.resolution,
        model.sla_met,
        model.sla_met_late,
        model.sla_breaches,
        model.csat_sent,
        model.csat_rated,
        model.csat_satisfied,
        model.csat_rating_sum,
    )


def _next_month(month: date) -> date:
    return (month.replace(day=28) + timedelta(days=4)).replace(day=1)


async def days_to_build(
    *,
    session: AsyncSession,
    workspace_id: int,
    today: date,
    zone: str,
    now: datetime,
    limit: int,
) -> list[date]:
    """Today when its last count is `REFRESH_EVERY` old; then the days never built or built
    before they ended (yesterday first, newest first); then the stalest. None before the
    workspace's first ticket (the days before it have nothing to count)."""
    earliest = await session.scalar(
        select(func.min(Ticket.created_at)).where(Ticket.workspace_id == workspace_id)
    )
    if earliest is None:
        return []
    tz = ZoneInfo(zone)
    first = max(today - timedelta(days=KEPT_DAYS), earliest.astimezone(tz).date())
    built = dict(
        (day, built_at)
        for day, built_at in await session.execute(
            select(ReportRollupDay.day, ReportRollupDay.built_at).where(
                ReportRollupDay.workspace_id == workspace_id,
                ReportRollupDay.day >= first,
                ReportRollupDay.day <= today,
            )
        )
    )
    wanted: list[date] = []
    if today >= first and (built.get(today) is None or built[today] < now - REFRESH_EVERY):
        wanted.append(today)
    days = (today - timedelta(days=n) for n in range(1, (today - first).days + 1))
    unfinished = [
        day
        for day in days
        if built.get(day) is None
        or built[day] < datetime.combine(day + timedelta(days=1), time(), tz)
    ]
    wanted += unfinished[: max(limit - len(wanted), 0)]
    stale = sorted(
        (at, day)
        for day, at in built.items()
        if at < now - STALE_AFTER and day != today and day not in unfinished
    )
    wanted += [day for _, day in stale][: max(limit - len(wanted), 0)]
    return wanted[:limit]


async def rolled_up_report(
    *,
    session: AsyncSession,
    workspace_id: int,
    first_day: date,
    last_day: date,
    group_by: GroupBy,
    now: datetime,
    group_percentiles: bool = True,
) -> MetricsReport:
    """The report of the calendar days first_day..last_day (up to now), as `support_metrics`
    gives it, read from the rollups where the days are built: a breakdown by channel, agent or
    account reads the months that lie wholly in the period and are wholly built as months.

    `group_percentiles=False` leaves each group's median and 90th percentile out (their counts
    stay; the totals keep theirs): a previous period drawn beside the current one as counts
    needs no year of daily medians."""
    zone = await reporting_time_zone(session=session, workspace_id=workspace_id)
    today = now.astimezone(ZoneInfo(zone)).date()
    last_day = min(last_day, today)
    days = [first_day + timedelta(days=n) for n in range((last_day - first_day).days + 1)]
    groupings = sorted({WHOLE_DAY} if group_by is GroupBy.DAY else {WHOLE_DAY, group_by.value})
    built = set(
        await session.scalars(
            select(ReportRollupDay.day).where(
                ReportRollupDay.workspace_id == workspace_id,
                ReportRollupDay.day >= first_day,
                ReportRollupDay.day <= last_day,
            )
        )
    )
    earliest = await session.scalar(
        select(func.min(Ticket.created_at)).where(Ticket.workspace_id == workspace_id)
    )
    # Days before the first ticket have nothing to count (and are never built).
    since = earliest.astimezone(ZoneInfo(zone)).date() if earliest is not None else None
    counted = {day for day in days if day in built or since is None or day < since}
    months = [] if group_by is GroupBy.DAY else _whole_months(days, counted, today)
    in_months = {day for day in days if day.replace(day=1) in months}
    rest = [day for day in days if day not in in_months]
    # Columns, not objects: a period's rows may be thousands. A day's cells are kept apart
    # for a report by day; otherwise every row is added into its group as it comes.
    by_day: dict[date, Cells] = {}
    sums: dict[tuple[str, str], _Sums] = {}
    if months:
        for grouping, key, *numbers in await session.execute(
            select(
                ReportRollupMonth.grouping,
                ReportRollupMonth.key,
                *_numbers_of(ReportRollupMonth),
            ).where(
                ReportRollupMonth.workspace_id == workspace_id,
                ReportRollupMonth.month.in_(months),
                ReportRollupMonth.grouping.in_(groupings),
            )
        ):
            sums.setdefault((grouping, key), _Sums()).add(numbers)
    if rest:
        for day, grouping, key, *numbers in await session.execute(
            select(
                ReportRollup.day,
                ReportRollup.grouping,
                ReportRollup.key,
                *_numbers_of(ReportRollup),
            ).where(
                ReportRollup.workspace_id == workspace_id,
                or_(*(ReportRollup.day.between(a, b) for a, b in _runs(rest))),
                ReportRollup.grouping.in_(groupings),
            )
        ):
            if day not in built or day in in_months:
                continue
            if group_by is GroupBy.DAY:
                by_day.setdefault(day, {})[(grouping, key)] = Cell.from_numbers(*numbers)
            else:
                sums.setdefault((grouping, key), _Sums()).add(numbers)
    merged = {group: added.cell() for group, added in sums.items()}
    for day in rest:
        if day not in counted:  # not built yet: counted from the rows
            cells = await day_cells(
                session=session, workspace_id=workspace_id, day=day, zone=zone, until=now
            )
            by_day[day] = cells
            for group, cell in cells.items():
                merged.setdefault(group, Cell()).add(cell)
    return _report(by_day, merged, days, group_by, zone, now, group_percentiles)


class _Sums:
    """Rollup rows of one group added up as they are read: the counts at once, the
    histograms' bytes kept and decoded together at the end (one array operation for all of
    them, not one a row)."""

    __slots__ = ("counts", "first_response", "resolution")

    def __init__(self) -> None:
        self.counts = [0] * 8
        self.first_response: list[bytes] = []
        self.resolution: list[bytes] = []

    def add(self, numbers: list[Any]) -> None:
        """A row's numbers, in `_numbers_of`'s order."""
        opened, first_response, resolution, *counts = numbers
        self.counts[0] += opened
        for n, count in enumerate(counts, start=1):
            self.counts[n] += count
        self.first_response.append(first_response)
        self.resolution.append(resolution)

    def cell(self) -> Cell:
        opened, met, met_late, breaches, sent, rated, satisfied, rating_sum = self.counts
        return Cell(
            opened=opened,
            first_response=histogram.decode_all(self.first_response),
            resolution=histogram.decode_all(self.resolution),
            sla=SlaOutcomes(met, met_late, breaches),
            csat=CsatNumbers(sent, rated, satisfied, rating_sum),
        )


def _runs(days: list[date]) -> list[tuple[date, date]]:
    """Sorted days as runs of consecutive days: (first, last) each."""
    runs: list[tuple[date, date]] = []
    for day in days:
        if runs and day == runs[-1][1] + timedelta(days=1):
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs


def _whole_months(days: list[date], counted: set[date], today: date) -> list[date]:
    """The months whose every day is in `days`, counted, and over (not today's month)."""
    wanted = set(days)
    months = []
    for month in sorted({day.replace(day=1) for day in days}):
        month_days = [month + timedelta(days=n) for n in range((_next_month(month) - month).days)]
        if month_days[-1] < today and all(d in wanted and d in counted for d in month_days):
            months.append(month)
    return months


def _report(
    by_day: dict[date, Cells],
    merged: Cells,
    days: list[date],
    group_by: GroupBy,
    zone: str,
    now: datetime,
    group_percentiles: bool,
) -> MetricsReport:
    totals = Cell()
    groups: dict[str | None, Cell] = {}
    if group_by is GroupBy.DAY:
        nothing = Cell()  # the days with nothing, all alike (never changed)
        for day in days:
            whole = by_day.get(day, {}).get((WHOLE_DAY, ""), nothing)
            totals.add(whole)
            groups[day.isoformat()] = whole
        keys: list[str | None] = [day.isoformat() for day in days]
    else:
        for (grouping, key), cell in merged.items():
            if grouping == WHOLE_DAY:
                totals.add(cell)
            elif grouping == group_by.value:
                groups.setdefault(key or None, Cell()).add(cell)
        keys = sorted(groups, key=lambda k: (-groups[k].opened, k is None, k or ""))
    tz = ZoneInfo(zone)
    start = datetime.combine(days[0], time(), tz) if days else now
    end = min(now, datetime.combine(days[-1] + timedelta(days=1), time(), tz)) if days else now
    return MetricsReport(
        start=start,
        end=end,
        group_by=group_by,
        time_zone=zone,
        totals=totals.metrics(None),
        groups=_group_metrics([groups[key] for key in keys], keys, group_percentiles),
    )


def _group_metrics(
    cells: list[Cell], keys: list[str | None], percentiles: bool
) -> list[GroupMetrics]:
    """Each group's metrics, the medians and 90th percentiles of all groups read at once."""
    if not cells:
        return []
    durations: list[list[Durations]] = []
    for histograms in (
        np.stack([cell.first_response for cell in cells]),
        np.stack([cell.resolution for cell in cells]),
    ):
        counts = histograms.sum(axis=1)
        found: list[list[float | None]] = (
            histogram.percentiles_of_rows(histograms, PERCENTILES)
            if percentiles
            else [[None, None] for _ in cells]
        )
        durations.append(
            [
                Durations(int(count), median, p90) if count else Durations()
                for count, (median, p90) in zip(counts, found, strict=True)
            ]
        )
    return [
        GroupMetrics(
            key=key,
            opened=cell.opened,
            first_response=first,
            resolution=resolution,
            sla=cell.sla,
            csat=cell.csat,
        )
        for key, cell, first, resolution in zip(keys, cells, *durations, strict=True)
    ]


def _durations(counts: histogram.Counts) -> Durations:
    median, p90 = histogram.percentiles(counts, PERCENTILES)
    if median is None:
        return Durations()
    return Durations(int(counts.sum()), median, p90)


# -- keeping them built ------------------------------------------------------------------------


def _key(workspace_id: int) -> str:
    return f"rollups:{workspace_id}"


async def ensure_rollups(*, session: AsyncSession, workspace_id: int, now: datetime) -> None:
    """At start-up and install: arm the rollups' timer unless it is armed (first run: now)."""
    if not await is_armed(session=session, key=_key(workspace_id)):
        await schedule_timer(
            session=session,
            kind=ROLLUPS,
            key=_key(workspace_id),
            workspace_id=workspace_id,
            due_at=now,
            now=now,
        )


def register_rollup_handler(handlers: TimerHandlers) -> None:
    async def on_rollups(session: AsyncSession, timer: Timer, now: datetime, late: bool) -> None:
        zone = await reporting_time_zone(session=session, workspace_id=timer.workspace_id)
        today = now.astimezone(ZoneInfo(zone)).date()
        limit = DAYS_PER_RUN.get(session.get_bind().dialect.name, 10)
        days = await days_to_build(
            session=session,
            workspace_id=timer.workspace_id,
            today=today,
            zone=zone,
            now=now,
            limit=limit,
        )
        await build_days(
            session=session, workspace_id=timer.workspace_id, days=days, zone=zone, now=now
        )
        # Catching up (days were left for the next run): go again at once; else in a while.
        due = now if len(days) == limit else now + REFRESH_EVERY
        await schedule_timer(
            session=session,
            kind=ROLLUPS,
            key=_key(timer.workspace_id),
            workspace_id=timer.workspace_id,
            due_at=due,
            now=now,
        )

    handlers.register(ROLLUPS, on_rollups)
