"""Slack calls are paced under Slack's rate limits before Slack has to answer 429, across every
replica, and a 429 holds its own method or channel only (end to end: outbox, emulator, clock)."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.clock import SettableClock
from app.outbox.enums import OutboxStatus
from app.outbox.models import OutboxMessage
from app.outbox.pacing import Pace, Pacer
from app.outbox.service import enqueue_slack_call
from app.slack_emulator import SlackEmulator
from tests.conftest import BOT_TOKEN, TEAM_ID, make_settings
from tests.support.server import RunningApp

ALERTS = 200


@pytest.fixture
async def emulator_on_clock(clock: SettableClock) -> AsyncIterator[SlackEmulator]:
    """The emulator on the app's clock, so its per-channel limit (one post a second after a
    burst, as Slack documents) is counted in the same seconds as the app's pace."""
    emulator = SlackEmulator(
        bot_token=BOT_TOKEN, team_id=TEAM_ID, clock=lambda: clock.now().timestamp()
    )
    await emulator.start()
    yield emulator
    await emulator.stop()


async def owe(app: RunningApp, method: str, payloads: list[dict]) -> None:
    async with app.runtime.session_factory() as session, session.begin():
        for payload in payloads:
            await enqueue_slack_call(
                session=session, method=method, payload=payload, now=app.clock.now()
            )


async def rows(app: RunningApp) -> list[OutboxMessage]:
    async with app.runtime.session_factory() as session:
        return list((await session.scalars(select(OutboxMessage))).all())


async def run_for(apps: list[RunningApp], clock: SettableClock, seconds: int) -> None:
    """Each second: every replica delivers what is due (until it finds nothing), then time moves."""
    for _ in range(seconds):
        for app in apps:
            while await app.runtime.dispatcher.dispatch_once():
                pass
        clock.advance(seconds=1)


async def test_two_hundred_alerts_into_one_channel_are_paced_and_all_delivered(
    database_url, clock, emulator_on_clock
):
    emulator = emulator_on_clock
    settings = make_settings(database_url, emulator)
    first = await RunningApp(settings, clock).start()
    second = await RunningApp(settings, clock).start()
    try:
        await owe(
            first,
            "chat.postMessage",
            [
                {"channel": "CTRIAGE", "text": f":rotating_light: T-{n} breached its SLA"}
                for n in range(ALERTS)
            ],
        )
        await run_for([first, second], clock, seconds=ALERTS + 10)
        owed = await rows(first)
    finally:
        await first.stop()
        await second.stop()

    calls = emulator.calls("chat.postMessage")
    assert [call.status for call in calls if call.status != 200] == []  # not one 429
    assert len(calls) == ALERTS  # each sent once: a deferral is not an attempt
    texts = Counter(call.args["text"] for call in emulator.delivered("chat.postMessage"))
    assert len(texts) == ALERTS and set(texts.values()) == {1}
    assert {row.status for row in owed} == {OutboxStatus.DELIVERED}
    assert {row.attempts for row in owed} == {1}
    # A burst, then one a second: never more than 10 + n posts in any n seconds.
    times = sorted(call.at for call in calls)
    for start, at in enumerate(times):
        within = sum(1 for later in times[start:] if later - at < 60)
        assert within <= 10 + 60
    assert times[-1] - times[0] >= ALERTS - 10 - 1


async def test_a_429_holds_its_channel_for_retry_after_and_nothing_else(
    database_url, clock, emulator_on_clock
):
    emulator = emulator_on_clock
    app = await RunningApp(make_settings(database_url, emulator), clock).start()
    try:
        await app.runtime.dispatcher.stop()  # this test drives every round
        emulator.fail_next("chat.postMessage", status=429, retry_after=30)
        await owe(app, "chat.postMessage", [{"channel": "CBUSY", "text": "refused once"}])
        await run_for([app], clock, seconds=1)
        await owe(app, "chat.postMessage", [{"channel": "CBUSY", "text": "same channel"}])
        await owe(app, "chat.postMessage", [{"channel": "COTHER", "text": "another channel"}])
        await run_for([app], clock, seconds=1)
        early = [call.args["text"] for call in emulator.delivered("chat.postMessage")]
        await run_for([app], clock, seconds=40)
        late = [call.args["text"] for call in emulator.delivered("chat.postMessage")]
    finally:
        await app.stop()

    assert early == ["another channel"]  # the busy channel waits Retry-After; others do not
    assert sorted(late) == ["another channel", "refused once", "same channel"]


async def test_replicas_share_one_pace(settings, clock, running_app):
    """Two pacers (two replicas) over one database hand out distinct slots at one pace."""
    pace = {"slack:chat.postMessage:CSHARED": Pace(interval=timedelta(seconds=1), burst=3)}
    replicas = [
        Pacer(running_app.runtime.session_factory, clock),
        Pacer(running_app.runtime.session_factory, clock),
    ]
    now = clock.now()
    slots = [await replicas[n % 2].reserve(pace) for n in range(8)]

    assert slots[:3] == [None, None, None]  # the burst goes now
    assert slots[3:] == [now + timedelta(seconds=s) for s in range(1, 6)]
