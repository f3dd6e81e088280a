"""Catch-up: what customers wrote while ticketbot was down (events Slack gave up retrying) is
read back from Slack and taken in once, as its events would have been (end to end)."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, text

from app.clock import SettableClock
from app.config import Settings
from app.flows.conversation import receive_message
from app.outbox.enums import OutboxStatus
from app.outbox.models import OutboxMessage
from app.runtime import catch_up_now
from app.scheduler import build_scheduler
from app.slack.context import intake_rules
from app.slack_emulator import SlackEmulator, SlackSender, message_event
from app.tickets.enums import AuthorKind, TicketStatus
from app.tickets.intake import IncomingMessage
from app.tickets.models import Ticket, TicketMessage
from app.workspaces.models import Workspace
from tests.conftest import SIGNING_SECRET, TEAM_ID, make_settings
from tests.support.server import RunningApp, wait_until
from tests.tickets.helpers import add_member, ticket_messages, tickets, watch

CHANNEL = "CSUPPORT"
CUSTOMER = "UCUSTOMER"
OTHER = "UOTHER"
AGENT = "UAGENT"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def ts_at(moment: datetime) -> str:
    """The Slack ts of a message written at `moment` (the app's clock, not the wall's)."""
    micros = (moment - _EPOCH) // timedelta(microseconds=1)
    return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"


def writer(emulator: SlackEmulator, now: datetime) -> Callable[..., str]:
    """write(user, text, ago, thread_ts=None): a message written `ago` before `now`, in Slack
    only (no event is sent); its ts."""

    def write(user: str, text: str, ago: timedelta, thread_ts: str | None = None) -> str:
        return emulator.add_message(
            CHANNEL, user=user, text=text, ts=ts_at(now - ago), thread_ts=thread_ts
        )["ts"]

    return write


def time_of(ts: str) -> datetime:
    seconds, micros = ts.split(".")
    return _EPOCH + timedelta(seconds=int(seconds), microseconds=int(micros))


@asynccontextmanager
async def serving(settings: Settings, clock: SettableClock) -> AsyncIterator[RunningApp]:
    app = await RunningApp(settings, clock).start()
    try:
        yield app
    finally:
        await app.stop()


@asynccontextmanager
async def slack_sender(app: RunningApp) -> AsyncIterator[SlackSender]:
    sender = SlackSender(app.url, SIGNING_SECRET, team_id=TEAM_ID)
    try:
        yield sender
    finally:
        await sender.aclose()


async def watch_since(app: RunningApp, clock: SettableClock, channel: str = CHANNEL) -> None:
    # Watched "two days ago" on the app's clock (the column's default is the database's time).
    await watch(app, channel, name="support", created_at=clock.now() - timedelta(days=2))


async def catch_up_going(app: RunningApp) -> int:
    async with app.runtime.session_factory() as session:
        return (
            await session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(
                    OutboxMessage.coalesce_key.like("catch_up:%"),
                    OutboxMessage.status == OutboxStatus.PENDING,
                )
            )
            or 0
        )


async def caught_up(app: RunningApp) -> None:
    await wait_until(lambda: _over(app), within=15, message="the catch-up run to end")


async def _over(app: RunningApp) -> bool:
    return await catch_up_going(app) == 0


async def stored_ts(app: RunningApp) -> Counter[str]:
    """How many times each Slack message is stored, as a ticket's root or a conversation's."""
    async with app.runtime.session_factory() as session:
        messages = (
            await session.scalars(
                select(TicketMessage.ts).where(
                    TicketMessage.channel_id == CHANNEL, TicketMessage.is_internal.is_(False)
                )
            )
        ).all()
        roots = (await session.scalars(select(Ticket.root_ts))).all()
    return Counter(messages) + Counter({root: 1 for root in roots if root not in messages})


def recovered(app: RunningApp, kind: str) -> float:
    value = app.runtime.metrics.registry.get_sample_value(
        "ticketbot_catch_up_recovered_total", {"kind": kind}
    )
    return value or 0.0


def catch_up_notes(emulator: SlackEmulator) -> list[str]:
    return [m["text"] for m in emulator.messages("CTRIAGE") if "Catch-up" in (m["text"] or "")]


async def test_what_customers_wrote_while_ticketbot_was_down_is_taken_in_once(
    settings, clock, emulator, caplog
):
    async with serving(settings, clock) as app, slack_sender(app) as sender:
        await watch_since(app, clock)
        await add_member(app, AGENT)
        root = emulator.add_message(
            CHANNEL, user=CUSTOMER, text="Exports fail", ts=ts_at(clock.now())
        )
        await sender.send_event(message_event(CHANNEL, CUSTOMER, "Exports fail", ts=root["ts"]))
        [opened] = await tickets(app)
        await wait_until(lambda: _card_posted(app), message="the first ticket's card")

    # ticketbot is down for the night. What customers write exists only in Slack: Slack gave
    # up retrying the events, so none is ever sent.
    clock.advance(hours=9)
    now = clock.now()

    write = writer(emulator, now)

    customer_reply = write(CUSTOMER, "Still failing", timedelta(hours=8), root["ts"])
    agent_reply = write(AGENT, "Looking into it", timedelta(hours=7), root["ts"])
    new_request = write(OTHER, "Can't log in", timedelta(hours=6))
    follow_up = write(OTHER, "Error says SAML", timedelta(hours=6) - timedelta(seconds=40))
    in_its_thread = write(OTHER, "Screenshot attached", timedelta(hours=5), new_request)
    write(CUSTOMER, "thanks!", timedelta(hours=4))  # not a request
    write(AGENT, "Maintenance tonight at 10pm", timedelta(hours=3))  # the team's own post
    write("UBOT", "ticketbot's own post", timedelta(hours=3) - timedelta(minutes=1))
    later_request = write(OTHER, "Billing address is wrong", timedelta(hours=2))

    with caplog.at_level(logging.INFO, logger="app.flows.catch_up"):
        async with serving(settings, clock) as app:  # same database, Slack as it is now
            await caught_up(app)

            first, second, third = await tickets(app)
            assert first.id == opened.id
            assert (second.root_ts, second.subject, second.requester_user_id) == (
                new_request,
                "Can't log in",
                OTHER,
            )
            assert (third.root_ts, third.subject) == (later_request, "Billing address is wrong")
            # Taken in at the time each was written, not when it was read back.
            assert second.created_at == time_of(new_request)
            assert second.last_customer_message_at == time_of(in_its_thread)
            assert first.last_customer_message_at == time_of(customer_reply)
            assert first.first_response_at == time_of(agent_reply)
            assert first.status is TicketStatus.OPEN

            conversation = [
                (m.ts, m.author_kind)
                for m in await ticket_messages(app, first.id)
                if m.ts != root["ts"]
            ]
            assert conversation == [
                (customer_reply, AuthorKind.CUSTOMER),
                (agent_reply, AuthorKind.AGENT),
            ]
            assert [m.ts for m in await ticket_messages(app, second.id)] == [
                new_request,
                follow_up,  # within the grouping window of the message before it
                in_its_thread,
            ]
            counted = await stored_ts(app)
            assert set(counted.values()) == {1}
            assert len(counted) == 7  # the first root and the six recovered messages

            assert (recovered(app, "ticket"), recovered(app, "reply")) == (2, 4)
            [note] = await wait_until(lambda: catch_up_notes(emulator), message="the triage note")
            assert "6 messages" in note and "<#CSUPPORT>" in note
            assert "2 new tickets" in note and "4 replies" in note
            assert any(
                "catch-up: recovered 6 messages in #support (2 new tickets, 4 replies)" in r.message
                for r in caplog.records
            )
            reads = emulator.delivered("conversations.history")
            assert reads and all(call.args.get("channel") == CHANNEL for call in reads)

            # The next run (the scheduler's) finds nothing new, and says nothing.
            await catch_up_now(app.runtime)
            await caught_up(app)
            assert await stored_ts(app) == counted
            assert len(await tickets(app)) == 3
            assert (recovered(app, "ticket"), recovered(app, "reply")) == (2, 4)
            assert len(catch_up_notes(emulator)) == 1


async def test_a_message_slack_gave_up_on_before_a_later_one_was_taken_in_is_recovered(
    settings, clock, emulator
):
    """Slack retries an event at once, after 1 and after 5 minutes, then gives up: an earlier
    message can be lost that way while a later one's event came through (a replica flapping).
    Catch-up reads from a while before the newest stored message, in the channel and in a
    ticket's thread."""
    async with serving(settings, clock) as app, slack_sender(app) as sender:
        await watch_since(app, clock)
        root = emulator.add_message(
            CHANNEL, user=CUSTOMER, text="Exports fail", ts=ts_at(clock.now())
        )
        await sender.send_event(message_event(CHANNEL, CUSTOMER, "Exports fail", ts=root["ts"]))

        clock.advance(minutes=3)
        missed_reply = emulator.add_message(
            CHANNEL, user=CUSTOMER, text="Also CSV", ts=ts_at(clock.now()), thread_ts=root["ts"]
        )["ts"]
        clock.advance(seconds=1)
        missed_request = emulator.add_message(
            CHANNEL, user=OTHER, text="Can't log in", ts=ts_at(clock.now())
        )["ts"]  # neither event is ever acknowledged
        clock.advance(minutes=2)
        later_reply = emulator.add_message(
            CHANNEL, user=CUSTOMER, text="And PDF", ts=ts_at(clock.now()), thread_ts=root["ts"]
        )["ts"]
        clock.advance(seconds=1)
        later_request = emulator.add_message(
            CHANNEL, user=CUSTOMER, text="Invoices are late", ts=ts_at(clock.now())
        )["ts"]
        for ts, text, thread in (
            (later_reply, "And PDF", root["ts"]),
            (later_request, "Invoices are late", None),
        ):
            event = message_event(CHANNEL, CUSTOMER, text, ts=ts, thread_ts=thread)
            assert (await sender.send_event(event)).status_code == 200
        assert set(await stored_ts(app)) == {root["ts"], later_reply, later_request}
        clock.advance(seconds=1)
        emulator.add_message(  # only ticketbot replied there: nothing to read back
            CHANNEL, user="UBOT", text="On it", ts=ts_at(clock.now()), thread_ts=later_request
        )

        await catch_up_now(app.runtime)
        await caught_up(app)

        counted = await stored_ts(app)
        assert set(counted) == {
            root["ts"],
            later_reply,
            later_request,
            missed_reply,
            missed_request,
        }
        assert set(counted.values()) == {1}
        assert (recovered(app, "ticket"), recovered(app, "reply")) == (1, 1)
        first = (await tickets(app))[0]
        assert missed_reply in [m.ts for m in await ticket_messages(app, first.id)]
        threads_read = {c.args.get("ts") for c in emulator.delivered("conversations.replies")}
        assert root["ts"] in threads_read and later_request not in threads_read


async def _card_posted(app: RunningApp) -> bool:
    return all(t.triage_card_ts for t in await tickets(app))


async def test_an_event_landing_while_catch_up_reads_makes_one_ticket(settings, clock, emulator):
    async with serving(settings, clock) as app, slack_sender(app) as sender:
        await watch_since(app, clock)
        root = emulator.add_message(
            CHANNEL, user=CUSTOMER, text="Exports fail", ts=ts_at(clock.now())
        )
        await sender.send_event(message_event(CHANNEL, CUSTOMER, "Exports fail", ts=root["ts"]))
        clock.advance(minutes=30)
        request = emulator.add_message(
            CHANNEL, user=OTHER, text="SSO is broken", ts=ts_at(clock.now() - timedelta(minutes=5))
        )["ts"]
        reply = emulator.add_message(
            CHANNEL,
            user=CUSTOMER,
            text="Still failing",
            ts=ts_at(clock.now() - timedelta(minutes=4)),
            thread_ts=root["ts"],
        )["ts"]
        # The test delivers the outbox itself, so the late events land while catch-up's reads
        # are answered (the answers are slow) and before their pages are taken in.
        await app.runtime.dispatcher.stop()
        await catch_up_now(app.runtime)
        emulator.slow_next("conversations.history", seconds=1.0)
        emulator.slow_next("conversations.replies", seconds=1.0)

        for method, late in (
            ("conversations.history", message_event(CHANNEL, OTHER, "SSO is broken", ts=request)),
            (
                "conversations.replies",
                message_event(CHANNEL, CUSTOMER, "Still failing", ts=reply, thread_ts=root["ts"]),
            ),
        ):
            delivering = asyncio.create_task(_deliver_until(app, method))
            async with asyncio.timeout(10):
                await emulator.wait_for_calls(method, delivered=False)
            assert (await sender.send_event(late, retry_num=3)).status_code == 200
            await delivering
        await _drain(app)

        assert await catch_up_going(app) == 0
        assert [t.root_ts for t in await tickets(app)] == [root["ts"], request]
        counted = await stored_ts(app)
        assert counted[request] == 1 and counted[reply] == 1
        assert (recovered(app, "ticket"), recovered(app, "reply")) == (0, 0)


async def _deliver_until(app: RunningApp, method: str) -> None:
    """Deliver outbox rows until a read of `method` was among them."""
    for _ in range(20):
        async with app.runtime.session_factory() as session:
            waiting = await session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.target == method, OutboxMessage.status == OutboxStatus.PENDING)
            )
        if not waiting:
            return
        await app.runtime.dispatcher.dispatch_once()
    raise AssertionError(f"no {method} read was delivered")


async def _drain(app: RunningApp) -> None:
    for _ in range(50):
        if not await app.runtime.dispatcher.dispatch_once():
            return
    raise AssertionError("the outbox did not drain")


async def test_a_late_event_after_catch_up_and_both_at_once_make_one_each(
    settings, clock, emulator
):
    async with serving(settings, clock) as app, slack_sender(app) as sender:
        await watch_since(app, clock)
        root = emulator.add_message(
            CHANNEL, user=CUSTOMER, text="Exports fail", ts=ts_at(clock.now())
        )
        await sender.send_event(message_event(CHANNEL, CUSTOMER, "Exports fail", ts=root["ts"]))

        def written_while_events_failed(tag: str, count: int) -> list[dict]:
            """`count` requests and as many replies in the first ticket's thread, in Slack; their
            events as Slack would send them."""
            events = []
            for n in range(count):
                at = clock.now() - timedelta(minutes=30 - n)
                asked = f"Request {tag}{n}"
                request = emulator.add_message(CHANNEL, user=f"U{tag}{n}", text=asked, ts=ts_at(at))
                events.append(message_event(CHANNEL, f"U{tag}{n}", asked, ts=request["ts"]))
                detail, later = f"Detail {tag}{n}", ts_at(at + timedelta(seconds=1))
                emulator.add_message(
                    CHANNEL, user=CUSTOMER, text=detail, ts=later, thread_ts=root["ts"]
                )
                events.append(
                    message_event(CHANNEL, CUSTOMER, detail, ts=later, thread_ts=root["ts"])
                )
            return events

        # Catch-up takes them in first; Slack's last retries come after.
        clock.advance(hours=1)
        late = written_while_events_failed("A", 2)
        await catch_up_now(app.runtime)
        await caught_up(app)
        for event in late:
            assert (await sender.send_event(event, retry_num=3)).status_code == 200

        # Catch-up and the retries at once (a 500 for the loser of a tie, retried as Slack does).
        clock.advance(hours=1)
        racing = written_while_events_failed("B", 4)
        await asyncio.gather(
            catch_up_now(app.runtime), *(_as_slack_delivers(sender, event) for event in racing)
        )
        await caught_up(app)

        counted = await stored_ts(app)
        assert set(counted.values()) == {1}
        assert len(counted) == 1 + len(late) + len(racing)
        assert len(await tickets(app)) == 1 + 2 + 4  # the first ticket and one per request


async def test_a_message_already_taken_in_never_joins_a_later_ticket(settings, clock, emulator):
    # Catch-up took a message in (no event id recorded); its event's last retry arrives after
    # the same customer opened another ticket, inside the grouping window. It stays where it is.
    async with serving(settings, clock) as app, slack_sender(app) as sender:
        await watch_since(app, clock)
        first = ts_at(clock.now())
        await sender.send_event(
            message_event(CHANNEL, CUSTOMER, "Exports fail", ts=first), event_id="EvFirst"
        )
        clock.advance(minutes=5)
        second = ts_at(clock.now())
        await sender.send_event(
            message_event(CHANNEL, CUSTOMER, "Invoices are wrong", ts=second), event_id="EvSecond"
        )
        late = await sender.send_event(
            message_event(CHANNEL, CUSTOMER, "Exports fail", ts=first),
            event_id="EvFirstAgain",
            retry_num=3,
        )

        assert late.status_code == 200
        assert (await stored_ts(app)) == Counter({first: 1, second: 1})
        assert len(await tickets(app)) == 2


async def _as_slack_delivers(sender: SlackSender, event: dict) -> None:
    event_id = f"Ev{event['ts'].replace('.', '')}"
    for attempt in range(4):
        answer = await sender.send_event(event, event_id=event_id, retry_num=attempt or None)
        if answer.status_code == 200:
            return
    raise AssertionError(f"Slack gave up on {event_id}: {answer.status_code}")


async def test_pages_of_history_and_of_threads_are_followed_oldest_first(
    database_url, emulator, clock
):
    settings = make_settings(database_url, emulator, catch_up_page_size=3)
    async with serving(settings, clock) as app, slack_sender(app) as sender:
        await watch_since(app, clock)
        root = emulator.add_message(
            CHANNEL, user=CUSTOMER, text="Exports fail", ts=ts_at(clock.now())
        )
        await sender.send_event(message_event(CHANNEL, CUSTOMER, "Exports fail", ts=root["ts"]))
    clock.advance(hours=3)
    start = clock.now() - timedelta(hours=2)

    # Eight top-level messages, newest first in pages of three: [8 7 6] [5 4 3] [2 1]. 2 and 3,
    # and 5 and 6, are one customer's message and follow-up, each pair across a page boundary.
    writers = ["UA", "UB", "UB", "UC", "UD", "UD", "UE", "UF"]
    offsets = [0, 10, 10.5, 20, 30, 30.5, 40, 50]  # minutes after `start`
    tops = [
        emulator.add_message(
            CHANNEL, user=user, text=f"Message {n}", ts=ts_at(start + timedelta(minutes=minutes))
        )["ts"]
        for n, (user, minutes) in enumerate(zip(writers, offsets, strict=True), start=1)
    ]
    # Seven replies in the first ticket's thread: three pages of replies.
    replies = [
        emulator.add_message(
            CHANNEL,
            user=CUSTOMER,
            text=f"Detail {n}",
            ts=ts_at(start + timedelta(minutes=60 + n)),
            thread_ts=root["ts"],
        )["ts"]
        for n in range(7)
    ]

    async with serving(settings, clock) as app:
        await caught_up(app)

        all_tickets = await tickets(app)
        # Numbered in the order they were written: the oldest page was taken in first.
        assert [t.root_ts for t in all_tickets] == [
            root["ts"],
            tops[0],
            tops[1],
            tops[3],
            tops[4],
            tops[6],
            tops[7],
        ]
        by_root = {t.root_ts: t for t in all_tickets}
        for opened, joined in ((tops[1], tops[2]), (tops[4], tops[5])):
            texts = [m.ts for m in await ticket_messages(app, by_root[opened].id)]
            assert texts == [opened, joined]
        first = [m.ts for m in await ticket_messages(app, by_root[root["ts"]].id)]
        assert first == [root["ts"], *replies]
        assert set((await stored_ts(app)).values()) == {1}

        history = emulator.delivered("conversations.history")
        assert sum(1 for call in history if call.args.get("cursor")) == 2  # pages 2 and 3
        assert all(str(call.args.get("limit")) == "3" for call in history)
        thread_pages = emulator.delivered("conversations.replies")
        assert sum(1 for call in thread_pages if call.args.get("cursor")) == 2
        assert (recovered(app, "ticket"), recovered(app, "reply")) == (6, 9)


async def test_the_catch_up_job_runs_every_interval_and_zero_turns_it_off(
    database_url, emulator, clock
):
    async with serving(make_settings(database_url, emulator), clock) as app:
        job = build_scheduler(app.runtime).get_job("slack.catch_up")
        assert job is not None and job.trigger.interval == timedelta(seconds=900)
    off = make_settings(database_url, emulator, catch_up_interval_seconds=0)
    async with serving(off, clock) as app:
        assert build_scheduler(app.runtime).get_job("slack.catch_up") is None


async def _ticket_and_reply(sender, emulator, clock, *, reply_age: timedelta) -> tuple[str, str]:
    """A ticket taken in by its event, and a reply in its thread that Slack holds (`reply_age`
    old), not yet taken in: (root ts, reply ts)."""
    root = emulator.add_message(CHANNEL, user=CUSTOMER, text="Exports fail", ts=ts_at(clock.now()))
    await sender.send_event(message_event(CHANNEL, CUSTOMER, "Exports fail", ts=root["ts"]))
    clock.advance(minutes=20)
    reply = emulator.add_message(
        CHANNEL,
        user=CUSTOMER,
        text="Still failing",
        ts=ts_at(clock.now() - reply_age),
        thread_ts=root["ts"],
    )["ts"]
    return root["ts"], reply


async def _take_in_reply(session, settings, clock, root_ts: str, reply_ts: str) -> None:
    """The reply taken in by another writer, in `session`'s transaction (left open)."""
    workspace = await session.scalar(select(Workspace))
    await receive_message(
        session=session,
        workspace=workspace,
        message=IncomingMessage(
            channel_id=CHANNEL,
            ts=reply_ts,
            user_id=CUSTOMER,
            text="Still failing",
            thread_ts=root_ts,
        ),
        rules=intake_rules(settings),
        now=clock.now(),
    )
    await session.flush()


async def test_a_tie_with_the_event_is_settled_by_the_database(
    settings, clock, emulator, is_postgres, caplog
):
    async with serving(settings, clock) as app, slack_sender(app) as sender:
        await watch_since(app, clock)
        root, reply = await _ticket_and_reply(
            sender, emulator, clock, reply_age=timedelta(minutes=5)
        )
        await app.runtime.dispatcher.stop()
        await catch_up_now(app.runtime)
        await _deliver_until(app, "conversations.history")  # queues the thread's read
        caplog.set_level(logging.INFO, logger="app.flows.catch_up")

        # The reply's event is being taken in (its transaction open, the reply inserted) when
        # catch-up's page of the thread arrives with the same reply.
        async with app.runtime.session_factory() as event_session, event_session.begin():
            await _take_in_reply(event_session, settings, clock, root, reply)
            delivering = asyncio.create_task(_deliver_until(app, "conversations.replies"))
            if is_postgres:  # catch-up inserted the same reply and waits for this transaction
                await wait_until(lambda: _waiting_on_a_lock(app), message="catch-up to wait")
            # (SQLite has one writer: catch-up cannot even claim its read until this commits.)
        await delivering
        await _drain(app)

        counted = await stored_ts(app)
        assert counted[reply] == 1
        assert (recovered(app, "ticket"), recovered(app, "reply")) == (0, 0)
        assert await catch_up_going(app) == 0
        turned_away = [r for r in caplog.records if "stored by its event meanwhile" in r.message]
        assert len(turned_away) == (1 if is_postgres else 0)


async def _waiting_on_a_lock(app: RunningApp, statement: str = "") -> bool:
    """Whether a session of this database waits on a lock (in a statement starting so)."""
    async with app.runtime.engine.connect() as connection:
        waiting = await connection.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                " AND query LIKE :statement"
            ),
            {"statement": statement + "%"},
        )
    return bool(waiting)


async def test_an_event_that_loses_a_tie_is_answered_503_and_its_retry_finds_it_stored(
    settings, clock, emulator, is_postgres, caplog
):
    """The other way round: catch-up (here, a transaction taking the same reply in) commits
    first, and the event's own insert is turned away. Slack is answered 503 with one line, not
    a traceback, and its retry finds the reply stored."""
    async with serving(settings, clock) as app, slack_sender(app) as sender:
        await watch_since(app, clock)
        root, reply = await _ticket_and_reply(sender, emulator, clock, reply_age=timedelta(0))
        event = message_event(CHANNEL, CUSTOMER, "Still failing", ts=reply, thread_ts=root)
        async with app.runtime.session_factory() as other, other.begin():
            await _take_in_reply(other, settings, clock, root, reply)
            answer = asyncio.create_task(sender.send_event(event, event_id="EvTIE"))
            if is_postgres:  # the event, taking the reply in, waits for this transaction
                await wait_until(
                    lambda: _waiting_on_a_lock(app, "UPDATE tickets SET updated_at"),
                    message="the event to wait",
                )
        first = await answer
        retried = await sender.send_event(event, event_id="EvTIE", retry_num=1)

        # SQLite has one writer: the event waits for the other to commit and finds the reply.
        assert first.status_code == (503 if is_postgres else 200)
        if is_postgres:
            assert any(
                "answered 503: a concurrent write won (duplicate key" in r.getMessage()
                for r in caplog.records
            )
        assert retried.status_code == 200
        assert (await stored_ts(app))[reply] == 1
        assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"


async def test_a_thread_slack_refuses_to_read_is_skipped_and_the_run_goes_on(
    settings, clock, emulator
):
    """A read Slack refuses for good (the thread's parent was deleted meanwhile:
    `thread_not_found`, https://api.slack.com/methods/conversations.replies#errors) fails its
    outbox row; the run leaves that thread and reads the next."""
    async with serving(settings, clock) as app:
        await watch_since(app, clock)
    clock.advance(hours=9)
    now = clock.now()

    write = writer(emulator, now)

    first = write(CUSTOMER, "Exports fail", timedelta(hours=8))
    first_reply = write(CUSTOMER, "Still failing", timedelta(hours=7), first)
    second = write(OTHER, "Can't log in", timedelta(hours=6))
    second_reply = write(OTHER, "Error says SAML", timedelta(hours=5), second)
    replies_of = {first: first_reply, second: second_reply}
    emulator.fail_next("conversations.replies", status=200, error="thread_not_found")

    async with serving(settings, clock) as app:
        await caught_up(app)
        await wait_until(lambda: catch_up_notes(emulator), message="the run's triage note")
        threads = {
            t.root_ts: [m.ts for m in await ticket_messages(app, t.id)] for t in await tickets(app)
        }

    refused, *_ = [call.args.get("ts") for call in emulator.calls("conversations.replies")]
    [read] = [root for root in (first, second) if root != refused]
    assert threads == {refused: [refused], read: [read, replies_of[read]]}
