"""Socket Mode itself: acknowledged only once stored, redelivered otherwise, a refresh loses and
doubles nothing, replicas share the events, and a refused token stops start-up in one line.
(Every flow over Socket Mode: test_over_socket_mode.py.)"""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import OperationalError

from app.slack_emulator import SlackSender, message_event
from app.slack_emulator.socket_mode import SocketModeHub
from app.tickets.models import Ticket
from tests.conftest import SIGNING_SECRET, SOCKET_MODE, TEAM_ID
from tests.support.server import RunningApp, wait_until
from tests.tickets.helpers import watch

pytestmark = pytest.mark.parametrize("transport", [SOCKET_MODE], indirect=True)


def redelivering(app: RunningApp, hub: SocketModeHub, *, ack_within: float) -> SlackSender:
    """Envelopes over Socket Mode, an event sent again when not acknowledged in time (Slack's
    retries; the other tests drive retries themselves)."""
    return SlackSender(
        app.url,
        SIGNING_SECRET,
        team_id=TEAM_ID,
        socket_mode=hub,
        ack_within=ack_within,
        redeliver=True,
    )


async def ticket_count(app: RunningApp) -> int:
    async with app.runtime.session_factory() as session:
        return await session.scalar(select(func.count()).select_from(Ticket)) or 0


async def test_an_event_whose_effects_failed_is_not_acknowledged_and_comes_again(
    running_app, emulator
):
    """Bolt acknowledges only a listener that returned; the database failing under it means
    no acknowledgement, and Slack sends the event again (retry_attempt 1), stored once."""
    await watch(running_app)
    engine = running_app.runtime.engine.sync_engine
    failed: list[str] = []

    def fail_the_first_store(connection, cursor, statement, *args) -> None:
        if statement.startswith("INSERT INTO slack_events") and not failed:
            failed.append(statement)
            raise OperationalError(statement, None, ConnectionError("the database went away"))

    event.listen(engine, "before_cursor_execute", fail_the_first_store)
    try:
        async with redelivering(running_app, emulator.socket_mode, ack_within=1.5) as sender:
            answer = await sender.send_event(message_event("CSUPPORT", "UCUST", "Exports fail"))
    finally:
        event.remove(engine, "before_cursor_execute", fail_the_first_store)

    assert failed and answer.status_code == 200
    attempts = [envelope["retry_attempt"] for envelope in emulator.socket_mode.envelopes]
    assert attempts == [0, 1]
    assert await ticket_count(running_app) == 1
    assert emulator.socket_mode.problems == []


async def test_a_refresh_reconnects_and_loses_or_doubles_nothing(running_app, emulator):
    """Slack asks for a new connection (`disconnect`, `refresh_requested`): slack_sdk drops the
    old one at once and opens a new link; an event caught on the old one is not acknowledged
    and Slack sends it again. Every event arrives, once."""
    await watch(running_app)
    hub = emulator.socket_mode
    answers = []
    async with redelivering(running_app, hub, ack_within=2.0) as sender:
        await hub.refresh(close_after=0.3)
        for n in range(6):
            answers.append(
                await sender.send_event(message_event("CSUPPORT", f"UCUST{n}", f"Request {n}"))
            )
            await asyncio.sleep(0.05)  # spread over the old connection's last moments
        await wait_until(lambda: hub.connections_opened >= 2, message="a new connection")
        await wait_until(lambda: hub.connection_count == 1, message="the old one closed")
        answers.append(await sender.send_event(message_event("CSUPPORT", "ULATE", "After it")))

    assert [a.status_code for a in answers] == [200] * 7
    assert await ticket_count(running_app) == 7
    assert len(emulator.calls("apps.connections.open")) >= 2
    assert hub.problems == []


async def test_replicas_each_hold_a_connection_and_share_the_events(
    running_app, sender, emulator, settings, clock
):
    second = await RunningApp(settings, clock).start()
    try:
        await emulator.socket_mode.wait_for_connections(2)
        await watch(running_app)
        answers = [
            await sender.send_event(message_event("CSUPPORT", f"UCUST{n}", f"Request {n}"))
            for n in range(8)
        ]
        # A retry of each, after Slack missed the acknowledgement: recognised by its event id.
        handled = [
            app.runtime.metrics.registry.get_sample_value(
                "ticketbot_slack_requests_total", {"type": "event:message"}
            )
            for app in (running_app, second)
        ]
    finally:
        await second.stop()

    assert [a.status_code for a in answers] == [200] * 8
    assert await ticket_count(running_app) == 8
    assert all(count and count > 0 for count in handled), handled


async def test_readyz_says_when_socket_mode_is_not_connected(running_app, emulator):
    async with httpx.AsyncClient(base_url=running_app.url) as client:
        connected = await client.get("/readyz")
        await emulator.socket_mode.close_all()  # Slack went away; the app reconnects
        await emulator.go_down()
        try:
            cut_off = await client.get("/readyz")
        finally:
            await emulator.come_up()

    assert connected.status_code == 200
    assert cut_off.status_code == 503
    assert "Socket Mode" in cut_off.json()["reason"]


async def test_a_connection_dropped_mid_load_loses_and_doubles_nothing(running_app, emulator):
    """Slack's side of the connection goes away while events are on their way: slack_sdk
    connects again by itself, the events that were not acknowledged come again, and each
    message makes one ticket."""
    await watch(running_app)
    hub = emulator.socket_mode
    async with redelivering(running_app, hub, ack_within=2.0) as sender:

        async def send(n: int) -> int:
            await asyncio.sleep(n * 0.02)
            answer = await sender.send_event(message_event("CSUPPORT", f"UC{n}", f"Request {n}"))
            return answer.status_code

        sending = [asyncio.create_task(send(n)) for n in range(20)]
        await asyncio.sleep(0.15)
        await hub.close_all()  # dropped, with no disconnect message
        answers = await asyncio.gather(*sending)

    assert answers == [200] * 20
    assert await ticket_count(running_app) == 20
    assert hub.connections_opened >= 2
    assert hub.problems == []
