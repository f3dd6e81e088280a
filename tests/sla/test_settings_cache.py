"""Each replica keeps a workspace's SLA policies, business hours and webhook subscriptions in
memory, under the workspace row's settings version: read once, not once per ticket, and a
change made through any replica is seen by every replica with its next transaction."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db import create_engine, create_session_factory
from app.sla.policies import calendar_for, set_business_hours, set_targets, targets_for
from app.tickets.enums import Priority
from app.webhooks.events import active_subscriptions
from app.webhooks.subscriptions import create_subscription
from app.workspaces.models import Workspace
from tests.timers.helpers import make_workspace

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
YEARS = range(2026, 2028)


@pytest.fixture
async def other_replica(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """A second app's sessions on the same database: its own pool, its own memory."""
    engine = create_engine(database_url)
    yield create_session_factory(engine)
    await engine.dispose()


@contextmanager
def reads_of(factory: async_sessionmaker[AsyncSession]) -> Iterator[list[str]]:
    """The tables this factory's sessions read from while the block runs."""
    tables: list[str] = []
    engine = factory.kw["bind"].sync_engine

    def seen(connection, cursor, statement, parameters, context, executemany) -> None:
        words = statement.split()
        if words[0].upper() == "SELECT" and "FROM" in words:
            tables.append(words[words.index("FROM") + 1])

    event.listen(engine, "before_cursor_execute", seen)
    try:
        yield tables
    finally:
        event.remove(engine, "before_cursor_execute", seen)


async def first_response(factory: async_sessionmaker[AsyncSession], workspace_id: int) -> timedelta:
    async with factory() as session, session.begin():
        targets = await targets_for(
            session=session, workspace_id=workspace_id, priority=Priority.HIGH
        )
        assert targets.first_response is not None
        return targets.first_response


async def set_high_first_response(
    session: AsyncSession, workspace_id: int, first_response: timedelta
) -> None:
    await set_targets(
        session=session,
        workspace_id=workspace_id,
        priority=Priority.HIGH,
        actor_id="ULEAD",
        now=NOW,
        first_response=first_response,
    )


async def test_settings_are_read_once_per_replica_until_they_change(session_factory, other_replica):
    workspace_id = await make_workspace(session_factory)
    assert await first_response(session_factory, workspace_id) == timedelta(hours=1)

    with reads_of(session_factory) as tables:
        async with session_factory() as session, session.begin():
            workspace = await session.get(Workspace, workspace_id)  # as intake has it
            for _ in range(3):
                await targets_for(
                    session=session, workspace_id=workspace_id, priority=Priority.HIGH
                )
                await calendar_for(session=session, workspace_id=workspace_id, years=YEARS)
                await active_subscriptions(session=session, workspace_id=workspace_id)
            assert workspace is not None
        # The calendar and subscriptions were not asked for before: read once each.
        assert sorted(tables) == ["business_hours", "webhook_subscriptions", "workspaces"]
        tables.clear()
        assert await first_response(session_factory, workspace_id) == timedelta(hours=1)
        assert tables == ["workspaces"]  # the version, and nothing else

    async with other_replica() as session, session.begin():  # a lead, on another replica
        await set_high_first_response(session, workspace_id, timedelta(minutes=20))
        await set_business_hours(
            session=session,
            workspace_id=workspace_id,
            time_zone="Europe/Berlin",
            weekly_hours={"mon": [["08:00", "12:00"]]},
            holiday_country=None,
            actor_id="ULEAD",
            now=NOW,
        )
        await create_subscription(
            session=session,
            workspace_id=workspace_id,
            url="https://example.com/hook",
            event_types=["ticket.created"],
            now=NOW,
        )

    assert await first_response(session_factory, workspace_id) == timedelta(minutes=20)
    async with session_factory() as session, session.begin():
        calendar = await calendar_for(session=session, workspace_id=workspace_id, years=YEARS)
        subscriptions = await active_subscriptions(session=session, workspace_id=workspace_id)
    assert calendar.time_zone == "Europe/Berlin"
    assert [row.url for row in subscriptions] == ["https://example.com/hook"]


async def test_a_change_rolled_back_leaves_nothing_behind(session_factory, other_replica):
    workspace_id = await make_workspace(session_factory)
    assert await first_response(other_replica, workspace_id) == timedelta(hours=1)

    class Abandoned(Exception):
        pass

    with pytest.raises(Abandoned):
        async with other_replica() as session, session.begin():
            await set_high_first_response(session, workspace_id, timedelta(minutes=5))
            # The change is seen in its own transaction...
            targets = await targets_for(
                session=session, workspace_id=workspace_id, priority=Priority.HIGH
            )
            assert targets.first_response == timedelta(minutes=5)
            raise Abandoned

    # ...and by nobody once it is rolled back, the replica that made it included.
    assert await first_response(other_replica, workspace_id) == timedelta(hours=1)
    assert await first_response(session_factory, workspace_id) == timedelta(hours=1)
    async with session_factory() as session:
        workspace = await session.get(Workspace, workspace_id)
        assert workspace is not None and workspace.settings_version == 0
