"""A post whose first attempt may have landed is looked for before it is sent again.

Slack has no idempotency key, but it keeps a message's metadata: every post carries its outbox
row's id there, and a row whose earlier attempt ended without an answer (a timeout) or whose
dispatcher died before recording the answer is first looked for in its channel or thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from app.outbox.enums import OutboxStatus
from app.slack_emulator import SlackEmulator
from tests.conftest import BOT_TOKEN, TEAM_ID, make_settings
from tests.outbox.test_delivery import load, post_message, posted_texts
from tests.support.server import RunningApp, wait_until


@pytest.fixture
async def same_clock_emulator(clock) -> AsyncIterator[SlackEmulator]:
    """Slack's clock is ticketbot's (message ts and "since when" compare)."""
    emulator = SlackEmulator(
        bot_token=BOT_TOKEN, team_id=TEAM_ID, clock=lambda: clock.now().timestamp()
    )
    await emulator.start()
    yield emulator
    await emulator.stop()


async def test_a_post_made_just_before_a_crash_is_found_not_posted_again(
    database_url, clock, same_clock_emulator
):
    emulator = same_clock_emulator
    settings = make_settings(database_url, emulator)
    app = await RunningApp(settings, clock).start()
    # Slack posts at once and answers late: late enough that, on a loaded machine too, the
    # crash comes before the answer (else the first attempt is recorded and nothing is looked up).
    emulator.slow_next("chat.postMessage", seconds=5.0)
    row_id = await post_message(app, "posted before the crash")
    await wait_until(lambda: posted_texts(emulator, "posted before the crash"), message="post")
    await app.crash()  # kill -9: the answer, and the ts, are never recorded

    restarted = await RunningApp(settings, clock).start()
    try:
        clock.advance(minutes=10)  # past the dead dispatcher's lease
        await restarted.runtime.dispatcher.dispatch_once()
        row = await load(restarted, row_id)
    finally:
        await restarted.stop()

    [posted] = [m for m in emulator.messages("CTRIAGE") if m["text"] == "posted before the crash"]
    assert row.status == OutboxStatus.DELIVERED
    assert row.result == {"ts": posted["ts"], "channel": "CTRIAGE"}
    assert len(emulator.delivered("chat.postMessage")) == 1
    [lookup] = emulator.delivered("conversations.history")
    assert lookup.args["include_all_metadata"] in ("1", "true", True)


async def test_a_timed_out_post_is_found_on_the_retry(database_url, clock, same_clock_emulator):
    emulator = same_clock_emulator
    settings = make_settings(database_url, emulator, slack_http_timeout_seconds=2.0)
    app = await RunningApp(settings, clock).start()
    try:
        emulator.slow_next("chat.postMessage", seconds=3.0)  # past the 2 s client timeout
        row_id = await post_message(app, "answered too late")
        await wait_until(
            lambda: _attempted(app, row_id), within=10, message="the timed-out attempt"
        )
        first = await load(app, row_id)
        clock.advance(minutes=10)
        await asyncio.sleep(0)
        await app.runtime.dispatcher.dispatch_once()
        row = await load(app, row_id)
    finally:
        await app.stop()

    assert first.status == OutboxStatus.PENDING and first.maybe_sent_at is not None
    assert row.status == OutboxStatus.DELIVERED
    assert posted_texts(emulator, "answered too late") == ["answered too late"]


async def test_a_post_that_never_landed_is_sent_after_looking(
    database_url, clock, same_clock_emulator
):
    emulator = same_clock_emulator
    app = await RunningApp(make_settings(database_url, emulator), clock).start()
    try:
        await app.runtime.dispatcher.stop()
        row_id = await post_message(app, "lost on the way")
        async with app.runtime.session_factory() as session, session.begin():
            from app.outbox.models import OutboxMessage

            row = await session.get(OutboxMessage, row_id)
            assert row is not None
            row.maybe_sent_at = clock.now() - timedelta(seconds=5)
        await app.runtime.dispatcher.dispatch_once()
        delivered = await load(app, row_id)
    finally:
        await app.stop()

    assert delivered.status == OutboxStatus.DELIVERED
    assert posted_texts(emulator, "lost on the way") == ["lost on the way"]
    assert len(emulator.delivered("conversations.history")) == 1


async def _attempted(app, row_id: int):
    row = await load(app, row_id)
    return row if row.attempts >= 1 else None
