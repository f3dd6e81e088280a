"""The support metrics service, on SQLite (aggregated in Python) and PostgreSQL (in SQL): the same
numbers from the same rows, checked against a hand-counted dataset."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, literal, select

from app.errors import InvalidInput
from app.flows.lifecycle import record_agent_reply
from app.reports.metrics import (
    Durations,
    GroupBy,
    SlaOutcomes,
    check_period,
    epoch_seconds,
    percentile_cont,
    support_metrics,
)
from app.reports.schemas import MetricsGroup
from app.sla.models import BusinessHours, SlaLedgerEntry
from app.sla.tracking import start_ticket_clocks
from app.tickets.actors import Actor
from app.tickets.enums import TicketSource
from app.tickets.service import get_ticket
from app.workspaces.models import Workspace
from app.workspaces.service import ensure_workspace
from tests.reports import dataset
from tests.support.tickets import insert_ticket_row
from tests.tickets.helpers import tickets


async def seeded_workspace(session_factory) -> int:
    async with session_factory() as session, session.begin():
        workspace = await ensure_workspace(session=session, slack_team_id="T0001")
        other = await ensure_workspace(session=session, slack_team_id="T0OTHER")
        await session.flush()
        await dataset.seed(session, workspace.id)
        await dataset.seed(session, other.id)  # another workspace's numbers never mix in
        return workspace.id


async def report(session_factory, workspace_id: int, group_by: GroupBy, **period):
    async with session_factory() as session, session.begin():
        return await support_metrics(
            session=session,
            workspace_id=workspace_id,
            start=period.get("start", dataset.START),
            end=period.get("end", dataset.END),
            group_by=group_by,
        )


def shown(group) -> dict:
    return MetricsGroup.of(group).model_dump()


@pytest.mark.parametrize(
    "group_by,expected",
    [
        (GroupBy.DAY, dataset.BY_DAY),
        (GroupBy.CHANNEL, dataset.BY_CHANNEL),
        (GroupBy.AGENT, dataset.BY_AGENT),
        (GroupBy.ACCOUNT, dataset.BY_ACCOUNT),
    ],
)
async def test_numbers_by_each_grouping(session_factory, group_by, expected):
    workspace_id = await seeded_workspace(session_factory)

    result = await report(session_factory, workspace_id, group_by)

    assert result.group_by is group_by and result.time_zone == "UTC"
    assert shown(result.totals) == dataset.TOTALS
    assert [shown(group) for group in result.groups] == expected


async def test_days_are_the_workspaces_calendar_days(session_factory):
    workspace_id = await seeded_workspace(session_factory)
    async with session_factory() as session, session.begin():
        session.add(
            BusinessHours(
                workspace_id=workspace_id,
                time_zone="Asia/Tokyo",
                weekly_hours={"mon": [["09:00", "17:00"]]},
                closed_dates=[],
                updated_at=dataset.START,
            )
        )

    result = await report(session_factory, workspace_id, GroupBy.DAY)

    assert result.time_zone == "Asia/Tokyo"
    # 00:00 UTC is 09:00 in Tokyo: the period touches three Tokyo days.
    assert [(g.key, g.opened, g.resolved) for g in result.groups] == [
        ("2026-01-05", 3, 1),
        ("2026-01-06", 2, 3),
        ("2026-01-07", 1, 0),
    ]
    assert shown(result.totals) == dataset.TOTALS


async def test_an_empty_period_has_every_day_and_no_numbers(session_factory):
    workspace_id = await seeded_workspace(session_factory)
    start = datetime(2025, 6, 1, tzinfo=UTC)

    by_day = await report(
        session_factory, workspace_id, GroupBy.DAY, start=start, end=start + timedelta(days=3)
    )
    by_agent = await report(
        session_factory, workspace_id, GroupBy.AGENT, start=start, end=start + timedelta(days=3)
    )

    assert [g.key for g in by_day.groups] == ["2025-06-01", "2025-06-02", "2025-06-03"]
    assert all(g.opened == 0 and g.first_response == Durations() for g in by_day.groups)
    assert by_agent.groups == []
    assert by_agent.totals.first_response == Durations()
    assert by_agent.totals.sla.attainment is None and by_agent.totals.csat.score is None


async def test_the_period_end_is_exclusive(session_factory):
    workspace_id = await seeded_workspace(session_factory)

    result = await report(
        session_factory,
        workspace_id,
        GroupBy.CHANNEL,
        start=dataset.at(5, 9),  # T1 opened exactly then: counted
        end=dataset.at(5, 10),  # T2 opened exactly then: not
    )

    assert result.totals.opened == 1


@pytest.mark.parametrize(
    "values,fraction,expected",
    [
        ([], 0.5, None),
        ([7.0], 0.9, 7.0),
        ([1.0, 2.0], 0.5, 1.5),
        ([1.0, 2.0, 3.0, 4.0], 0.5, 2.5),
        ([1.0, 2.0, 3.0, 4.0, 5.0], 0.9, 4.6),
        ([10.0, 20.0, 30.0], 0.0, 10.0),
        ([10.0, 20.0, 30.0], 1.0, 30.0),
    ],
)
def test_percentile_interpolates_linearly_between_ranks(values, fraction, expected):
    result = percentile_cont(values, fraction)
    assert result == pytest.approx(expected) if expected is not None else result is None


@pytest.mark.parametrize(
    "start,end,words",
    [
        (datetime(2026, 1, 2, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC), "earlier than"),
        (datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC), "earlier than"),
        (datetime(2025, 1, 1, tzinfo=UTC), datetime(2026, 1, 3, tzinfo=UTC), "at most 366 days"),
    ],
)
def test_unusable_periods_are_refused(start, end, words):
    with pytest.raises(InvalidInput, match=words):
        check_period(start, end)


def test_a_period_without_a_zone_is_utc_and_366_days_are_allowed():
    start, end = check_period(datetime(2024, 1, 1), datetime(2025, 1, 1))
    assert start.tzinfo is UTC and (end - start).days == 366


async def test_sla_outcomes_of_real_clocks_count_for_the_assignee_at_the_time(running_app, clock):
    """The tracking and the breach alert copy the ticket's context onto the ledger rows."""
    opened = clock.now()
    async with running_app.runtime.session_factory() as session, session.begin():
        workspace_id = await session.scalar(select(Workspace.id))
        for subject in ("Answered in time", "Answered late"):
            ticket = await insert_ticket_row(
                session=session,
                workspace_id=workspace_id,
                source=TicketSource.API,
                subject=subject,
                requester_user_id="UCUSTOMER",
                channel_id="CSUPPORT",
                root_ts=None,
                now=opened,
                actor=Actor.system(),
                account_name="Acme",
            )
            ticket.assignee_user_id = "UAGENT"
            await start_ticket_clocks(session=session, ticket=ticket, now=opened)
    first, late = await tickets(running_app)
    clock.advance(hours=1)
    await reply(running_app, first.id)
    clock.advance(hours=4)  # 14:00: the first response of the other (due 13:00) breached
    await running_app.runtime.timer_sweeper.sweep_until_idle()
    await reassign(running_app, late.id, "UOTHER")
    clock.advance(minutes=30)
    await reply(running_app, late.id)

    async with running_app.runtime.session_factory() as session, session.begin():
        result = await support_metrics(
            session=session,
            workspace_id=workspace_id,
            start=opened,
            end=clock.now() + timedelta(seconds=1),
            group_by=GroupBy.AGENT,
        )
        rows = (await session.scalars(select(SlaLedgerEntry))).all()

    assert {(r.workspace_id, r.channel_id, r.account_name) for r in rows} == {
        (workspace_id, "CSUPPORT", "Acme")
    }
    by_agent = {g.key: g.sla for g in result.groups}
    # The warning and the breach were raised while UAGENT had it; UOTHER answered late.
    assert by_agent["UAGENT"] == SlaOutcomes(met=1, met_late=0, breaches=1)
    assert by_agent["UOTHER"] == SlaOutcomes(met=0, met_late=1, breaches=0)
    assert result.totals.sla.attainment == 50.0


async def reply(app, ticket_id: int) -> None:
    async with app.runtime.session_factory() as session, session.begin():
        ticket = await get_ticket(session=session, ticket_id=ticket_id, for_update=True)
        await record_agent_reply(
            session=session, ticket=ticket, agent_user_id="UAGENT", now=app.clock.now()
        )


async def reassign(app, ticket_id: int, user_id: str) -> None:
    async with app.runtime.session_factory() as session, session.begin():
        ticket = await get_ticket(session=session, ticket_id=ticket_id, for_update=True)
        ticket.assignee_user_id = user_id


async def test_seconds_are_computed_as_postgresql_computes_them(session_factory, is_postgres):
    """SQLite's numbers come from epoch_seconds(); they equal PostgreSQL's to the last bit."""
    spans = [
        timedelta(seconds=300.25),
        timedelta(days=1, microseconds=100001),
        timedelta(days=3, seconds=7, microseconds=999999),
        timedelta(days=400, seconds=86399, microseconds=1),
        timedelta(days=4, seconds=67157, microseconds=452815),  # not total_seconds()
        -timedelta(days=29, seconds=49281, microseconds=842252),
    ]
    assert epoch_seconds(spans[0]) == 300.25
    assert epoch_seconds(spans[4]) != spans[4].total_seconds()
    if not is_postgres:
        return
    began = datetime(2026, 1, 5, 9, 0, 0, 123457, tzinfo=UTC)
    async with session_factory() as session:
        for span in spans:
            seconds = await session.scalar(
                select(func.date_part("epoch", literal(began + span) - literal(began)))
            )
            assert seconds == epoch_seconds(span), span
