"""Health, readiness and metrics endpoints of the running app."""

from __future__ import annotations

import httpx

from app.schema import downgrade_to_base
from tests.support.server import RunningApp, wait_until


async def test_healthz_and_readyz(running_app):
    async with httpx.AsyncClient(base_url=running_app.url) as client:
        health = await client.get("/healthz")
        ready = await client.get("/readyz")

    assert health.status_code == 200 and health.json() == {"status": "ok"}
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"


async def test_not_ready_when_schema_is_behind(database_url, settings, clock):
    await downgrade_to_base(database_url)
    app = await RunningApp(settings, clock).start()
    try:
        async with httpx.AsyncClient(base_url=app.url) as client:
            ready = await client.get("/readyz")
            health = await client.get("/healthz")
    finally:
        await app.stop()

    assert health.status_code == 200
    assert ready.status_code == 503
    assert "not at head" in ready.json()["reason"]


async def test_not_ready_when_database_is_unreachable(emulator, clock):
    from tests.conftest import make_settings

    settings = make_settings(
        "postgresql+asyncpg://postgres@127.0.0.1:1/nowhere", emulator, database_pool_size=1
    )
    app = await RunningApp(settings, clock).start()
    try:
        async with httpx.AsyncClient(base_url=app.url) as client:
            ready = await client.get("/readyz")
    finally:
        await app.stop()

    assert ready.status_code == 503
    assert ready.json()["reason"].startswith("database unreachable")


async def test_metrics_count_requests_by_route_and_slack_requests_by_type(running_app, sender):
    from app.slack_emulator import message_event

    await sender.send_event(message_event("C1", "U1", "hi"))
    await sender.send_command("help", user_id="U1", channel_id="C1")
    await sender.send_event(message_event("C1", "U1", "hi"), unsigned=True)
    async with httpx.AsyncClient(base_url=running_app.url) as client:
        await client.get("/healthz")
        await client.get("/no-such-page")
        text = (await client.get("/metrics")).text

    assert (
        'ticketbot_http_requests_total{method="POST",route="/slack/events",status="200"} 2.0'
        in text
    )
    assert (
        'ticketbot_http_requests_total{method="POST",route="/slack/events",status="401"} 1.0'
        in text
    )
    assert 'ticketbot_http_requests_total{method="GET",route="/healthz",status="200"} 1.0' in text
    assert 'route="unmatched",status="404"' in text
    assert 'ticketbot_slack_requests_total{type="event:message"} 1.0' in text
    assert 'ticketbot_slack_requests_total{type="command:/ticket"} 1.0' in text
    assert "ticketbot_outbox_messages" in text


async def test_an_unreachable_database_is_a_503_that_slack_and_clients_retry(
    emulator, clock, caplog
):
    """Nothing can be stored, so nothing is acknowledged: Slack retries an event it got no 200
    for (https://docs.slack.dev/apis/events-api/#retries). One warning line, no traceback."""
    from app.slack_emulator import SlackSender, message_event
    from tests.conftest import SIGNING_SECRET, TEAM_ID, make_settings

    settings = make_settings(
        "postgresql+asyncpg://postgres@127.0.0.1:1/nowhere", emulator, database_pool_size=1
    )
    app = await RunningApp(settings, clock).start()
    try:
        async with SlackSender(app.url, SIGNING_SECRET, team_id=TEAM_ID) as sender:
            event = await sender.send_event(message_event("C1", "U1", "Is anyone there?"))
        async with httpx.AsyncClient(base_url=app.url) as client:
            api = await client.get(
                "/api/tickets", headers={"Authorization": "Bearer tb_abcdefgh_" + "s" * 43}
            )
    finally:
        await app.stop()

    assert event.status_code == 503
    assert api.status_code == 503, api.text
    assert api.json()["error"] == "The database is unavailable; try again shortly."
    assert api.headers["retry-after"] == "5"
    refusals = [r.getMessage() for r in caplog.records if "answered 503" in r.getMessage()]
    assert any(m.startswith("Slack event:message answered 503") for m in refusals), refusals
    assert any(m.startswith("GET /api/tickets answered 503") for m in refusals), refusals
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"


async def test_a_slack_unreachable_at_start_is_tried_again_in_the_background(
    settings, emulator, clock, caplog
):
    """Slack answering 5xx to start-up's auth.test must not leave the workspace unset until the
    first event: the app serves at once and sets it up as soon as auth.test goes through."""
    from sqlalchemy import select

    from app.workspaces.models import Workspace

    emulator.fail_next("auth.test", status=503, times=4)  # start-up and one retry, each retried
    app = await RunningApp(settings, clock).start()
    try:
        async with httpx.AsyncClient(base_url=app.url) as client:
            ready = await client.get("/readyz")

        async def workspace_set_up() -> bool:
            async with app.runtime.session_factory() as session:
                return await session.scalar(select(Workspace.id)) is not None

        await wait_until(workspace_set_up, within=15, message="the workspace's row")
    finally:
        await app.stop()

    assert ready.status_code == 200
    tries = [c for c in emulator.calls() if c.method == "auth.test"]
    assert len(tries) == 5
    assert "trying again in the background" in caplog.text


async def test_a_database_restart_costs_slack_no_retry(running_app, sender, is_postgres, caplog):
    """The pool lends connections without pinging them first (a round trip per checkout); a
    connection a restart cut shows at its first statement, and the event is taken in again on
    a fresh one: Slack gets its 200, not a 503 and a retry minutes later."""
    import pytest
    from sqlalchemy import event, select

    from app.slack_emulator import message_event
    from app.tickets.models import Ticket
    from tests.tickets.helpers import watch

    if not is_postgres:
        pytest.skip("SQLite has no server whose restart cuts connections")
    await watch(running_app)
    engine = running_app.runtime.engine.sync_engine
    cut: list[int] = []

    def cut_before_the_event_is_stored(connection, cursor, statement, *args):
        if statement.startswith("INSERT INTO slack_events") and not cut:
            # The server went away under this pooled connection, as a restart leaves it.
            connection.connection.driver_connection.terminate()
            cut.append(id(connection))

    event.listen(engine, "before_cursor_execute", cut_before_the_event_is_stored)
    try:
        answer = await sender.send_event(message_event("CSUPPORT", "U2", "After the restart"))
    finally:
        event.remove(engine, "before_cursor_execute", cut_before_the_event_is_stored)

    assert cut and answer.status_code == 200
    async with running_app.runtime.session_factory() as session:
        assert list(await session.scalars(select(Ticket.subject))) == ["After the restart"]
    assert "database connection lost (InterfaceError); trying once more" in caplog.text
