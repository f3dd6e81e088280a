"""SLA clocks end to end: signed Slack events in, timers swept with a controlled clock, alerts
out through the outbox to the emulator. The test clock starts on Monday 2026-01-05 09:00 UTC;
default business hours are Monday to Friday, 09:00-17:00 UTC."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlalchemy import func, select, update

from app.sla.models import SlaLedgerEntry
from app.sla.tracking import SLA_BREACH
from app.slack_emulator import message_event, next_ts
from app.team.enums import Role
from app.timers.models import Timer
from tests.support.server import RunningApp, outbox_settled, wait_until
from tests.tickets.helpers import add_member, tickets, watch
from tests.tickets.test_intake import card_in_triage, triage_thread

CUSTOMER, AGENT, LEAD = "UCUSTOMER", "UAGENT", "ULEAD1"


async def open_ticket(
    app: RunningApp, sender, emulator, text: str = "Exports fail", user: str = CUSTOMER
) -> str:
    root = next_ts()
    await sender.send_event(message_event("CSUPPORT", user, text, ts=root))
    await wait_until(lambda: card_in_triage(emulator), message="card")
    return root


async def alerts(emulator) -> list[str]:
    card = card_in_triage(emulator)
    return [t for t in triage_thread(emulator, card["ts"]) if "target" in t]


async def ledger(app: RunningApp) -> list[tuple[str, str]]:
    async with app.runtime.session_factory() as session:
        rows = await session.scalars(select(SlaLedgerEntry).order_by(SlaLedgerEntry.id))
        return [(row.target, row.kind) for row in rows]


async def sweep(app: RunningApp) -> int:
    """Fire what is due, as the scheduler's next runs would: a timer whose ticket is held for a
    moment (a delivery being recorded) is passed over by one sweep and taken by a later one."""
    handled = 0
    for _ in range(100):
        handled += await app.runtime.timer_sweeper.sweep_until_idle()
        if not await due_timers(app):
            break
        await asyncio.sleep(0.05)
    await app.runtime.dispatcher.dispatch_once()
    await outbox_settled(app)
    return handled


async def due_timers(app: RunningApp) -> int:
    async with app.runtime.session_factory() as session:
        due = await session.scalar(
            select(func.count())
            .select_from(Timer)
            .where(
                Timer.done_at.is_(None),
                Timer.cancelled_at.is_(None),
                Timer.due_at <= app.runtime.clock.now(),
            )
        )
    return due or 0


async def test_first_response_warning_then_breach(running_app, sender, emulator, clock):
    await watch(running_app)
    await open_ticket(running_app, sender, emulator)
    [ticket] = await tickets(running_app)
    assert ticket.first_response_due_at == datetime(2026, 1, 5, 13, tzinfo=UTC)  # 4 h
    assert ticket.resolution_due_at == datetime(2026, 1, 7, 17, tzinfo=UTC)  # 24 business h

    clock.advance(hours=2, minutes=59)
    await sweep(running_app)  # other timers may run (the reports' rollups): no SLA alert yet
    assert not await alerts(emulator)
    assert ("first_response", "warned") not in await ledger(running_app)
    clock.advance(minutes=1)  # 75% of 4 h
    await sweep(running_app)  # (the app's own scheduler may sweep too: same outcome)
    [warning] = await wait_until(lambda: alerts(emulator), message="warning")
    assert "1h left to meet its first response target" in warning
    assert f"<@{LEAD}>" in warning  # nobody assigned: the leads are told
    assert (await tickets(running_app))[0].sla_state == "at_risk"

    clock.advance(hours=1, minutes=5)
    await sweep(running_app)
    posted = await wait_until(
        lambda: (lambda a: a if len(a) == 2 else None)(
            [t for t in triage_thread(emulator, card_in_triage(emulator)["ts"]) if "target" in t]
        ),
        message="breach",
    )
    assert "breached its first response target" in posted[1] and "5m ago" in posted[1]
    assert (await tickets(running_app))[0].sla_state == "breached"
    await wait_until(
        lambda: "Breached" in str(card_in_triage(emulator)["blocks"]), message="card state"
    )
    assert ("first_response", "warned") in await ledger(running_app)
    assert ("first_response", "breached") in await ledger(running_app)


async def test_answering_in_time_cancels_the_alerts(running_app, sender, emulator, clock):
    await watch(running_app)
    await add_member(running_app, AGENT)
    root = await open_ticket(running_app, sender, emulator)
    clock.advance(hours=1)

    await sender.send_event(message_event("CSUPPORT", AGENT, "On it", ts=next_ts(), thread_ts=root))
    clock.advance(hours=8)
    await sweep(running_app)

    assert await alerts(emulator) == []
    [ticket] = await tickets(running_app)
    assert ticket.first_response_due_at is None and ticket.sla_state == "on_track"
    assert ("first_response", "met") in await ledger(running_app)


async def test_business_hours_skip_the_weekend(running_app, sender, emulator, clock):
    await watch(running_app)
    clock.set(datetime(2026, 1, 9, 16, tzinfo=UTC))  # Friday 16:00

    await open_ticket(running_app, sender, emulator)

    [ticket] = await tickets(running_app)
    assert ticket.first_response_due_at == datetime(2026, 1, 12, 12, tzinfo=UTC)  # Monday


async def test_next_response_and_resolution(running_app, sender, emulator, clock):
    await watch(running_app)
    await add_member(running_app, AGENT)
    root = await open_ticket(running_app, sender, emulator)
    await sender.send_event(message_event("CSUPPORT", AGENT, "Hi", ts=next_ts(), thread_ts=root))
    clock.advance(minutes=30)

    await sender.send_event(
        message_event("CSUPPORT", CUSTOMER, "Still failing", ts=next_ts(), thread_ts=root)
    )
    clock.advance(minutes=30)
    await sender.send_event(
        message_event("CSUPPORT", CUSTOMER, "Any news?", ts=next_ts(), thread_ts=root)
    )
    [ticket] = await tickets(running_app)
    # Counted from the oldest unanswered message (09:30), not the latest one (10:00).
    assert ticket.next_response_due_at == datetime(2026, 1, 6, 9, 30, tzinfo=UTC)

    await sender.send_event(message_event("CSUPPORT", AGENT, "Fixed", ts=next_ts(), thread_ts=root))
    from app.slack_emulator import reaction_added_event

    await sender.send_event(reaction_added_event(AGENT, "white_check_mark", "CSUPPORT", root))
    [ticket] = await tickets(running_app)
    assert ticket.next_response_due_at is None and ticket.resolution_due_at is None
    kinds = await ledger(running_app)
    assert ("next_response", "met") in kinds and ("resolution", "met") in kinds


async def test_urgent_breach_mentions_assignee_and_leads(running_app, sender, emulator, clock):
    await watch(running_app, default_priority="urgent")
    await add_member(running_app, AGENT)
    await open_ticket(running_app, sender, emulator)
    async with running_app.runtime.session_factory() as session, session.begin():
        from app.tickets.models import Ticket

        ticket = (await session.scalars(select(Ticket))).one()
        ticket.assignee_user_id = AGENT
    assert ticket.first_response_due_at == datetime(2026, 1, 5, 9, 30, tzinfo=UTC)  # 24/7

    clock.advance(minutes=31)
    await sweep(running_app)

    posted = await wait_until(
        lambda: (lambda a: a if len(a) == 2 else None)(
            [t for t in triage_thread(emulator, card_in_triage(emulator)["ts"]) if "target" in t]
        ),
        message="warning and breach",
    )
    # Both fell due before this one sweep: the outbox sends them side by side, in either order.
    [warning] = [text for text in posted if text.startswith(":warning:")]
    [breach] = [text for text in posted if text.startswith(":rotating_light:")]
    assert f"<@{AGENT}>" in warning and f"<@{LEAD}>" not in warning
    assert f"<@{AGENT}>" in breach and f"<@{LEAD}>" in breach


async def test_priority_change_replans_from_the_start(running_app, sender, emulator, clock):
    from tests.tickets.test_triage_card import click

    await watch(running_app)
    await add_member(running_app, AGENT, Role.AGENT)
    await open_ticket(running_app, sender, emulator)
    [ticket] = await tickets(running_app)
    clock.advance(minutes=10)
    high = {
        "type": "static_select",
        "selected_option": {
            "text": {"type": "plain_text", "text": "High"},
            "value": f"{ticket.id}:high",
        },
    }

    await click(sender, card_in_triage(emulator), "ticket_set_priority", AGENT, **high)

    [ticket] = await tickets(running_app)
    assert ticket.first_response_due_at == datetime(2026, 1, 5, 10, tzinfo=UTC)  # 1 h from 9:00


async def test_a_restart_posts_what_fell_due_while_down_once_and_late(settings, clock, emulator):
    from app.slack_emulator import SlackSender
    from tests.conftest import SIGNING_SECRET, TEAM_ID

    app = await RunningApp(settings, clock).start()
    async with SlackSender(app.url, SIGNING_SECRET, team_id=TEAM_ID) as sender:
        await watch(app)
        await open_ticket(app, sender, emulator)
    await app.stop()

    clock.advance(hours=6)  # warning (12:00) and breach (13:00) fall due while down
    restarted = await RunningApp(settings, clock).start()
    try:
        await sweep(restarted)
        assert await sweep(restarted) == 0  # nothing left, nothing twice
        posted = await wait_until(
            lambda: (lambda a: a if len(a) == 2 else None)(
                [
                    t
                    for t in triage_thread(emulator, card_in_triage(emulator)["ts"])
                    if "target" in t
                ]
            ),
            message="late alerts",
        )
    finally:
        await restarted.stop()
    assert all("late" in text for text in posted)
    assert (
        len([t for t in triage_thread(emulator, card_in_triage(emulator)["ts"]) if "target" in t])
        == 2
    )


async def test_resolved_tickets_close_after_three_quiet_days(running_app, sender, emulator, clock):
    from app.slack_emulator import reaction_added_event
    from app.tickets.enums import TicketStatus

    await watch(running_app)
    await add_member(running_app, AGENT)
    quiet = await open_ticket(running_app, sender, emulator, "Quiet one")
    talkative = await open_ticket(running_app, sender, emulator, "Talkative one", "UOTHER")
    for root in (quiet, talkative):
        await sender.send_event(reaction_added_event(AGENT, "white_check_mark", "CSUPPORT", root))
    clock.advance(days=1)
    await sender.send_event(
        message_event("CSUPPORT", "UOTHER", "Actually no", ts=next_ts(), thread_ts=talkative)
    )

    clock.advance(days=2, minutes=1)
    await sweep(running_app)

    statuses = {t.subject: t.status for t in await tickets(running_app)}
    assert statuses == {"Quiet one": TicketStatus.CLOSED, "Talkative one": TicketStatus.OPEN}


async def test_waiting_on_customer_pauses_the_resolution_clock(
    running_app, sender, emulator, clock
):
    from tests.tickets.test_triage_card import click

    await watch(running_app)
    await add_member(running_app, AGENT)
    root = await open_ticket(running_app, sender, emulator)
    [ticket] = await tickets(running_app)
    assert ticket.resolution_due_at == datetime(2026, 1, 7, 17, tzinfo=UTC)
    clock.advance(hours=1)  # Monday 10:00

    await click(sender, card_in_triage(emulator), "ticket_wait_on_customer", AGENT)
    [paused] = await tickets(running_app)
    assert paused.status.value == "waiting_on_customer" and paused.resolution_due_at is None
    clock.advance(days=2)  # Wednesday 10:00: the old due time passes while paused
    await sweep(running_app)
    assert [t for t in await alerts(emulator) if "resolution" in t] == []

    await sender.send_event(
        message_event("CSUPPORT", CUSTOMER, "Here are the logs", ts=next_ts(), thread_ts=root)
    )

    [resumed] = await tickets(running_app)
    assert resumed.status.value == "open"
    # 23 business hours were left at the pause: Wed 10-17, Thu 9-17, Fri 9-17.
    assert resumed.resolution_due_at == datetime(2026, 1, 9, 17, tzinfo=UTC)
    kinds = [kind for target, kind in await ledger(running_app) if target == "resolution"]
    assert kinds == ["started", "paused", "resumed"]


async def test_off_hours_reply_tells_when_the_team_is_back(running_app, sender, emulator, clock):
    await sender.send_command("offhours on", user_id=LEAD, channel_id="CSUPPORT")  # not watched
    await watch(running_app)
    answer = await sender.send_command("offhours on", user_id=LEAD, channel_id="CSUPPORT")
    assert "off-hours reply is on" in answer.json()["text"]
    clock.set(datetime(2026, 1, 10, 11, tzinfo=UTC))  # Saturday
    weekend = await open_ticket(running_app, sender, emulator, "Weekend question")
    clock.set(datetime(2026, 1, 12, 11, tzinfo=UTC))  # Monday, open
    weekday = await open_ticket(running_app, sender, emulator, "Weekday question", "UOTHER")

    def replies(root: str) -> list[str]:
        return [m["text"] for m in emulator.messages("CSUPPORT") if m.get("thread_ts") == root]

    texts = await wait_until(
        lambda: (lambda t: t if len(t) == 2 else None)(replies(weekend)), message="two replies"
    )
    monday_9 = int(datetime(2026, 1, 12, 9, tzinfo=UTC).timestamp())
    assert any(f"back <!date^{monday_9}^" in text for text in texts)
    await wait_until(lambda: replies(weekday), message="auto-reply")
    assert not any("away" in text for text in replies(weekday))


async def test_daily_digest_goes_to_the_triage_channel_every_morning(
    running_app, sender, emulator, clock
):
    await watch(running_app)
    await add_member(running_app, AGENT)
    root = await open_ticket(running_app, sender, emulator, "Answered one")
    clock.advance(minutes=45)
    await sender.send_event(message_event("CSUPPORT", AGENT, "Hi", ts=next_ts(), thread_ts=root))
    await open_ticket(running_app, sender, emulator, "Ignored one", "UOTHER")
    clock.advance(hours=23, minutes=15)  # Tuesday 09:00: the digest is due

    await sweep(running_app)

    def digest_posts() -> list[str]:
        return [m["text"] for m in emulator.messages("CTRIAGE") if "Daily digest" in m["text"]]

    [digest] = await wait_until(digest_posts, message="digest")
    assert "2 open tickets (1 new · 1 open · 0 waiting on customer)" in digest
    assert ":red_circle: Breached (1): *T-2* Ignored one" in digest
    assert "Yesterday's median first response: 45m" in digest
    clock.advance(hours=1)
    await sweep(running_app)
    assert len(digest_posts()) == 1  # once a day, not once a sweep
    clock.advance(days=1)
    await sweep(running_app)
    await wait_until(lambda: len(digest_posts()) == 2, message="the next morning's digest")


async def test_the_digest_counts_a_ticket_past_due_as_breached_before_its_alert_fires(
    running_app, sender, emulator, clock
):
    """The digest and a breach can fall due in one sweep, or the breach's timer can be passed
    over while another writer holds its ticket: the digest still says breached, not at risk."""
    await watch(running_app)
    await open_ticket(running_app, sender, emulator, "Ignored one", "UOTHER")
    async with running_app.runtime.session_factory() as session, session.begin():
        await session.execute(
            update(Timer)
            .where(Timer.kind == SLA_BREACH)
            .values(due_at=datetime(2026, 1, 7, tzinfo=UTC))  # held up until Wednesday
        )
    clock.advance(days=1)  # Tuesday 09:00: the digest is due; the 4 h first response is past

    await sweep(running_app)

    def digest_posts() -> list[str]:
        return [m["text"] for m in emulator.messages("CTRIAGE") if "Daily digest" in m["text"]]

    [digest] = await wait_until(digest_posts, message="digest")
    assert ":red_circle: Breached (1): *T-1* Ignored one" in digest
    assert "At risk" not in digest
    [ticket] = await tickets(running_app)
    assert ticket.sla_state != "breached"  # its alert has not fired yet


async def test_a_policy_change_never_back_dates_a_breach(running_app, sender, emulator, clock):
    await watch(running_app)
    await open_ticket(running_app, sender, emulator)
    clock.advance(hours=2)

    await sender.send_command("sla set normal first_response=1h", user_id=LEAD, channel_id="C1")
    await sweep(running_app)

    [ticket] = await tickets(running_app)
    assert ticket.first_response_due_at == datetime(2026, 1, 5, 13, tzinfo=UTC)  # unchanged
    assert ticket.sla_state == "on_track"
    assert await alerts(emulator) == []


async def test_every_next_response_run_gets_its_own_alerts(running_app, sender, emulator, clock):
    await watch(running_app)
    await add_member(running_app, AGENT)
    root = await open_ticket(running_app, sender, emulator)
    await sender.send_event(message_event("CSUPPORT", AGENT, "Hi", ts=next_ts(), thread_ts=root))

    for question in ("First follow-up", "Second follow-up"):
        await sender.send_event(
            message_event("CSUPPORT", CUSTOMER, question, ts=next_ts(), thread_ts=root)
        )
        clock.advance(days=2)  # 8 business hours pass: warning and breach
        await sweep(running_app)
        await sender.send_event(
            message_event("CSUPPORT", AGENT, "Answer", ts=next_ts(), thread_ts=root)
        )

    def breaches() -> list[str]:
        card = card_in_triage(emulator)
        return [t for t in triage_thread(emulator, card["ts"]) if "breached its next" in t]

    await wait_until(lambda: len(breaches()) == 2, message="a breach for each run")
    kinds = [kind for target, kind in await ledger(running_app) if target == "next_response"]
    assert kinds.count("started") == 2 and kinds.count("breached") == 2


async def test_resolved_while_waiting_on_the_customer_meets_the_resolution_target(
    running_app, sender, emulator, clock
):
    await watch(running_app)
    await add_member(running_app, AGENT)
    await open_ticket(running_app, sender, emulator)
    await sender.send_command("status T-1 waiting", user_id=AGENT, channel_id="CSUPPORT")
    clock.advance(days=5)  # paused: long past the original due time, still in time

    await sender.send_command("resolve T-1", user_id=AGENT, channel_id="CSUPPORT")

    resolution = [kind for target, kind in await ledger(running_app) if target == "resolution"]
    assert resolution == ["started", "paused", "met"]
