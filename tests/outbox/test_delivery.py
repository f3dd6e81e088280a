"""The outbox delivers what we owe Slack exactly once, through 429s, 5xx, outages and restarts."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from app.outbox.delivery import DeliveryOutcome
from app.outbox.enums import OutboxStatus
from app.outbox.models import OutboxMessage
from app.outbox.service import enqueue_slack_call
from app.slack.delivery import SlackApiSender
from app.tickets.enums import TicketSource
from app.tickets.models import Ticket
from app.tickets.notifications import TRIAGE_CARD_POSTED
from app.workspaces.models import Workspace
from tests.conftest import make_settings
from tests.support.server import RunningApp, wait_until

TEN_MINUTES = timedelta(minutes=10)


async def post_message(app: RunningApp, text: str, channel: str = "CTRIAGE", **options) -> int:
    """Owe Slack one chat.postMessage, committed like any service would."""
    async with app.runtime.session_factory() as session, session.begin():
        row = await enqueue_slack_call(
            session=session,
            method="chat.postMessage",
            payload={"channel": channel, "text": text},
            now=app.clock.now(),
            **options,
        )
        return row.id


async def load(app: RunningApp, row_id: int) -> OutboxMessage:
    async with app.runtime.session_factory() as session:
        row = await session.get(OutboxMessage, row_id)
        assert row is not None
        return row


def posted_texts(emulator, text: str) -> list[str]:
    return [
        call.args["text"]
        for call in emulator.delivered("chat.postMessage")
        if call.args.get("text") == text
    ]


async def retry_until_delivered(app: RunningApp, row_id: int, *, rounds: int = 20) -> None:
    """Move the clock past each backoff and let the dispatcher try again."""
    for _ in range(rounds):
        row = await load(app, row_id)
        if row.status != OutboxStatus.PENDING:
            return
        app.clock.advance(TEN_MINUTES)
        await app.runtime.dispatcher.dispatch_once()
    raise AssertionError(f"row {row_id} still pending after {rounds} rounds")


async def test_delivered_right_after_commit(running_app, emulator):
    row_id = await post_message(running_app, "New ticket T-1")

    # The poll interval is 60 s in tests: this delivery can only come from the commit wake-up.
    await wait_until(lambda: posted_texts(emulator, "New ticket T-1"), within=3)
    row = await wait_until(lambda: _delivered(running_app, row_id), message="row delivered")
    assert row.result["ts"] == emulator.messages("CTRIAGE")[0]["ts"]
    assert row.attempts == 1


async def _delivered(app: RunningApp, row_id: int) -> OutboxMessage | None:
    row = await load(app, row_id)
    return row if row.status == OutboxStatus.DELIVERED else None


async def _attempted(app: RunningApp, row_id: int, attempts: int = 1) -> OutboxMessage | None:
    row = await load(app, row_id)
    return row if row.attempts >= attempts else None


async def test_429_waits_for_retry_after_then_delivers_once(running_app, emulator):
    emulator.fail_next("chat.postMessage", status=429, retry_after=30)
    row_id = await post_message(running_app, "rate limited")

    row = await wait_until(lambda: _attempted(running_app, row_id), message="first attempt")
    assert row.status == OutboxStatus.PENDING
    assert row.last_status_code == 429
    assert row.next_attempt_at == running_app.clock.now() + timedelta(seconds=30)

    running_app.clock.advance(seconds=29)
    assert await running_app.runtime.dispatcher.dispatch_once() == 0  # not yet due
    running_app.clock.advance(seconds=1)
    assert await running_app.runtime.dispatcher.dispatch_once() == 1

    assert posted_texts(emulator, "rate limited") == ["rate limited"]
    assert len(emulator.calls("chat.postMessage")) == 2
    assert (await load(running_app, row_id)).status == OutboxStatus.DELIVERED


async def test_server_errors_are_retried_with_backoff(running_app, emulator):
    emulator.fail_next("chat.postMessage", status=500, times=2)
    emulator.fail_next("chat.postMessage", status=503)
    row_id = await post_message(running_app, "through 5xx")
    await wait_until(lambda: _attempted(running_app, row_id), message="first attempt")

    first = await load(running_app, row_id)
    delay = first.next_attempt_at - running_app.clock.now()
    assert timedelta(seconds=0.75) <= delay <= timedelta(seconds=1)
    await retry_until_delivered(running_app, row_id)

    row = await load(running_app, row_id)
    assert row.status == OutboxStatus.DELIVERED and row.attempts == 4
    assert posted_texts(emulator, "through 5xx") == ["through 5xx"]


async def test_outage_is_waited_out(running_app, emulator):
    await emulator.go_down()
    row_id = await post_message(running_app, "while Slack was down")
    row = await wait_until(lambda: _attempted(running_app, row_id), message="failed attempt")
    assert row.status == OutboxStatus.PENDING
    assert "could not reach Slack" in (row.last_error or "")

    running_app.clock.advance(TEN_MINUTES)
    await running_app.runtime.dispatcher.dispatch_once()  # still down
    await emulator.come_up()
    await retry_until_delivered(running_app, row_id)

    assert posted_texts(emulator, "while Slack was down") == ["while Slack was down"]


async def test_owed_messages_survive_a_restart(settings, clock, emulator):
    app = await RunningApp(settings, clock).start()
    await emulator.go_down()
    row_ids = [await post_message(app, f"owed {n}") for n in range(3)]
    for row_id in row_ids:
        await wait_until(lambda row_id=row_id: _attempted(app, row_id), message="attempt")
    await app.stop()

    await emulator.come_up()
    clock.advance(TEN_MINUTES)
    restarted = await RunningApp(settings, clock).start()
    try:
        for row_id in row_ids:
            await wait_until(lambda row_id=row_id: _delivered(restarted, row_id), message="row")
    finally:
        await restarted.stop()

    for n in range(3):
        assert posted_texts(emulator, f"owed {n}") == [f"owed {n}"]


async def test_a_claim_left_by_a_dead_process_expires(settings, clock, emulator):
    """A dispatcher that died between claiming and sending leaves a lease, not a lost row."""
    app = await RunningApp(settings, clock).start()
    await app.stop()
    async with app.runtime.session_factory() as session, session.begin():
        row = await enqueue_slack_call(
            session=session,
            method="chat.postMessage",
            payload={"channel": "CTRIAGE", "text": "claimed by the dead"},
            now=clock.now(),
        )
        row.claimed_by = "dead-replica"
        row.claimed_until = clock.now() + timedelta(seconds=60)

    restarted = await RunningApp(settings, clock).start()
    try:
        assert await restarted.runtime.dispatcher.dispatch_once() == 0
        clock.advance(seconds=61)
        assert await restarted.runtime.dispatcher.dispatch_once() == 1
    finally:
        await restarted.stop()
    assert posted_texts(emulator, "claimed by the dead") == ["claimed by the dead"]


async def test_gives_up_after_the_attempt_limit(database_url, clock, emulator):
    settings = make_settings(database_url, emulator, outbox_max_attempts=3)
    app = await RunningApp(settings, clock).start()
    try:
        emulator.fail_next("chat.postMessage", status=500, times=10)
        row_id = await post_message(app, "never")
        await wait_until(lambda: _attempted(app, row_id), message="first attempt")
        await retry_until_delivered(app, row_id)
        row = await load(app, row_id)
    finally:
        await app.stop()

    assert row.status == OutboxStatus.FAILED
    assert row.attempts == 3
    assert "500" in (row.last_error or "")
    assert emulator.delivered("chat.postMessage") == []


async def test_permanent_slack_error_fails_at_once_with_its_dependents(running_app, emulator):
    emulator.fail_next("chat.postMessage", status=200, error="channel_not_found")
    async with running_app.runtime.session_factory() as session, session.begin():
        card = await enqueue_slack_call(
            session=session,
            method="chat.postMessage",
            payload={"channel": "CGONE", "text": "card"},
            now=running_app.clock.now(),
        )
        update_row = await enqueue_slack_call(
            session=session,
            method="chat.update",
            payload={"channel": "CGONE", "text": "card, updated"},
            now=running_app.clock.now(),
            depends_on=card,
            payload_from_dependency={"ts": "ts"},
        )
    card_row = await wait_until(lambda: _attempted(running_app, card.id), message="attempt")
    dependent = await load(running_app, update_row.id)

    assert card_row.status == OutboxStatus.FAILED
    assert card_row.last_error == "Slack error channel_not_found"
    assert dependent.status == OutboxStatus.FAILED
    assert emulator.calls("chat.update") == []


async def test_slack_answer_is_stored_and_feeds_later_updates(running_app, emulator):
    """The triage card's ts reaches its ticket, and a queued chat.update edits that card."""
    async with running_app.runtime.session_factory() as session, session.begin():
        workspace = await session.scalar(select(Workspace))
        ticket = Ticket(
            workspace_id=workspace.id,
            number=1,
            subject="Exports fail",
            source=TicketSource.MESSAGE,
            created_at=running_app.clock.now(),
        )
        session.add(ticket)
        await session.flush()
        card = await enqueue_slack_call(
            session=session,
            method="chat.postMessage",
            payload={"channel": "CTRIAGE", "text": "T-1 new"},
            now=running_app.clock.now(),
            on_delivered=TRIAGE_CARD_POSTED,
            on_delivered_args={"ticket_id": ticket.id},
        )
        await enqueue_slack_call(
            session=session,
            method="chat.update",
            payload={"channel": "CTRIAGE", "text": "T-1 open"},
            now=running_app.clock.now(),
            depends_on=card,
            payload_from_dependency={"ts": "ts"},
        )

    await wait_until(lambda: emulator.delivered("chat.update"), message="the card update")
    async with running_app.runtime.session_factory() as session:
        stored = await session.get(Ticket, ticket.id)
    messages = emulator.messages("CTRIAGE")
    assert len(messages) == 1
    assert messages[0]["text"] == "T-1 open"
    assert stored.triage_card_ts == messages[0]["ts"]
    assert stored.triage_channel_id == "CTRIAGE"


async def test_two_dispatchers_deliver_each_row_once(settings, clock, emulator):
    first = await RunningApp(settings, clock).start()
    second = await RunningApp(settings, clock).start()
    try:
        # Written without waking anyone, then both replicas race for the same rows.
        async with first.runtime.session_factory() as session, session.begin():
            for n in range(120):
                await enqueue_slack_call(
                    session=session,
                    method="chat.postMessage",
                    payload={"channel": f"C{n % 7}", "text": f"race {n}"},
                    now=clock.now(),
                )
        # About 17 posts a channel: past a channel's burst they are paced one a second, so the
        # clock moves a second between rounds.
        for _ in range(30):
            await asyncio.gather(
                *(
                    app.runtime.dispatcher.dispatch_once()
                    for app in (first, second)
                    for _ in range(4)
                )
            )
            if len(emulator.delivered("chat.postMessage")) >= 120:
                break
            clock.advance(seconds=1)
        await asyncio.gather(first.runtime.dispatcher.dispatch_once())
    finally:
        await first.stop()
        await second.stop()

    texts = [call.args["text"] for call in emulator.delivered("chat.postMessage")]
    assert sorted(texts) == sorted(f"race {n}" for n in range(120))


async def test_slow_answers_time_out_and_are_retried(database_url, clock, emulator):
    """A timeout is retried. Slack may have acted on the slow call: at-least-once by design."""
    settings = make_settings(database_url, emulator, slack_http_timeout_seconds=2.0)
    running_app = await RunningApp(settings, clock).start()
    try:
        emulator.slow_next("chat.postMessage", seconds=3)
        row_id = await post_message(running_app, "slow")
        row = await wait_until(lambda: _attempted(running_app, row_id), within=6, message="timeout")
        assert row.status == OutboxStatus.PENDING
        assert "timed out" in (row.last_error or "")

        await retry_until_delivered(running_app, row_id)
        assert (await load(running_app, row_id)).status == OutboxStatus.DELIVERED
    finally:
        await running_app.stop()


async def test_outbox_depth_and_latency_are_exported(running_app, emulator):
    await emulator.go_down()
    row_id = await post_message(running_app, "queued")
    await wait_until(lambda: _attempted(running_app, row_id), message="attempt")
    async with running_app.runtime.session_factory() as session, session.begin():
        await session.execute(
            update(OutboxMessage).where(OutboxMessage.id == row_id).values(attempts=1)
        )
    import httpx

    async with httpx.AsyncClient(base_url=running_app.url) as client:
        queued = (await client.get("/metrics")).text
        await emulator.come_up()
        await retry_until_delivered(running_app, row_id)
        drained = (await client.get("/metrics")).text

    assert 'ticketbot_outbox_messages{status="pending"} 1.0' in queued
    assert 'ticketbot_outbox_messages{status="pending"} 0.0' in drained
    assert 'ticketbot_outbox_delivery_attempts_total{kind="slack_api",outcome="retry"}' in drained
    assert 'ticketbot_outbox_delivery_latency_seconds_count{kind="slack_api"} 1.0' in drained


async def test_a_slow_slack_never_lets_a_second_replica_post_again(database_url, clock, emulator):
    """Rows wait their turn behind slow answers, but their claim outlives every send it covers,
    so another replica never takes over a row whose first send may still land."""
    slow = make_settings(database_url, emulator, outbox_concurrency=1)
    first = await RunningApp(slow, clock).start()
    second = await RunningApp(make_settings(database_url, emulator), clock).start()
    try:
        emulator.slow_next("chat.postMessage", seconds=0.3, times=6)
        async with first.runtime.session_factory() as session, session.begin():
            for n in range(6):  # one commit: the first dispatcher claims all six at once
                await enqueue_slack_call(
                    session=session,
                    method="chat.postMessage",
                    payload={"channel": "CTRIAGE", "text": f"slow {n}"},
                    now=clock.now(),
                )
        await wait_until(lambda: posted_texts(emulator, "slow 0"), message="the first send")
        clock.advance(seconds=61)  # past the configured lease, not past the claim's own
        taken_over = await second.runtime.dispatcher.dispatch_once()
        await wait_until(
            lambda: all(posted_texts(emulator, f"slow {n}") for n in range(6)),
            within=10,
            message="every row sent",
        )
    finally:
        await first.stop()
        await second.stop()

    assert taken_over == 0
    assert [len(posted_texts(emulator, f"slow {n}")) for n in range(6)] == [1] * 6


async def test_a_send_that_outlives_its_limit_is_an_unknown_outcome(database_url, clock, emulator):
    from app.outbox.dispatcher import DispatcherSettings, OutboxDispatcher

    app = await RunningApp(make_settings(database_url, emulator), clock).start()
    try:
        runtime = app.runtime
        cut_short = OutboxDispatcher(
            session_factory=runtime.session_factory,
            senders=runtime.dispatcher._senders,
            clock=clock,
            settings=DispatcherSettings(send_timeout=timedelta(seconds=0.2)),
        )
        await app.runtime.dispatcher.stop()  # its own dispatcher no longer competes for the row
        emulator.slow_next("chat.postMessage", seconds=1.0)
        row_id = await post_message(app, "hanging")
        assert await cut_short.dispatch_once() == 1
        row = await load(app, row_id)
    finally:
        await app.stop()

    assert row.status == OutboxStatus.PENDING and row.attempts == 1
    assert "may have acted" in (row.last_error or "")
    assert row.claimed_by is None  # the claim was released with the outcome recorded


async def test_rows_of_one_coalesce_key_are_never_in_flight_together(database_url, clock, emulator):
    """A card's updates are rendered when sent: while one is on its way (Slack answering
    slowly), the next waits for it, so the newer state always lands last."""
    first = await RunningApp(make_settings(database_url, emulator), clock).start()
    second = await RunningApp(make_settings(database_url, emulator), clock).start()
    try:
        emulator.slow_next("chat.postMessage", seconds=0.5)
        older = await post_message(first, "card: at risk", coalesce_key="card:1")
        await wait_until(lambda: _claimed(first, older), message="the first update to go out")
        newer = await post_message(first, "card: breached", coalesce_key="card:1")
        assert newer != older  # the first is being sent: not coalesced into
        assert await second.runtime.dispatcher.dispatch_once() == 0  # it waits its turn
        await wait_until(lambda: posted_texts(emulator, "card: breached"), message="the newer")
    finally:
        await first.stop()
        await second.stop()

    texts = [call.args["text"] for call in emulator.delivered("chat.postMessage")]
    assert texts == ["card: at risk", "card: breached"]


async def test_a_claim_under_way_elsewhere_holds_back_the_later_rows_of_its_key(
    database_url, is_postgres, clock, emulator
):
    """Two claims at once (two workers, two replicas): the one whose earlier row of a key is
    locked by the other claim, still under way, does not take the later row either; the
    earlier goes first."""
    if not is_postgres:
        pytest.skip("SQLite has no row locks: a claim there waits for the one under way")
    app = await RunningApp(make_settings(database_url, emulator), clock).start()
    try:
        dispatcher = app.runtime.dispatcher
        await dispatcher.stop()  # rounds below are run one at a time
        older = await post_message(app, "card: at risk", coalesce_key="card:1")
        await post_message(app, "card: breached", coalesce_key="card:1", coalesce=False)
        async with app.runtime.session_factory() as claiming, claiming.begin():
            await claiming.execute(  # the other claim has locked the older row, not yet marked it
                select(OutboxMessage.id)
                .where(OutboxMessage.id == older)
                .with_for_update(key_share=True)
            )
            taken_meanwhile = await dispatcher.dispatch_once()
        rounds = [await dispatcher.dispatch_once() for _ in range(2)]
    finally:
        await app.stop()

    assert taken_meanwhile == 0
    assert rounds == [1, 1]
    texts = [call.args["text"] for call in emulator.delivered("chat.postMessage")]
    assert texts == ["card: at risk", "card: breached"]


async def test_a_claim_whose_lease_looks_expired_is_not_coalesced_into(
    database_url, clock, emulator
):
    """A jump of the clock (or a dispatcher that died) makes a claim look abandoned while its
    send may still be on its way with an older render: a change then gets a row of its own,
    sent after that one, never folded into a row that may already be rendered."""
    app = await RunningApp(make_settings(database_url, emulator), clock).start()
    try:
        emulator.slow_next("chat.postMessage", seconds=0.5)
        older = await post_message(app, "card: at risk", coalesce_key="card:1")
        await wait_until(lambda: _claimed(app, older), message="the first update to go out")
        clock.advance(hours=1)  # far past the claim's lease
        newer = await post_message(app, "card: breached", coalesce_key="card:1")
        assert newer != older
        await wait_until(lambda: posted_texts(emulator, "card: breached"), message="the newer")
    finally:
        await app.stop()

    texts = [call.args["text"] for call in emulator.delivered("chat.postMessage")]
    assert texts == ["card: at risk", "card: breached"]


async def _claimed(app: RunningApp, row_id: int) -> bool:
    row = await load(app, row_id)
    return row.claimed_until is not None and row.status == OutboxStatus.PENDING


async def test_a_delivered_handler_that_raises_holds_back_only_its_own_row(running_app, emulator):
    """Handlers run without a savepoint each; one that raises has the batch recorded again
    with each in its own, so the others' results are kept and only its row waits."""
    runtime = running_app.runtime

    async def explodes(session, args, result, now) -> None:
        raise RuntimeError("a bug in a handler")

    runtime.delivery_handlers.register("test.explodes", explodes)
    emulator.slow_next("chat.postMessage", seconds=0.2, times=5)  # answers arriving together
    async with runtime.session_factory() as session, session.begin():
        workspace = await session.scalar(select(Workspace))
        tickets = [
            Ticket(
                workspace_id=workspace.id,
                number=n,
                subject=f"Ticket {n}",
                source=TicketSource.MESSAGE,
                created_at=running_app.clock.now(),
            )
            for n in (1, 2, 3, 4)
        ]
        session.add_all(tickets)
        await session.flush()
        rows = [
            await enqueue_slack_call(
                session=session,
                method="chat.postMessage",
                payload={"channel": "CTRIAGE", "text": f"card {n}"},
                now=running_app.clock.now(),
                on_delivered="test.explodes" if n == 2 else TRIAGE_CARD_POSTED,
                on_delivered_args={"ticket_id": ticket.id},
            )
            for n, ticket in enumerate(tickets, start=1)
        ]
    row_ids = [row.id for row in rows]

    await wait_until(
        lambda: all(posted_texts(emulator, f"card {n}") for n in (1, 2, 3, 4)),
        message="all four sent",
    )
    delivered = [row_ids[n] for n in (0, 2, 3)]
    await wait_until(lambda: _all_delivered(running_app, delivered), message="the three recorded")
    async with runtime.session_factory() as session:
        stored = {t.number: t for t in await session.scalars(select(Ticket))}
        exploded = await session.get(OutboxMessage, row_ids[1])
    assert [stored[n].triage_card_ts is not None for n in (1, 2, 3, 4)] == [
        True,
        False,
        True,
        True,
    ]
    assert exploded.status is OutboxStatus.PENDING and exploded.claimed_by is not None


async def _all_delivered(app: RunningApp, row_ids: list[int]) -> bool:
    async with app.runtime.session_factory() as session:
        statuses = await session.scalars(
            select(OutboxMessage.status).where(OutboxMessage.id.in_(row_ids))
        )
        return all(status is OutboxStatus.DELIVERED for status in statuses)


async def _owe_posts(app: RunningApp, texts: list[str]) -> list[int]:
    """Owe Slack these posts, in one commit (so one claim takes them all), each into a channel
    of its own (posts into one conversation wait for each other)."""
    async with app.runtime.session_factory() as session, session.begin():
        rows = [
            await enqueue_slack_call(
                session=session,
                method="chat.postMessage",
                payload={"channel": f"CPOSTS{n}", "text": text},
                now=app.clock.now(),
            )
            for n, text in enumerate(texts)
        ]
    return [row.id for row in rows]


async def _delivered_among(app: RunningApp, row_ids: list[int]) -> int:
    async with app.runtime.session_factory() as session:
        statuses = await session.scalars(
            select(OutboxMessage.status).where(OutboxMessage.id.in_(row_ids))
        )
        return sum(status is OutboxStatus.DELIVERED for status in statuses)


async def test_a_claim_is_recorded_in_one_transaction_and_a_slow_send_holds_back_no_other(
    database_url, clock, emulator
):
    """The outcomes of a claim are recorded together once its sends have ended; one slow
    answer holds the others' recording back for at most `record_within`."""
    from sqlalchemy import event

    from app.outbox.dispatcher import DispatcherSettings, OutboxDispatcher

    # Unpaced: six posts into one channel would otherwise be spread over six (frozen) seconds.
    settings = make_settings(database_url, emulator, slack_pacing=False)
    app = await RunningApp(settings, clock).start()
    try:
        await app.runtime.dispatcher.stop()  # only the dispatcher below delivers
        dispatcher = OutboxDispatcher(
            session_factory=app.runtime.session_factory,
            senders=app.runtime.dispatcher._senders,
            clock=clock,
            settings=DispatcherSettings(concurrency=4, record_within=timedelta(seconds=0.2)),
        )
        engine = app.runtime.session_factory.kw["bind"].sync_engine
        commits: list[object] = []

        def committed(connection) -> None:
            commits.append(connection)

        event.listen(engine, "commit", committed)
        try:
            await _owe_posts(app, [f"together {n}" for n in range(6)])
            commits.clear()
            assert await dispatcher.dispatch_once() == 6
            together = len(commits)
        finally:
            event.remove(engine, "commit", committed)

        emulator.slow_next("chat.postMessage", seconds=3)
        slow_claim = await _owe_posts(app, [f"behind a slow one {n}" for n in range(6)])
        dispatching = asyncio.create_task(dispatcher.dispatch_once())

        async def five_recorded() -> bool:
            return await _delivered_among(app, slow_claim) == 5

        await wait_until(
            five_recorded,
            within=2.5,
            message="the five fast ones recorded while the slow one is on its way",
        )
        still_sending = not dispatching.done()
        assert await dispatching == 6
        all_recorded = await _delivered_among(app, slow_claim)
    finally:
        await app.stop()

    assert together == 2  # the claim, then every outcome in one transaction
    assert still_sending
    assert all_recorded == 6


async def test_under_a_backlog_the_next_claim_goes_out_while_the_first_is_on_its_way(
    database_url, clock, emulator
):
    """A full claim means more is likely ready: it is claimed and sent at once, in a second
    round, rather than after the first claim's slow answers."""
    settings = make_settings(database_url, emulator, outbox_batch_size=2, slack_pacing=False)
    app = await RunningApp(settings, clock).start()
    try:
        emulator.slow_next("chat.postMessage", seconds=3, times=2)  # the first claim's two
        first, second, *backlog = await _owe_posts(app, [f"backlog {n}" for n in range(4)])

        async def backlog_recorded() -> bool:
            return await _delivered_among(app, backlog) == 2

        await wait_until(backlog_recorded, within=2.5, message="the second claim recorded")
        first_claim_recorded = await _delivered_among(app, [first, second])

        async def all_recorded() -> bool:
            return await _delivered_among(app, [first, second, *backlog]) == 4

        await wait_until(all_recorded, message="the first claim recorded too")
    finally:
        await app.stop()

    assert first_claim_recorded == 0  # still on its way when the backlog was done


async def test_the_cards_of_a_claim_are_rendered_with_their_tickets_loaded_at_once(
    running_app, sender, emulator
):
    """A claim's render specs are rendered together before its rows are sent: one query loads
    every card's ticket, not one query a card (and one more, when their outcomes are recorded,
    loads them for the handler that stores each card's ts)."""
    from sqlalchemy import event

    from app.slack_emulator import message_event
    from tests.tickets.helpers import watch

    await watch(running_app)
    dispatcher = running_app.runtime.dispatcher
    await dispatcher.stop()  # the cards wait for the round below
    for n in range(5):
        await sender.send_event(message_event("CSUPPORT", f"UCUST{n}", f"Request number {n}"))
    engine = running_app.runtime.engine.sync_engine
    ticket_reads: list[str] = []

    def seen(connection, cursor, statement, parameters, context, executemany) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "FROM tickets" in statement:
            ticket_reads.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        while await dispatcher.dispatch_once():
            pass
    finally:
        event.remove(engine, "before_cursor_execute", seen)

    cards = [call for call in emulator.delivered("chat.postMessage") if call.args.get("blocks")]
    assert len(cards) == 5
    assert len(ticket_reads) == 2, ticket_reads
    assert all(re.search(r"IN \((\S+, ){4}\S+\)", read) for read in ticket_reads), ticket_reads


class HoldsTheFirstPost:
    """A far side that records what it is sent and holds the first post until released."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.release = asyncio.Event()

    async def send(self, target, payload, attempt) -> DeliveryOutcome:
        self.sent.append(payload["text"])
        if len(self.sent) == 1:
            await self.release.wait()
        return DeliveryOutcome.delivered({"ts": f"{len(self.sent)}.000100"})


class InConversations(HoldsTheFirstPost):
    """The same, ordering posts by conversation as the Slack sender does."""

    order_key = SlackApiSender.order_key


async def test_without_a_backlog_a_round_lands_before_the_next_is_claimed(running_app):
    """A reply owed while the one before it is still on its way waits for it (one round at a
    time when there is no backlog), so the posts of a conversation reach Slack in order. The
    far side here is a sender that holds the first post until told to answer."""
    from app.outbox.dispatcher import DispatcherSettings, OutboxDispatcher
    from app.outbox.enums import OutboxKind

    far_side = HoldsTheFirstPost()
    sent, release = far_side.sent, far_side.release

    await running_app.runtime.dispatcher.stop()
    dispatcher = OutboxDispatcher(
        session_factory=running_app.runtime.session_factory,
        senders={OutboxKind.SLACK_API: far_side},
        clock=running_app.clock,
        settings=DispatcherSettings(poll_interval=0.05),
    )
    dispatcher.start()
    try:
        first = await post_message(running_app, "first")
        await wait_until(lambda: sent == ["first"], message="the first on its way")
        second = await post_message(running_app, "second")
        dispatcher.wake()
        await asyncio.sleep(0.3)  # several polls: the second must not be claimed meanwhile
        sent_while_held = list(sent)
        release.set()
        await wait_until(lambda: _all_delivered(running_app, [first, second]), message="both")
    finally:
        await dispatcher.stop()

    assert sent_while_held == ["first"]
    assert sent == ["first", "second"]


async def test_the_posts_of_one_conversation_go_one_after_another(running_app):
    """Rows of one claim are sent several at a time, but the posts into one conversation (a
    thread, or a channel's top level) wait for each other, in the order they were written;
    another conversation's posts do not wait. The far side holds the first post."""
    from app.outbox.dispatcher import OutboxDispatcher
    from app.outbox.enums import OutboxKind

    far_side = InConversations()
    sent, release = far_side.sent, far_side.release

    await running_app.runtime.dispatcher.stop()
    dispatcher = OutboxDispatcher(
        session_factory=running_app.runtime.session_factory,
        senders={OutboxKind.SLACK_API: far_side},
        clock=running_app.clock,
    )
    async with running_app.runtime.session_factory() as session, session.begin():
        for text, channel, thread in [
            ("thread 1", "CSUPPORT", "1.000100"),
            ("thread 2", "CSUPPORT", "1.000100"),
            ("elsewhere", "CTRIAGE", None),
            ("thread 3", "CSUPPORT", "1.000100"),
        ]:
            await enqueue_slack_call(
                session=session,
                method="chat.postMessage",
                payload={"channel": channel, "text": text, "thread_ts": thread},
                now=running_app.clock.now(),
            )
    dispatching = asyncio.create_task(dispatcher.dispatch_once())
    await wait_until(lambda: sent == ["thread 1", "elsewhere"], message="the other one meanwhile")
    release.set()
    assert await dispatching == 4

    assert sent == ["thread 1", "elsewhere", "thread 2", "thread 3"]


async def test_a_claim_takes_one_row_of_a_coalesce_key_and_the_next_round_the_other(
    running_app, emulator
):
    """Two rows of one key, both ready: a claim takes the earlier only (the later waits for an
    earlier ready row), so they can never be in flight together or land out of order."""
    dispatcher = running_app.runtime.dispatcher
    await dispatcher.stop()
    await post_message(running_app, "card: at risk", coalesce_key="card:1")
    await post_message(running_app, "card: breached", coalesce_key="card:1", coalesce=False)

    rounds = [await dispatcher.dispatch_once() for _ in range(3)]

    assert rounds == [1, 1, 0]
    texts = [call.args["text"] for call in emulator.delivered("chat.postMessage")]
    assert texts == ["card: at risk", "card: breached"]
