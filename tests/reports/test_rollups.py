"""Daily rollups give the report's numbers: the same counts as `support_metrics` over the same
rows (exactly), medians and 90th percentiles within 1%; days not built are counted from the
rows; a rebuilt day follows a ticket handed to someone else; the timer builds the days."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import delete, select, update

from app.reports.metrics import GroupBy, GroupMetrics, MetricsReport, support_metrics
from app.reports.models import ReportRollup, ReportRollupDay
from app.reports.rollups import (
    build_day,
    build_days,
    days_to_build,
    rolled_up_report,
)
from app.tickets.models import Ticket
from tests.reports import dataset
from tests.reports.test_metrics_report import seeded_workspace
from tests.tickets.helpers import open_tickets, watch

DAYS = (date(2026, 1, 5), date(2026, 1, 6))
LATER = datetime(2026, 1, 8, 12, tzinfo=UTC)  # both days are over


def same_numbers(rolled: GroupMetrics, exact: GroupMetrics) -> None:
    assert rolled.key == exact.key
    assert (rolled.opened, rolled.sla, rolled.csat) == (exact.opened, exact.sla, exact.csat)
    for mine, theirs in (
        (rolled.first_response, exact.first_response),
        (rolled.resolution, exact.resolution),
    ):
        assert mine.count == theirs.count
        for value, expected in ((mine.median, theirs.median), (mine.p90, theirs.p90)):
            if expected is None:
                assert value is None
            else:
                assert value == pytest.approx(expected, rel=0.01)


def same_report(rolled: MetricsReport, exact: MetricsReport) -> None:
    same_numbers(rolled.totals, exact.totals)
    assert [g.key for g in rolled.groups] == [g.key for g in exact.groups]
    for mine, theirs in zip(rolled.groups, exact.groups, strict=True):
        same_numbers(mine, theirs)


async def rolled(session_factory, workspace_id: int, group_by: GroupBy) -> MetricsReport:
    async with session_factory() as session, session.begin():
        return await rolled_up_report(
            session=session,
            workspace_id=workspace_id,
            first_day=DAYS[0],
            last_day=DAYS[1],
            group_by=group_by,
            now=LATER,
        )


async def exact(session_factory, workspace_id: int, group_by: GroupBy) -> MetricsReport:
    async with session_factory() as session, session.begin():
        return await support_metrics(
            session=session,
            workspace_id=workspace_id,
            start=dataset.START,
            end=dataset.END,
            group_by=group_by,
        )


async def build(session_factory, workspace_id: int, days=DAYS, now=LATER) -> None:
    async with session_factory() as session, session.begin():
        await build_days(
            session=session, workspace_id=workspace_id, days=list(days), zone="UTC", now=now
        )


@pytest.mark.parametrize("group_by", list(GroupBy))
async def test_rollups_give_the_reports_numbers(session_factory, group_by):
    workspace_id = await seeded_workspace(session_factory)
    from_rows = await rolled(session_factory, workspace_id, group_by)  # nothing built yet

    await build(session_factory, workspace_id)
    from_rollups = await rolled(session_factory, workspace_id, group_by)

    expected = await exact(session_factory, workspace_id, group_by)
    same_report(from_rows, expected)
    same_report(from_rollups, expected)
    async with session_factory() as session:
        rows = await session.scalar(
            select(ReportRollup.id).where(ReportRollup.workspace_id == workspace_id).limit(1)
        )
    assert rows is not None  # the second report read rollups


async def test_a_rebuilt_day_follows_a_ticket_handed_to_someone_else(session_factory):
    workspace_id = await seeded_workspace(session_factory)
    await build(session_factory, workspace_id)
    async with session_factory() as session, session.begin():
        await session.execute(
            update(Ticket)
            .where(Ticket.workspace_id == workspace_id, Ticket.assignee_user_id == "UB")
            .values(assignee_user_id="UC")
        )

    stale = await rolled(session_factory, workspace_id, GroupBy.AGENT)
    await build(session_factory, workspace_id)
    fresh = await rolled(session_factory, workspace_id, GroupBy.AGENT)

    def opened(report: MetricsReport) -> dict[str | None, int]:
        return {g.key: g.opened for g in report.groups}

    # Tickets count for their assignee as it stands now (SLA and CSAT numbers stay with whom
    # they recorded): the day's tickets move once the day is built again.
    assert opened(stale).get("UB") and not opened(stale).get("UC")
    assert not opened(fresh).get("UB") and opened(fresh)["UC"] == opened(stale)["UB"]
    same_report(fresh, await exact(session_factory, workspace_id, GroupBy.AGENT))


async def test_which_days_are_built_next(session_factory):
    workspace_id = await seeded_workspace(session_factory)
    today = date(2026, 1, 8)
    now = datetime(2026, 1, 8, 12, tzinfo=UTC)
    async with session_factory() as session, session.begin():
        first = await days_to_build(
            session=session, workspace_id=workspace_id, today=today, zone="UTC", now=now, limit=3
        )
        for day in first:
            await build_day(
                session=session, workspace_id=workspace_id, day=day, zone="UTC", now=now
            )
        second = await days_to_build(
            session=session, workspace_id=workspace_id, today=today, zone="UTC", now=now, limit=3
        )
        for day in second:
            await build_day(
                session=session, workspace_id=workspace_id, day=day, zone="UTC", now=now
            )
        done = await days_to_build(
            session=session, workspace_id=workspace_id, today=today, zone="UTC", now=now, limit=3
        )
        later = await days_to_build(
            session=session,
            workspace_id=workspace_id,
            today=today,
            zone="UTC",
            now=now + timedelta(hours=13),
            limit=2,
        )

    # Today (so far), then the days never built, newest first.
    assert first == [date(2026, 1, 8), date(2026, 1, 7), date(2026, 1, 6)]
    # Back to the day of the first ticket (T7, opened on the 3rd), and no further.
    assert second == [date(2026, 1, 5), date(2026, 1, 4), date(2026, 1, 3)]
    assert done == []  # every day counted, today's count fresh
    # Half a day on: today again, then the stalest of the days built.
    assert later == [date(2026, 1, 8), date(2026, 1, 3)]


async def test_the_timer_builds_the_days_and_comes_back(running_app, clock):
    """`serve` arms the timer; it builds the days since the first ticket as they end."""
    await watch(running_app, "CSUPPORT")
    await open_tickets(running_app, "Printer on fire")
    await running_app.runtime.timer_sweeper.sweep_until_idle()
    async with running_app.runtime.session_factory() as session:  # today, so far
        assert list(await session.scalars(select(ReportRollupDay.day))) == [date(2026, 1, 5)]

    clock.advance(days=2)
    await running_app.runtime.timer_sweeper.sweep_until_idle()

    async with running_app.runtime.session_factory() as session:
        built = sorted(await session.scalars(select(ReportRollupDay.day)))
        [opened] = await session.scalars(
            select(ReportRollup.opened).where(
                ReportRollup.grouping == "day", ReportRollup.opened > 0
            )
        )
    first = date(2026, 1, 5)  # rebuilt: built before it ended
    assert built == [first, first + timedelta(days=1), first + timedelta(days=2)]
    assert opened == 1


async def test_a_long_breakdown_reads_whole_months(session_factory):
    """December and January lie wholly in the period: a breakdown reads their month rows (the
    days' rows are not needed, and here are gone), with the same numbers."""
    workspace_id = await seeded_workspace(session_factory)
    february = datetime(2026, 2, 10, tzinfo=UTC)
    january = [date(2026, 1, 1) + timedelta(days=n) for n in range(31)]
    await build(session_factory, workspace_id, days=january, now=february)
    async with session_factory() as session, session.begin():
        await session.execute(
            delete(ReportRollup).where(
                ReportRollup.workspace_id == workspace_id, ReportRollup.grouping != "day"
            )
        )
        report = await rolled_up_report(
            session=session,
            workspace_id=workspace_id,
            first_day=date(2025, 12, 1),
            last_day=date(2026, 1, 31),
            group_by=GroupBy.ACCOUNT,
            now=february,
        )
        expected = await support_metrics(
            session=session,
            workspace_id=workspace_id,
            start=datetime(2025, 12, 1, tzinfo=UTC),
            end=datetime(2026, 2, 1, tzinfo=UTC),
            group_by=GroupBy.ACCOUNT,
        )

    same_report(report, expected)
    assert report.totals.opened == expected.totals.opened > 0


async def test_a_period_in_the_future_is_empty(session_factory):
    workspace_id = await seeded_workspace(session_factory)
    async with session_factory() as session, session.begin():
        report = await rolled_up_report(
            session=session,
            workspace_id=workspace_id,
            first_day=date(2026, 2, 1),
            last_day=date(2026, 2, 7),
            group_by=GroupBy.CHANNEL,
            now=LATER,
        )

    assert (report.groups, report.totals.opened) == ([], 0)
