"""Webhook deliveries are owed until delivered: retried through receiver outages (connection
refused, 5xx, 429 with Retry-After) for up to a day, kept across restarts, failed at once on
other 4xx, logged attempt by attempt, and sent again on request."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from app.outbox.enums import OutboxKind, OutboxStatus
from app.outbox.models import OutboxMessage
from app.webhooks.enums import DeliveryStatus
from tests.support.server import RunningApp, wait_until
from tests.webhooks.helpers import (
    attempted,
    delivery_log,
    manager,
    open_tickets,
    retry_round,
    subscribe,
)


async def webhook_rows(app: RunningApp) -> list[OutboxMessage]:
    async with app.runtime.session_factory() as session:
        query = select(OutboxMessage).where(OutboxMessage.kind == OutboxKind.WEBHOOK)
        return list(await session.scalars(query.order_by(OutboxMessage.id)))


async def settled(app: RunningApp, count: int, status: DeliveryStatus) -> list:
    async def ready():
        log = await delivery_log(app)
        return log if len(log) == count and all(d.status is status for d in log) else None

    return await wait_until(ready, message=f"{count} deliveries {status.value}")


async def _if(rows_awaitable, predicate):
    rows = await rows_awaitable
    return rows if rows and predicate(rows) else None


async def test_an_outage_is_waited_out_and_nothing_is_lost(running_app, receiver, clock):
    _, secret = await subscribe(running_app, receiver.url, "ticket.created")
    await receiver.stop()

    await open_tickets(running_app, 3)

    log = await attempted(running_app, 3)
    for delivery in log:
        assert delivery.status is DeliveryStatus.PENDING
        assert delivery.last_status_code is None
        assert "could not reach the receiver" in (delivery.last_error or "")
        assert clock.now() < delivery.next_attempt_at <= clock.now() + timedelta(seconds=1)

    # An hour of outage: every retry is refused, backing off, and still owed.
    for _ in range(6):
        await retry_round(running_app, minutes=10)
    log = await delivery_log(running_app)
    assert all(d.status is DeliveryStatus.PENDING and d.attempts >= 5 for d in log)
    assert all(d.next_attempt_at - clock.now() <= timedelta(hours=1) for d in log)

    await receiver.start()  # back on the same port
    for _ in range(7):
        await retry_round(running_app, minutes=10)
        if len(receiver.delivered()) == 3:
            break

    assert sorted(r.json["data"]["ticket"]["number"] for r in receiver.delivered()) == [
        "T-1",
        "T-2",
        "T-3",
    ]
    assert all(r.signed_with(secret) for r in receiver.delivered())
    log = await settled(running_app, 3, DeliveryStatus.DELIVERED)
    assert all(d.last_status_code == 200 and d.last_error is None for d in log)
    assert all(d.delivered_at is not None and d.next_attempt_at is None for d in log)
    assert all(row.status is OutboxStatus.DELIVERED for row in await webhook_rows(running_app))


async def test_server_errors_and_timeouts_are_retried_with_backoff(running_app, receiver, clock):
    await subscribe(running_app, receiver.url, "ticket.created")
    receiver.answer_next(500, body="boom")
    receiver.answer_next(503, times=2)
    receiver.answer_next(408)

    await open_tickets(running_app, 1)

    [first] = await attempted(running_app)
    assert first.status is DeliveryStatus.PENDING and first.last_status_code == 500
    assert first.last_error == "receiver answered 500: boom"
    delay = first.next_attempt_at - clock.now()
    assert timedelta(seconds=0.75) <= delay <= timedelta(seconds=1)
    for _ in range(5):
        await retry_round(running_app, minutes=1)

    [delivery] = await delivery_log(running_app)
    assert delivery.status is DeliveryStatus.DELIVERED and delivery.attempts == 5
    assert [r.answered for r in receiver.requests] == [500, 503, 503, 408, 200]
    assert len({r.json["id"] for r in receiver.requests}) == 1  # the same event every time


async def test_429_honours_retry_after(running_app, receiver, clock):
    await subscribe(running_app, receiver.url, "ticket.created")
    receiver.answer_next(429, headers={"Retry-After": "120"})

    await open_tickets(running_app, 1)

    [delivery] = await attempted(running_app)
    assert delivery.last_status_code == 429
    assert delivery.next_attempt_at == clock.now() + timedelta(seconds=120)
    await retry_round(running_app, seconds=119)
    assert len(receiver.requests) == 1
    await retry_round(running_app, seconds=1)
    assert [r.answered for r in receiver.requests] == [429, 200]


async def test_other_4xx_fail_at_once_and_show_in_the_log(running_app, receiver, clock):
    webhook_id, _ = await subscribe(running_app, receiver.url, "ticket.created")
    receiver.answer_next(410, body="this endpoint is gone")

    await open_tickets(running_app, 1)

    await settled(running_app, 1, DeliveryStatus.FAILED)
    await retry_round(running_app, hours=1)
    assert len(receiver.requests) == 1
    async with await manager(running_app) as client:
        page = (await client.get(f"/api/webhooks/{webhook_id}/deliveries")).json()
    [entry] = page["items"]
    assert entry["status"] == "failed" and entry["attempts"] == 1
    assert entry["last_status_code"] == 410
    assert entry["last_error"] == "receiver answered 410: this endpoint is gone"
    assert entry["event_type"] == "ticket.created"
    assert entry["event_id"] == receiver.requests[0].json["id"]
    assert entry["created_at"] == entry["last_attempt_at"] == "2026-01-05T09:00:00Z"
    assert entry["next_attempt_at"] is None and entry["delivered_at"] is None


async def test_retries_stop_after_a_day(running_app, receiver, clock):
    await subscribe(running_app, receiver.url, "ticket.created")
    receiver.answer_next(503, times=1000)
    start = clock.now()

    await open_tickets(running_app, 1)

    await attempted(running_app)
    while clock.now() - start < timedelta(hours=23):
        await retry_round(running_app, hours=1)
    [delivery] = await delivery_log(running_app)
    assert delivery.status is DeliveryStatus.PENDING  # 23 h in, still trying
    assert delivery.next_attempt_at <= start + timedelta(hours=24)

    for _ in range(3):
        await retry_round(running_app, hours=1)
    [delivery] = await delivery_log(running_app)
    assert delivery.status is DeliveryStatus.FAILED
    assert delivery.last_attempt_at >= start + timedelta(hours=24)
    assert 20 < delivery.attempts < 60
    attempts_at_failure = len(receiver.requests)
    await retry_round(running_app, hours=1)
    assert len(receiver.requests) == attempts_at_failure


async def test_redeliver_sends_the_same_event_again(running_app, receiver, clock):
    webhook_id, secret = await subscribe(running_app, receiver.url, "ticket.created")
    receiver.answer_next(400, body="not now")
    await open_tickets(running_app, 1)
    [failed] = await settled(running_app, 1, DeliveryStatus.FAILED)
    clock.advance(minutes=30)

    async with await manager(running_app) as client:
        answer = await client.post(f"/api/webhooks/{webhook_id}/deliveries/{failed.id}/redeliver")
        assert answer.status_code == 202, answer.text
        await wait_until(lambda: len(receiver.delivered()) == 1, message="redelivery")
        await wait_until(
            lambda: _if(delivery_log(running_app), lambda log: log[-1].delivered_at),
            message="redelivery recorded",
        )
        page = (await client.get(f"/api/webhooks/{webhook_id}/deliveries?limit=1")).json()
        older = (
            await client.get(
                f"/api/webhooks/{webhook_id}/deliveries?limit=1&cursor={page['next_cursor']}"
            )
        ).json()

    redelivery = answer.json()
    assert redelivery["event_id"] == failed.event_id and redelivery["redelivery_of"] == failed.id
    first, second = receiver.requests
    assert second.body == first.body
    assert second.headers["X-Ticketbot-Delivery"] == first.headers["X-Ticketbot-Delivery"]
    assert second.signed_with(secret)
    assert int(second.headers["X-Ticketbot-Timestamp"]) == int(clock.now().timestamp())
    [newest] = page["items"]
    assert newest["id"] == redelivery["id"] and newest["status"] == "delivered"
    assert [d["id"] for d in older["items"]] == [failed.id] and older["next_cursor"] is None


async def test_disabling_or_deleting_cancels_what_is_owed(running_app, receiver, clock):
    disabled_id, _ = await subscribe(running_app, receiver.url, "ticket.created")
    deleted_id, _ = await subscribe(running_app, receiver.url, "ticket.created")
    await receiver.stop()
    await open_tickets(running_app, 1)
    await attempted(running_app, 2)

    async with await manager(running_app) as client:
        await client.patch(f"/api/webhooks/{disabled_id}", json={"active": False})
        await client.delete(f"/api/webhooks/{deleted_id}")
        redeliver = await client.post(
            f"/api/webhooks/{disabled_id}/deliveries/"
            f"{(await delivery_log(running_app))[0].id}/redeliver"
        )
    await receiver.start()
    await retry_round(running_app, hours=1)

    assert receiver.requests == []
    [cancelled] = await delivery_log(running_app)  # the deleted webhook's log went with it
    assert cancelled.status is DeliveryStatus.CANCELLED
    assert cancelled.last_error == "the webhook was disabled"
    assert {row.status for row in await webhook_rows(running_app)} == {OutboxStatus.CANCELLED}
    assert redeliver.status_code == 409


async def test_a_disabled_subscription_cancels_a_row_already_claimed(running_app, receiver, clock):
    """The sender itself checks: a row claimed before the webhook was disabled is not sent."""
    webhook_id, _ = await subscribe(running_app, receiver.url, "ticket.created")
    await receiver.stop()
    await open_tickets(running_app, 1)
    await attempted(running_app)
    async with running_app.runtime.session_factory() as session, session.begin():
        from app.webhooks.models import WebhookSubscription

        subscription = await session.get(WebhookSubscription, webhook_id)
        subscription.active = False  # as if disabled between claim and send
    await receiver.start()

    await retry_round(running_app, minutes=10)

    assert receiver.requests == []
    [row] = await webhook_rows(running_app)
    assert row.status is OutboxStatus.CANCELLED
    [delivery] = await delivery_log(running_app)
    assert delivery.status is DeliveryStatus.CANCELLED


async def test_owed_deliveries_survive_a_restart(settings, clock, receiver):
    app = await RunningApp(settings, clock).start()
    try:
        _, secret = await subscribe(app, receiver.url, "ticket.created")
        await receiver.stop()
        await open_tickets(app, 2)
        await attempted(app, 2)
    finally:
        await app.crash()

    await receiver.start()
    clock.advance(minutes=10)
    restarted = await RunningApp(settings, clock).start()
    try:
        await restarted.runtime.dispatcher.dispatch_once()
        await wait_until(lambda: len(receiver.delivered()) == 2, message="both delivered")
        log = await settled(restarted, 2, DeliveryStatus.DELIVERED)
    finally:
        await restarted.stop()

    assert all(r.signed_with(secret) for r in receiver.delivered())
    assert [d.attempts for d in log] == [2, 2]
    assert len({r.json["id"] for r in receiver.delivered()}) == 2
