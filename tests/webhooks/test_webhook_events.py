"""Each event type reaches a subscribed receiver as a signed POST: a ticket's life from a
customer's message to a CSAT rating, driven through Slack and the REST API with a moved clock."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from app.apikeys.scopes import Scope
from app.slack_emulator import message_event, next_ts
from app.webhooks.enums import DeliveryStatus, WebhookEventType
from tests.api.helpers import api_client, api_key
from tests.csat.test_csat_flow import prompt_in, rate
from tests.support.server import RunningApp, wait_until
from tests.tickets.helpers import add_member, watch
from tests.tickets.test_intake import card_in_triage
from tests.webhooks.helpers import delivery_log, manager, open_tickets, subscribe

CUSTOMER, AGENT = "UCUSTOMER", "UAGENT"


async def sweep(app: RunningApp) -> None:
    await app.runtime.timer_sweeper.sweep_until_idle()
    await app.runtime.dispatcher.dispatch_once()


async def settled(app: RunningApp) -> None:
    """Wait until no delivery is in flight, before the clock jumps (a jump past a claim's lease
    would let a second dispatcher send the same row: at least once, not exactly once)."""

    async def idle() -> bool:
        return all(d.status is not DeliveryStatus.PENDING for d in await delivery_log(app))

    await wait_until(idle, message="deliveries settled")


async def received(receiver, count: int) -> list:
    return await wait_until(
        lambda: receiver.delivered() if len(receiver.delivered()) >= count else None,
        message=f"{count} webhook deliveries",
    )


async def test_every_event_type_is_delivered_signed(running_app, sender, emulator, receiver, clock):
    await watch(running_app)
    await add_member(running_app, AGENT)
    webhook_id, secret = await subscribe(running_app, receiver.url)
    writer = api_client(
        running_app, await api_key(running_app, Scope.TICKETS_READ, Scope.TICKETS_WRITE)
    )

    start = clock.now()
    # ticket.created: a customer writes in the watched channel.
    root = next_ts()
    await sender.send_event(message_event("CSUPPORT", CUSTOMER, "Exports fail", ts=root))
    await wait_until(lambda: card_in_triage(emulator), message="triage card")
    # ticket.updated: assigned through the API.
    await writer.patch("/api/tickets/T-1", json={"assignee": AGENT})
    # sla.warning at 75% of the 4 h first-response target, sla.breached at 4 h.
    await settled(running_app)
    clock.advance(hours=3)
    await sweep(running_app)
    await settled(running_app)
    clock.advance(hours=1, minutes=5)
    await sweep(running_app)
    # ticket.resolved, then csat.received once the requester rates.
    assert (await writer.patch("/api/tickets/T-1", json={"status": "resolved"})).status_code == 200
    await settled(running_app)
    clock.advance(minutes=10)
    await sweep(running_app)
    prompt = await wait_until(lambda: prompt_in(emulator, root), message="CSAT prompt")
    assert (await rate(sender, prompt, 4)).status_code == 200
    # ticket.reopened through the API.
    assert (await writer.patch("/api/tickets/T-1", json={"status": "open"})).status_code == 200
    await writer.aclose()

    log = await delivery_log(running_app, webhook_id)
    emitted = {d.event_id: d.id for d in log}
    # Rows due together are sent concurrently: put what arrived in the order it was emitted.
    deliveries = sorted(await received(receiver, 7), key=lambda d: emitted[d.json["id"]])
    assert [d.json["type"] for d in deliveries] == [
        "ticket.created",
        "ticket.updated",
        "sla.warning",
        "sla.breached",
        "ticket.resolved",
        "csat.received",
        "ticket.reopened",
    ]
    for delivery in deliveries:
        body = delivery.json
        assert delivery.signed_with(secret)
        assert not delivery.signed_with(secret + "x")
        assert delivery.path == "/hooks/ticketbot"
        assert delivery.headers["Content-Type"] == "application/json"
        assert delivery.headers["X-Ticketbot-Event"] == body["type"]
        assert delivery.headers["X-Ticketbot-Delivery"] == body["id"]
        assert body["id"].startswith("evt_") and body["workspace"] == "T0001"
        sent_at = int(delivery.headers["X-Ticketbot-Timestamp"])
        assert int(start.timestamp()) <= sent_at <= int(clock.now().timestamp())
        assert body["data"]["ticket"]["number"] == "T-1"
    assert len({d.json["id"] for d in deliveries}) == 7

    created, updated, warning, breached, resolved, rated, reopened = (d.json for d in deliveries)
    assert created["created_at"] == "2026-01-05T09:00:00Z"
    assert created["data"]["ticket"] == {
        "number": "T-1",
        "subject": "Exports fail",
        "status": "new",
        "priority": "normal",
        "assignee": None,
        "requester": CUSTOMER,
        "channel": "CSUPPORT",
        "account": None,
        "source": "message",
        "external_id": None,
        "created_at": "2026-01-05T09:00:00Z",
        "updated_at": "2026-01-05T09:00:00Z",
        "sla_state": "on_track",
    }
    assert updated["data"]["ticket"]["assignee"] == AGENT
    assert updated["data"]["changes"] == {"assignee": {"previous": None, "current": AGENT}}
    assert warning["data"]["sla"] == {
        "target": "first_response",
        "due_at": "2026-01-05T13:00:00Z",
        "late": False,
    }
    assert breached["data"]["sla"]["target"] == "first_response"
    assert warning["data"]["ticket"]["sla_state"] == "at_risk"
    assert breached["data"]["ticket"]["sla_state"] == "breached"
    assert breached["created_at"] == "2026-01-05T13:05:00Z"
    assert resolved["data"]["ticket"]["status"] == "resolved"
    assert resolved["data"]["changes"]["status"]["current"] == "resolved"
    assert rated["data"]["csat"]["rating"] == 4 and rated["data"]["csat"]["previous_rating"] is None
    assert reopened["data"]["ticket"]["status"] == "open"

    log = await wait_until(
        lambda: _all_delivered(running_app, webhook_id), message="outcomes recorded"
    )
    assert all(d.attempts == 1 and d.last_status_code == 200 for d in log)


async def _all_delivered(app: RunningApp, webhook_id: int) -> list | None:
    log = await delivery_log(app, webhook_id)
    return log if all(d.status is DeliveryStatus.DELIVERED for d in log) else None


async def test_only_subscribed_types_and_active_subscriptions_get_events(
    running_app, receiver, clock
):
    resolved_only, _ = await subscribe(running_app, receiver.url, "ticket.resolved")
    disabled, _ = await subscribe(running_app, receiver.url, "ticket.created")
    async with await manager(running_app) as client:
        await client.patch(f"/api/webhooks/{disabled}", json={"active": False})

    await open_tickets(running_app, 2)

    assert await delivery_log(running_app) == []
    assert receiver.requests == []
    assert resolved_only


async def test_each_subscription_gets_its_own_signed_copy(running_app, receiver, clock):
    first, first_secret = await subscribe(running_app, receiver.url, "ticket.created")
    second, second_secret = await subscribe(running_app, receiver.url + "/2", "ticket.created")

    await open_tickets(running_app, 1)

    one, two = sorted(await received(receiver, 2), key=lambda r: r.path)
    assert one.body == two.body  # one event, the same id, signed for each receiver
    assert one.signed_with(first_secret) and two.signed_with(second_secret)
    assert not one.signed_with(second_secret)
    assert [d.subscription_id for d in await delivery_log(running_app)] == [first, second]


async def test_signed_with_the_current_secret_and_the_system_clock_time(receiver):
    """The receiver's side of the scheme, with a real clock: a fresh timestamp, checkable."""
    from app.webhooks.signing import signature

    body = b'{"id":"evt_1"}'
    now = int(time.time())
    header = signature("whsec_abc", now, body)
    assert header.startswith("v1=") and len(header) == 3 + 64
    assert abs(datetime.now(UTC).timestamp() - now) < 5
    assert [e.value for e in WebhookEventType] == [
        "ticket.created",
        "ticket.updated",
        "ticket.resolved",
        "ticket.reopened",
        "sla.warning",
        "sla.breached",
        "csat.received",
        "account.health_changed",
        "nps.received",
        "testimonial.consented",
    ]


async def test_an_auto_closed_ticket_tells_webhook_subscribers(
    running_app, sender, emulator, receiver, clock
):
    """Auto-close goes through the one status transition, like a close by hand: the card, the
    audit trail and `ticket.updated` with the status change."""
    from app.slack_emulator import reaction_added_event
    from tests.tickets.helpers import event_kinds, tickets

    await watch(running_app)
    await add_member(running_app, AGENT)
    root = next_ts()
    await sender.send_event(message_event("CSUPPORT", CUSTOMER, "Exports fail", ts=root))
    await wait_until(lambda: card_in_triage(emulator), message="triage card")
    await sender.send_event(reaction_added_event(AGENT, "white_check_mark", "CSUPPORT", root))
    await settled(running_app)
    webhook_id, _ = await subscribe(running_app, receiver.url, "ticket.updated")

    clock.advance(days=3, minutes=1)
    await sweep(running_app)

    [closed] = await received(receiver, 1)
    assert closed.json["type"] == "ticket.updated"
    assert closed.json["data"]["changes"] == {
        "status": {"previous": "resolved", "current": "closed"}
    }
    [ticket] = await tickets(running_app)
    assert ticket.status == "closed" and ticket.closed_at == clock.now()
    assert (await event_kinds(running_app, ticket.id))[-1] == "closed"
    await wait_until(
        lambda: "Closed" in str((card_in_triage(emulator) or {}).get("blocks")),
        message="the card shows it closed",
    )
    assert [d.event_type for d in await delivery_log(running_app, webhook_id)] == ["ticket.updated"]
