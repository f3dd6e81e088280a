"""CSAT numbers on both databases: surveys written as the survey service leaves them, then read
back by period, channel, agent and account, and through `/ticket stats`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from app.csat.enums import SurveyStatus
from app.csat.models import CsatSurvey
from app.csat.stats import Breakdown, csat_breakdown, csat_by_period, csat_numbers
from app.tickets.enums import TicketSource, TicketStatus
from app.tickets.models import Ticket
from app.workspaces.models import Workspace
from tests.tickets.helpers import add_member

MONDAY = datetime(2026, 1, 5, 9, tzinfo=UTC)


async def seed(session, workspace_id: int, surveys: list[dict]) -> None:
    for number, values in enumerate(surveys, start=1):
        sent_at = values.pop("sent_at")
        ticket = Ticket(
            workspace_id=workspace_id,
            number=number,
            subject=f"Question {number}",
            status=TicketStatus.RESOLVED,
            source=TicketSource.MESSAGE,
            channel_id=values.get("channel_id", "CSUPPORT"),
            root_ts=f"{number}.000100",
            created_at=sent_at - timedelta(hours=1),
            resolved_at=sent_at - timedelta(minutes=10),
        )
        session.add(ticket)
        await session.flush()
        session.add(
            CsatSurvey(
                workspace_id=workspace_id,
                ticket_id=ticket.id,
                status=SurveyStatus.SENT,
                requester_user_id="UCUSTOMER",
                channel_id=values.get("channel_id", "CSUPPORT"),
                thread_ts=ticket.root_ts,
                assignee_user_id=values.get("agent"),
                account_name=values.get("account"),
                resolved_at=ticket.resolved_at,
                send_at=sent_at,
                sent_at=sent_at,
                rating=values.get("rating"),
                rated_at=sent_at if values.get("rating") else None,
            )
        )


SURVEYS = [
    {"sent_at": MONDAY, "rating": 5, "agent": "UANN", "account": "Acme"},
    {"sent_at": MONDAY + timedelta(hours=3), "rating": 4, "agent": "UANN", "account": "Acme"},
    {"sent_at": MONDAY + timedelta(days=1), "rating": 2, "agent": "UBOB", "account": "Globex"},
    {"sent_at": MONDAY + timedelta(days=1, hours=1), "agent": "UBOB", "account": "Globex"},
    {"sent_at": MONDAY + timedelta(days=3), "rating": 3, "channel_id": "CVIP"},
    {"sent_at": MONDAY - timedelta(days=1), "rating": 1},  # before the period
]


async def test_numbers_by_period_channel_agent_and_account(session_factory):
    async with session_factory() as session, session.begin():
        workspace = Workspace(slack_team_id="T0001", name="Test")
        session.add(workspace)
        await session.flush()
        await seed(session, workspace.id, [dict(s) for s in SURVEYS])
        workspace_id = workspace.id

    start, end = MONDAY, MONDAY + timedelta(days=7)
    async with session_factory() as session:
        totals = await csat_numbers(
            session=session, workspace_id=workspace_id, start=start, end=end
        )
        assert (totals.sent, totals.rated, totals.satisfied) == (5, 4, 2)
        assert totals.score == 50.0 and totals.response_rate == 80.0 and totals.average == 3.5

        days = await csat_by_period(
            session=session,
            workspace_id=workspace_id,
            start=start,
            end=end,
            step=timedelta(days=1),
        )
        assert [(p.start.day, p.numbers.sent, p.numbers.rated) for p in days] == [
            (5, 2, 2),
            (6, 2, 1),
            (7, 0, 0),
            (8, 1, 1),
            (9, 0, 0),
            (10, 0, 0),
            (11, 0, 0),
        ]
        by_agent = await csat_breakdown(
            session=session, workspace_id=workspace_id, start=start, end=end, by=Breakdown.AGENT
        )
        assert [(key, n.sent, n.score) for key, n in by_agent] == [
            ("UANN", 2, 100.0),
            ("UBOB", 2, 0.0),
            (None, 1, 0.0),
        ]
        by_channel = await csat_breakdown(
            session=session, workspace_id=workspace_id, start=start, end=end, by=Breakdown.CHANNEL
        )
        assert [(key, n.sent) for key, n in by_channel] == [("CSUPPORT", 4), ("CVIP", 1)]
        by_account = await csat_breakdown(
            session=session, workspace_id=workspace_id, start=start, end=end, by=Breakdown.ACCOUNT
        )
        assert {key: n.average for key, n in by_account} == {"Acme": 4.5, "Globex": 2.0, None: 3.0}


async def test_stats_command(running_app, sender, clock):
    async with running_app.runtime.session_factory() as session, session.begin():
        workspace = await session.scalar(select(Workspace))
        await seed(session, workspace.id, [dict(s) for s in SURVEYS])
    await add_member(running_app, "UAGENT")
    clock.set(MONDAY + timedelta(days=7))

    reply = (await sender.send_command("stats", user_id="UAGENT", channel_id="CSUPPORT")).json()

    text = reply["text"]
    assert reply["response_type"] == "ephemeral"
    assert "*Support stats, last 7 days* (Jan 05 to Jan 12)" in text
    assert "*Tickets*: 4 opened · 4 resolved" in text  # the first was opened at 08:00
    assert "*CSAT*: 50% satisfied · average 3.5/5 · 4 of 5 rated (80% response rate)" in text
    assert "previous 7 days: 0% (1 rated)" in text
    assert "*By day*: Jan 05 100% (2 rated) · Jan 06 0% (1 rated) · Jan 08 0% (1 rated)" in text
    assert "*By agent*: <@UANN> 100% (2 rated) · <@UBOB> 0% (1 rated) · unassigned" in text
    assert "*By channel*: <#CSUPPORT> 67% (3 rated) · <#CVIP> 0% (1 rated)" in text
    assert "Acme 100% (2 rated)" in text

    refused = await sender.send_command("stats 30d", user_id="UCUSTOMER", channel_id="CSUPPORT")
    assert refused.json()["text"] == "Sorry, only the support team can see the stats."
