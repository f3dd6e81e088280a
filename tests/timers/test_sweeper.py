"""The sweep fires each due timer once: atomically with its handler's work, through handler
failures, restarts and replicas sweeping at the same time."""

from __future__ import annotations

import asyncio
import logging
import random
from datetime import datetime, timedelta

import pytest
from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import create_engine, create_session_factory
from app.timers.handlers import TimerHandlers
from app.timers.models import Timer
from app.timers.service import cancel_timers, schedule_timer
from app.timers.sweeper import TimerSweeper, TimerSweeperSettings
from tests.support.server import wait_until
from tests.timers.helpers import (
    ALERT,
    alert_texts,
    alerts_per_timer,
    all_timers,
    load_timer,
    make_ticket,
    make_workspace,
    post_alert,
    schedule,
)

MINUTE = timedelta(minutes=1)
SETTINGS = TimerSweeperSettings.for_interval(timedelta(seconds=15), batch_size=10, max_attempts=3)


class Crash(BaseException):
    """The process dying mid-transaction: not an error a handler reports, nothing is recorded."""


def sweeper_for(session_factory, clock, handlers=None, **settings) -> TimerSweeper:
    if handlers is None:
        handlers = TimerHandlers()
        handlers.register(ALERT, post_alert)
    return TimerSweeper(
        session_factory=session_factory,
        clock=clock,
        handlers=handlers,
        settings=TimerSweeperSettings(**{**SETTINGS.__dict__, **settings}),
        rng=random.Random(7),
    )


@pytest.fixture
async def workspace_id(session_factory) -> int:
    return await make_workspace(session_factory)


async def test_fires_when_due_and_not_before(session_factory, clock, workspace_id):
    timer = await schedule(
        session_factory,
        key="t1",
        workspace_id=workspace_id,
        due_at=clock.now() + 10 * MINUTE,
        now=clock.now(),
    )
    sweeper = sweeper_for(session_factory, clock)

    assert await sweeper.sweep_once() == 0
    clock.advance(10 * MINUTE - timedelta(seconds=1))
    assert await sweeper.sweep_once() == 0
    clock.advance(seconds=1)
    assert await sweeper.sweep_once() == 1
    assert await sweeper.sweep_once() == 0

    assert await alert_texts(session_factory) == ["alert t1"]
    stored = await load_timer(session_factory, timer.id)
    assert stored.done_at == clock.now() and stored.cancelled_at is None
    assert stored.claimed_by == sweeper.identity and stored.attempts == 0


async def test_the_alert_and_done_commit_together(session_factory, clock, workspace_id):
    """A crash after the handler wrote its outbox row leaves neither the row nor a done timer."""
    crash_next = [True]

    async def post_then_maybe_crash(session, timer, now, late):
        await post_alert(session, timer, now, late)
        if crash_next.pop():
            raise Crash

    handlers = TimerHandlers()
    handlers.register(ALERT, post_then_maybe_crash)
    timer = await schedule(
        session_factory, key="t1", workspace_id=workspace_id, due_at=clock.now(), now=clock.now()
    )

    with pytest.raises(Crash):
        await sweeper_for(session_factory, clock, handlers).sweep_once()
    assert await alert_texts(session_factory) == []
    stored = await load_timer(session_factory, timer.id)
    assert stored.done_at is None and stored.attempts == 0

    crash_next.append(False)
    assert await sweeper_for(session_factory, clock, handlers).sweep_once() == 1
    assert await alert_texts(session_factory) == ["alert t1"]
    assert (await load_timer(session_factory, timer.id)).done_at == clock.now()


async def test_a_failing_handler_rolls_back_only_its_own_work(
    session_factory, clock, workspace_id, caplog
):
    async def post_or_fail(session, timer, now, late):
        await post_alert(session, timer, now, late)  # written, then rolled back with the failure
        if timer.key == "bad" and timer.attempts < 2:
            raise RuntimeError("renderer exploded")

    handlers = TimerHandlers()
    handlers.register(ALERT, post_or_fail)
    for key in ("a", "bad", "b"):
        await schedule(
            session_factory, key=key, workspace_id=workspace_id, due_at=clock.now(), now=clock.now()
        )
    sweeper = sweeper_for(session_factory, clock, handlers)

    with caplog.at_level(logging.WARNING, logger="app.timers.sweeper"):
        assert await sweeper.sweep_once() == 3
    assert sorted(await alert_texts(session_factory)) == ["alert a", "alert b"]
    by_key = {t.key: t for t in await all_timers(session_factory)}
    bad = by_key["bad"]
    assert by_key["a"].done_at is not None and by_key["b"].done_at is not None
    assert bad.done_at is None and bad.cancelled_at is None and bad.attempts == 1
    delay = bad.due_at - clock.now()
    assert timedelta(seconds=15 * 0.75) <= delay <= timedelta(seconds=15)  # the next sweep
    assert bad.payload["_sweep"]["last_error"] == "RuntimeError: renderer exploded"
    assert "attempt 1 failed" in caplog.text

    # Retried at the next sweep, again with backoff; then it works, late against its first due.
    clock.advance(seconds=15)
    assert await sweeper.sweep_once() == 1
    bad = await load_timer(session_factory, bad.id)
    assert bad.attempts == 2 and timedelta(seconds=22) <= bad.due_at - clock.now()
    clock.advance(seconds=30)
    assert await sweeper.sweep_once() == 1
    assert sorted(await alert_texts(session_factory)) == ["alert a", "alert b", "alert bad (late)"]
    assert (await load_timer(session_factory, bad.id)).done_at == clock.now()


async def test_a_failure_does_not_undo_a_reschedule_made_meanwhile(
    database_url, is_postgres, session_factory, clock, workspace_id
):
    """The ticket changed while the handler failed: its new due time wins over the backoff.

    Usually the reschedule commits first and the failure is not counted; if the failure is
    recorded first, the reschedule then replaces it. Either way the end is the same."""
    if not is_postgres:
        pytest.skip("SQLite has one writer: nothing can reschedule while the sweep holds it")
    engine = create_engine(database_url)
    other_replica = create_session_factory(engine)
    reschedules: list[asyncio.Task[Timer]] = []
    later = clock.now() + timedelta(hours=2)

    async def fail_while_the_ticket_changes(session, timer, now, late):
        # Blocks on the timer's row until this transaction is rolled back.
        reschedules.append(
            asyncio.create_task(
                schedule(
                    other_replica,
                    key=timer.key,
                    workspace_id=timer.workspace_id,
                    due_at=later,
                    now=now,
                )
            )
        )
        await wait_until(lambda: waiting_on_a_lock(other_replica), message="upsert blocked")
        raise RuntimeError("conflict")

    handlers = TimerHandlers()
    handlers.register(ALERT, fail_while_the_ticket_changes)
    timer = await schedule(
        session_factory, key="t1", workspace_id=workspace_id, due_at=clock.now(), now=clock.now()
    )
    try:
        assert await sweeper_for(session_factory, clock, handlers).sweep_once() == 1
        await asyncio.gather(*reschedules)
    finally:
        await engine.dispose()

    stored = await load_timer(session_factory, timer.id)
    assert stored.due_at == later and stored.attempts == 0
    assert stored.done_at is None and stored.cancelled_at is None


async def waiting_on_a_lock(session_factory) -> bool:
    async with session_factory() as session:
        waiting = await session.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        )
        return bool(waiting)


async def test_gives_up_after_the_attempt_limit(session_factory, clock, workspace_id, caplog):
    async def always_fail(session, timer, now, late):
        await post_alert(session, timer, now, late)
        raise LookupError("ticket 42 vanished")

    handlers = TimerHandlers()
    handlers.register(ALERT, always_fail)
    timer = await schedule(
        session_factory, key="t1", workspace_id=workspace_id, due_at=clock.now(), now=clock.now()
    )
    sweeper = sweeper_for(session_factory, clock, handlers)

    with caplog.at_level(logging.WARNING, logger="app.timers.sweeper"):
        for _ in range(3):
            assert await sweeper.sweep_once() == 1
            clock.advance(timedelta(hours=1))
        assert await sweeper.sweep_once() == 0

    stored = await load_timer(session_factory, timer.id)
    assert stored.attempts == 3
    assert stored.cancelled_at is not None and stored.done_at is None
    assert stored.payload["_sweep"]["gave_up"] == "handler failed 3 times"
    assert stored.payload["_sweep"]["last_error"] == "LookupError: ticket 42 vanished"
    assert await alert_texts(session_factory) == []
    [given_up] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "given up after 3 failed attempt(s)" in given_up.getMessage()


async def test_a_timer_of_an_unknown_kind_is_cancelled(
    session_factory, clock, workspace_id, caplog
):
    timer = await schedule(
        session_factory,
        key="t1",
        kind="retired.feature",
        workspace_id=workspace_id,
        due_at=clock.now(),
        now=clock.now(),
    )

    with caplog.at_level(logging.ERROR, logger="app.timers.sweeper"):
        assert await sweeper_for(session_factory, clock).sweep_once() == 1

    stored = await load_timer(session_factory, timer.id)
    assert stored.cancelled_at == clock.now() and stored.done_at is None
    assert stored.payload["_sweep"]["gave_up"] == "no handler for timer kind 'retired.feature'"
    assert "no handler for timer kind 'retired.feature'" in caplog.text


async def test_a_restart_catches_up_what_fell_due_while_down(
    database_url, session_factory, clock, workspace_id
):
    """Timers due while no process ran fire once at the next start, each marked late."""
    start = clock.now()
    for minutes in (1, 5, 30, 90):
        await schedule(
            session_factory,
            key=f"at+{minutes}m",
            workspace_id=workspace_id,
            due_at=start + minutes * MINUTE,
            now=start,
        )
    clock.advance(MINUTE + timedelta(seconds=10))
    assert await sweeper_for(session_factory, clock).sweep_once() == 1  # on time

    # Down for an hour. A new process: its own engine, session factory and sweeper.
    clock.advance(timedelta(hours=1))
    engine = create_engine(database_url)
    try:
        restarted = sweeper_for(create_session_factory(engine), clock)
        assert await restarted.sweep_until_idle() == 2
        assert await restarted.sweep_until_idle() == 0
    finally:
        await engine.dispose()

    assert await alert_texts(session_factory) == [
        "alert at+1m",
        "alert at+5m (late)",
        "alert at+30m (late)",
    ]
    assert [t.done_at is not None for t in await all_timers(session_factory)] == [
        True,
        True,
        True,
        False,
    ]


async def test_lateness_is_measured_against_the_grace_period(session_factory, clock, workspace_id):
    for seconds in (30, 31):
        await schedule(
            session_factory,
            key=f"-{seconds}s",
            workspace_id=workspace_id,
            due_at=clock.now() - timedelta(seconds=seconds),
            now=clock.now(),
        )
    assert await sweeper_for(session_factory, clock).sweep_once() == 2
    assert await alert_texts(session_factory) == ["alert -31s (late)", "alert -30s"]


async def test_sweep_until_idle_drains_batch_after_batch(session_factory, clock, workspace_id):
    await insert_due_timers(session_factory, workspace_id, clock.now(), count=25)
    sweeper = sweeper_for(session_factory, clock, batch_size=10)

    assert await sweeper.sweep_until_idle() == 25
    assert len(await alerts_per_timer(session_factory)) == 25


async def test_a_handler_may_move_its_own_timer(session_factory, clock, workspace_id):
    """A reminder that repeats re-arms its key instead of being marked done."""

    async def remind_twice(session, timer, now, late):
        await post_alert(session, timer, now, late)
        if timer.payload.get("round", 1) < 2:
            await schedule_timer(
                session=session,
                kind=timer.kind,
                key=timer.key,
                workspace_id=timer.workspace_id,
                due_at=now + timedelta(hours=4),
                now=now,
                payload={"round": 2},
            )

    handlers = TimerHandlers()
    handlers.register(ALERT, remind_twice)
    timer = await schedule(
        session_factory,
        key="remind",
        workspace_id=workspace_id,
        due_at=clock.now(),
        now=clock.now(),
    )
    sweeper = sweeper_for(session_factory, clock, handlers)

    assert await sweeper.sweep_once() == 1
    moved = await load_timer(session_factory, timer.id)
    assert moved.done_at is None and moved.due_at == clock.now() + timedelta(hours=4)
    clock.advance(timedelta(hours=4))
    assert await sweeper.sweep_once() == 1
    assert (await load_timer(session_factory, timer.id)).done_at == clock.now()
    assert await alert_texts(session_factory) == ["alert remind", "alert remind"]


async def test_a_handler_that_cancels_its_tickets_timers_is_still_done(
    session_factory, clock, workspace_id
):
    async def auto_close(session, timer, now, late):
        await post_alert(session, timer, now, late)
        await cancel_timers(session=session, now=now, ticket_id=timer.ticket_id)

    handlers = TimerHandlers()
    handlers.register(ALERT, auto_close)
    ticket_id = await make_ticket(session_factory, workspace_id, 1, clock.now())
    for key, due in (("close", clock.now()), ("csat", clock.now() + MINUTE)):
        await schedule(
            session_factory,
            key=key,
            workspace_id=workspace_id,
            ticket_id=ticket_id,
            due_at=due,
            now=clock.now(),
        )

    assert await sweeper_for(session_factory, clock, handlers).sweep_once() == 1

    by_key = {t.key: t for t in await all_timers(session_factory)}
    assert by_key["close"].done_at == clock.now() and by_key["close"].cancelled_at is None
    assert by_key["csat"].cancelled_at == clock.now() and by_key["csat"].done_at is None


async def test_two_sweepers_fire_each_timer_once(
    database_url, is_postgres, clock, workspace_id, session_factory
):
    """Two replicas (separate engines) sweeping the same due timers at once, several rounds.
    SQLite serialises them (one writer at a time), so it gets fewer to keep the suite fast."""
    count = 600 if is_postgres else 150
    batch_size = count // 12
    await insert_due_timers(session_factory, workspace_id, clock.now(), count=count)
    handled_by: dict[str, list[int]] = {}

    def counting_handler(name: str):
        async def handler(session: AsyncSession, timer: Timer, now: datetime, late: bool) -> None:
            handled_by.setdefault(name, []).append(timer.id)
            await asyncio.sleep(0)  # let the other replica's statements interleave
            await post_alert(session, timer, now, late)

        return handler

    engines = [create_engine(database_url), create_engine(database_url)]
    try:
        sweepers = []
        for name, engine in zip(("first", "second"), engines, strict=True):
            handlers = TimerHandlers()
            handlers.register(ALERT, counting_handler(name))
            sweepers.append(
                sweeper_for(create_session_factory(engine), clock, handlers, batch_size=batch_size)
            )
        total = rounds = 0
        while True:
            rounds += 1
            results = await asyncio.gather(*(sweeper.sweep_once() for sweeper in sweepers * 2))
            total += sum(results)
            if not any(results):
                break
    finally:
        for engine in engines:
            await engine.dispose()

    assert rounds >= 3
    assert total == count
    per_timer = await alerts_per_timer(session_factory)
    assert len(per_timer) == count and set(per_timer.values()) == {1}
    timers = await all_timers(session_factory)
    assert all(t.done_at is not None for t in timers)
    handled_ids = handled_by.get("first", []) + handled_by.get("second", [])
    assert sorted(handled_ids) == [t.id for t in timers]
    if is_postgres:  # both took part (SQLite's busy wait promises no fairness between writers)
        assert {t.claimed_by for t in timers} == {s.identity for s in sweepers}


async def insert_due_timers(session_factory, workspace_id: int, now: datetime, *, count: int):
    async with session_factory() as session, session.begin():
        await session.execute(
            insert(Timer),
            [
                {
                    "kind": ALERT,
                    "key": f"bulk:{n}",
                    "workspace_id": workspace_id,
                    "due_at": now - timedelta(seconds=n % 7),
                    "payload": {},
                    "attempts": 0,
                    "created_at": now,
                }
                for n in range(count)
            ],
        )


def test_settings_follow_the_sweep_interval():
    settings = TimerSweeperSettings.for_interval(timedelta(seconds=15))
    assert settings.late_after == timedelta(seconds=30)
    assert settings.retry_base == timedelta(seconds=15)


async def test_a_timer_whose_ticket_is_held_is_left_for_the_next_sweep(
    session_factory, clock, workspace_id, is_postgres
):
    """Lock contention is not a failure: no backoff (which a clock standing still, or a quiet
    hour, would turn into a long delay), no attempt counted; the next sweep takes it."""
    if not is_postgres:
        pytest.skip("SQLite has one writer: a sweep never finds a row held by another")
    from app.tickets.models import Ticket
    from app.timers.handlers import lock_for_handler
    from app.timers.sweeper import TimerOutcome

    ticket_id = await make_ticket(session_factory, workspace_id, 1, clock.now())
    handled: list[int] = []

    async def needs_the_ticket(session: AsyncSession, timer: Timer, now: datetime, late: bool):
        if timer.ticket_id is not None:
            await lock_for_handler(session, Ticket, timer.ticket_id)
        handled.append(timer.id)

    handlers = TimerHandlers()
    handlers.register(ALERT, needs_the_ticket)
    timer = await schedule(
        session_factory,
        key="held",
        workspace_id=workspace_id,
        due_at=clock.now(),
        now=clock.now(),
        ticket_id=ticket_id,
    )
    other = await schedule(
        session_factory, key="free", workspace_id=workspace_id, due_at=clock.now(), now=clock.now()
    )
    sweeper = sweeper_for(session_factory, clock, handlers)

    async with session_factory() as holder, holder.begin():
        await holder.get(Ticket, ticket_id, with_for_update=True)  # a command on the ticket
        assert await sweeper.handle_next(busy := set()) is TimerOutcome.BUSY
        assert await sweeper.sweep_once(busy) == 1  # the other timer; the held one is passed over
    stored = await load_timer(session_factory, timer.id)
    assert (stored.done_at, stored.attempts, stored.due_at) == (None, 0, timer.due_at)
    assert handled == [other.id]

    assert await sweeper.sweep_until_idle() == 1  # the clock has not moved: still due, now taken
    assert handled == [other.id, timer.id]


async def test_due_timers_are_handled_in_groups_of_one_transaction(
    session_factory, clock, workspace_id
):
    """A group's handlers share one transaction (one claim, one commit); a group takes no
    more timers than its time allows, and the rest go in the next one."""
    sessions: list[AsyncSession] = []  # held, so no two sessions can share an id()

    async def post_and_note(session: AsyncSession, timer: Timer, now: datetime, late: bool):
        sessions.append(session)
        await post_alert(session, timer, now, late)

    handlers = TimerHandlers()
    handlers.register(ALERT, post_and_note)
    await insert_due_timers(session_factory, workspace_id, clock.now(), count=12)

    roomy = sweeper_for(session_factory, clock, handlers, group_size=5, group_seconds=60)
    assert await roomy.sweep_once() == 10
    assert [len(set(map(id, sessions[:5]))), len(set(map(id, sessions[5:10])))] == [1, 1]
    assert sessions[0] is not sessions[5]

    sessions.clear()
    no_time = sweeper_for(session_factory, clock, handlers, group_size=5, group_seconds=0)
    assert await no_time.sweep_until_idle() == 2
    assert len(set(map(id, sessions))) == 2  # no time for a group: one timer per transaction
    per_timer = await alerts_per_timer(session_factory)
    assert len(per_timer) == 12 and set(per_timer.values()) == {1}


async def test_a_group_with_a_held_ticket_is_taken_again_one_by_one(
    session_factory, clock, workspace_id, is_postgres, caplog
):
    """The group's prepare hook locks all its tickets in one statement; one of them held by a
    command rolls the group back, and its timers are taken one at a time: the held one is left
    for the next sweep, unchanged, and the others are done."""
    if not is_postgres:
        pytest.skip("SQLite has one writer: a sweep never finds a row held by another")
    from app.tickets.models import Ticket
    from app.tickets.timer_locks import lock_tickets
    from app.timers.handlers import lock_for_handler

    tickets = [await make_ticket(session_factory, workspace_id, n, clock.now()) for n in (1, 2, 3)]

    async def needs_the_ticket(session: AsyncSession, timer: Timer, now: datetime, late: bool):
        await lock_for_handler(session, Ticket, timer.ticket_id)
        await post_alert(session, timer, now, late)

    handlers = TimerHandlers()
    handlers.register(ALERT, needs_the_ticket, prepare=lock_tickets)
    timers = [
        await schedule(
            session_factory,
            key=f"t{ticket_id}",
            workspace_id=workspace_id,
            due_at=clock.now(),
            now=clock.now(),
            ticket_id=ticket_id,
        )
        for ticket_id in tickets
    ]
    sweeper = sweeper_for(session_factory, clock, handlers)

    async with session_factory() as holder, holder.begin():
        await holder.get(Ticket, tickets[1], with_for_update=True)  # a command on ticket 2
        with caplog.at_level(logging.INFO, logger="app.timers.sweeper"):
            assert await sweeper.sweep_once() == 3
    assert "handling them one at a time" in caplog.text
    stored = {t.key: t for t in await all_timers(session_factory)}
    assert stored["t" + str(tickets[1])].done_at is None
    assert stored["t" + str(tickets[1])].attempts == 0
    assert sorted(await alert_texts(session_factory)) == [f"alert {t.key}" for t in timers[::2]]

    assert await sweeper.sweep_until_idle() == 1  # released: taken by the next sweep
    per_timer = await alerts_per_timer(session_factory)
    assert sorted(per_timer) == sorted(t.id for t in timers) and set(per_timer.values()) == {1}


async def test_in_a_group_one_kind_reads_what_another_kind_wrote(
    session_factory, clock, workspace_id
):
    """Sessions do not autoflush: a group writes each kind's work before the next kind runs,
    so a later handler (a digest counting) sees what an earlier one (an alert) wrote."""
    from sqlalchemy import func, select

    from app.outbox.models import OutboxMessage
    from app.outbox.service import enqueue_slack_call

    seen: list[int] = []

    async def count_alerts(session: AsyncSession, timer: Timer, now: datetime, late: bool):
        seen.append(int(await session.scalar(select(func.count()).select_from(OutboxMessage)) or 0))

    async def post_unflushed(session: AsyncSession, timer: Timer, now: datetime, late: bool):
        await enqueue_slack_call(  # as the SLA alerts are: written with the group's flush
            session=session,
            method="chat.postMessage",
            payload={"channel": "CTRIAGE", "text": f"alert {timer.key}"},
            now=now,
            flush=False,
        )

    handlers = TimerHandlers()
    handlers.register(ALERT, post_unflushed)
    handlers.register("test.count", count_alerts)
    for n in range(3):
        await schedule(
            session_factory,
            key=f"alert {n}",
            workspace_id=workspace_id,
            due_at=clock.now() - timedelta(minutes=2),
            now=clock.now(),
        )
    await schedule(
        session_factory,
        key="count",
        kind="test.count",
        workspace_id=workspace_id,
        due_at=clock.now() - timedelta(minutes=1),
        now=clock.now(),
    )

    roomy = sweeper_for(session_factory, clock, handlers, group_seconds=60)
    assert await roomy.sweep_once() == 4
    assert seen == [3]
