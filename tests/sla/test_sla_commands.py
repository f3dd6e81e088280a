"""`/ticket sla` and `/ticket sla set` through signed slash commands, on both databases."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from app.sla.models import SlaPolicy
from app.sla.policies import DEFAULT_TARGETS, targets_for
from app.slack.ticket_command.grammar import SlaSet, UsageError
from app.slack.ticket_command.specs import parse
from app.team.enums import Role
from app.tickets.enums import Priority
from app.workspaces.models import Workspace
from tests.tickets.helpers import add_member

LEAD = "ULEAD1"  # from SUPPORT_LEADS in the test settings


def test_grammar():
    assert parse("sla set high first_response=30m business_hours=off") == SlaSet(
        priority=Priority.HIGH, first_response=timedelta(minutes=30), business_hours=False
    )
    for bad in ("sla set", "sla set huge first_response=1h", "sla set low soon=1h", "sla nope"):
        assert isinstance(parse(bad), UsageError), bad
    problem = parse("sla set low resolution=forever")
    assert isinstance(problem, UsageError) and "resolution" in problem.problem


async def test_lead_changes_a_target_and_the_team_sees_it(running_app, sender):
    changed = await sender.send_command(
        "sla set normal first_response=2h resolution=2d", user_id=LEAD, channel_id="C1"
    )
    await add_member(running_app, "UAGENT", Role.AGENT)
    shown = await sender.send_command("sla", user_id="UAGENT", channel_id="C1")

    assert changed.json()["response_type"] == "ephemeral"
    assert "*normal*: 2h · 8h · 2d" in changed.json()["text"]
    assert "*normal*: 2h · 8h · 2d (business hours, warn at 75%)" in shown.json()["text"]
    assert "*urgent*: 30m · 1h · 4h (around the clock" in shown.json()["text"]
    async with running_app.runtime.session_factory() as session:
        workspace = await session.scalar(select(Workspace))
        targets = await targets_for(
            session=session, workspace_id=workspace.id, priority=Priority.NORMAL
        )
        high = await targets_for(session=session, workspace_id=workspace.id, priority=Priority.HIGH)
    assert targets.first_response == timedelta(hours=2)
    assert targets.resolution == timedelta(days=2)
    assert high == DEFAULT_TARGETS[Priority.HIGH]


async def test_others_are_refused_and_nothing_changes(running_app, sender):
    await add_member(running_app, "UAGENT", Role.AGENT)
    by_agent = await sender.send_command(
        "sla set low first_response=1m", user_id="UAGENT", channel_id="C1"
    )
    by_customer = await sender.send_command("sla", user_id="UCUSTOMER", channel_id="C1")
    malformed = await sender.send_command(
        "sla set low first_response=soon", user_id=LEAD, channel_id="C1"
    )

    assert "only support leads can change SLA targets" in by_agent.json()["text"]
    assert "only the support team" in by_customer.json()["text"]
    assert "first_response" in malformed.json()["text"] and "Usage" in malformed.json()["text"]
    async with running_app.runtime.session_factory() as session:
        assert (await session.scalars(select(SlaPolicy))).all() == []


async def test_show_prints_the_ticket_and_its_sla_ledger(running_app, sender, emulator):
    from app.slack_emulator import message_event
    from tests.tickets.helpers import watch

    await watch(running_app)
    await sender.send_event(message_event("CSUPPORT", "UCUSTOMER", "Exports fail"))

    shown = await sender.send_command("show T-1", user_id=LEAD, channel_id="C1")
    missing = await sender.send_command("show T-99", user_id=LEAD, channel_id="C1")
    refused = await sender.send_command("show T-1", user_id="USTRANGER", channel_id="C1")
    malformed = await sender.send_command("show ticket", user_id=LEAD, channel_id="C1")

    text = shown.json()["text"]
    assert "*T-1* · Exports fail" in text
    assert "first response started, due 2026-01-05 13:00 UTC (ticket opened)" in text
    assert "resolution started, due 2026-01-07 17:00 UTC" in text
    assert missing.json()["text"] == "Ticket T-99 does not exist."
    assert "you can only look at tickets you asked about" in refused.json()["text"]
    assert "not a ticket number" in malformed.json()["text"]


async def test_lead_sets_business_hours_and_new_clocks_count_them(running_app, sender, emulator):
    from datetime import UTC, datetime

    from app.slack_emulator import message_event
    from app.tickets.models import Ticket
    from tests.tickets.helpers import watch

    changed = await sender.send_command(
        "hours set Europe/Berlin 10:00-12:00 days=mon-thu holidays=DE",
        user_id=LEAD,
        channel_id="C1",
    )
    shown = await sender.send_command("hours", user_id=LEAD, channel_id="C1")
    bad_zone = await sender.send_command(
        "hours set Mars/Base 09:00-17:00", user_id=LEAD, channel_id="C1"
    )
    bad_days = await sender.send_command(
        "hours set UTC 09:00-17:00 days=someday", user_id=LEAD, channel_id="C1"
    )
    by_customer = await sender.send_command("hours", user_id="UCUSTOMER", channel_id="C1")

    assert "Business hours are now mon 10:00-12:00" in changed.json()["text"]
    assert "(Europe/Berlin); public holidays of DE" in shown.json()["text"]
    assert "unknown time zone" in bad_zone.json()["text"]
    assert "days are like mon-fri" in bad_days.json()["text"]
    assert "only the support team" in by_customer.json()["text"]

    await watch(running_app)
    await sender.send_event(message_event("CSUPPORT", "UCUSTOMER", "Help"))  # Mon 10:00 Berlin
    async with running_app.runtime.session_factory() as session:
        ticket = (await session.scalars(select(Ticket))).one()
    # 4 business hours: Monday 10-12 and Tuesday 10-12 Berlin time.
    assert ticket.first_response_due_at == datetime(2026, 1, 6, 11, tzinfo=UTC)
