"""Scheduling is idempotent on the key; cancelling touches only active timers."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import update

from app.timers.models import Timer
from app.timers.service import cancel_timers, schedule_timer
from tests.timers.helpers import (
    ALERT,
    all_timers,
    load_timer,
    make_ticket,
    make_workspace,
    schedule,
)

HOUR = timedelta(hours=1)


async def test_schedule_creates_an_active_timer(session_factory, clock):
    workspace_id = await make_workspace(session_factory)
    ticket_id = await make_ticket(session_factory, workspace_id, 1, clock.now())
    timer = await schedule(
        session_factory,
        key="sla:1:breach",
        workspace_id=workspace_id,
        ticket_id=ticket_id,
        due_at=clock.now() + HOUR,
        now=clock.now(),
        payload={"target": "first_response"},
    )

    stored = await load_timer(session_factory, timer.id)
    assert (stored.kind, stored.key, stored.ticket_id) == (ALERT, "sla:1:breach", ticket_id)
    assert stored.due_at == clock.now() + HOUR
    assert stored.payload == {"target": "first_response"}
    assert stored.attempts == 0 and stored.created_at == clock.now()
    assert stored.done_at is None and stored.cancelled_at is None


async def test_scheduling_an_active_key_again_moves_it(session_factory, clock):
    workspace_id = await make_workspace(session_factory)
    first = await schedule(
        session_factory,
        key="k",
        workspace_id=workspace_id,
        due_at=clock.now() + HOUR,
        now=clock.now(),
        payload={"v": 1},
    )
    async with session_factory() as session, session.begin():  # as if it had failed twice
        await session.execute(update(Timer).where(Timer.id == first.id).values(attempts=2))

    again = await schedule(
        session_factory,
        key="k",
        workspace_id=workspace_id,
        due_at=clock.now() + 3 * HOUR,
        now=clock.now(),
        payload={"v": 2},
    )

    assert again.id == first.id
    [stored] = await all_timers(session_factory)
    assert stored.due_at == clock.now() + 3 * HOUR
    assert stored.payload == {"v": 2}
    assert stored.attempts == 0


async def test_rescheduling_in_the_same_transaction_updates_the_loaded_timer(
    session_factory, clock
):
    workspace_id = await make_workspace(session_factory)
    async with session_factory() as session, session.begin():
        options = {"session": session, "kind": ALERT, "key": "k", "workspace_id": workspace_id}
        first = await schedule_timer(**options, due_at=clock.now() + HOUR, now=clock.now())
        second = await schedule_timer(**options, due_at=clock.now() + 2 * HOUR, now=clock.now())
        assert second is first
        assert first.due_at == clock.now() + 2 * HOUR


async def test_a_done_timer_is_left_alone(session_factory, clock):
    workspace_id = await make_workspace(session_factory)
    timer = await schedule(
        session_factory, key="k", workspace_id=workspace_id, due_at=clock.now(), now=clock.now()
    )
    async with session_factory() as session, session.begin():
        await session.execute(update(Timer).where(Timer.id == timer.id).values(done_at=clock.now()))

    again = await schedule(
        session_factory,
        key="k",
        workspace_id=workspace_id,
        due_at=clock.now() + HOUR,
        now=clock.now(),
        payload={"v": 2},
    )

    assert again.id == timer.id and again.done_at == clock.now()
    [stored] = await all_timers(session_factory)
    assert stored.due_at == clock.now() and stored.payload == {}


async def test_a_cancelled_timer_is_revived(session_factory, clock):
    workspace_id = await make_workspace(session_factory)
    timer = await schedule(
        session_factory, key="k", workspace_id=workspace_id, due_at=clock.now(), now=clock.now()
    )
    async with session_factory() as session, session.begin():
        assert await cancel_timers(session=session, now=clock.now(), key="k") == 1

    again = await schedule(
        session_factory,
        key="k",
        workspace_id=workspace_id,
        due_at=clock.now() + HOUR,
        now=clock.now(),
    )

    assert again.id == timer.id
    assert again.cancelled_at is None and again.due_at == clock.now() + HOUR


async def test_a_key_belongs_to_one_kind_and_ticket(session_factory, clock):
    workspace_id = await make_workspace(session_factory)
    ticket_id = await make_ticket(session_factory, workspace_id, 1, clock.now())
    options = {"key": "k", "workspace_id": workspace_id, "due_at": clock.now(), "now": clock.now()}
    await schedule(session_factory, **options, ticket_id=ticket_id)

    with pytest.raises(ValueError, match="taken by"):
        await schedule(session_factory, **options, ticket_id=ticket_id, kind="other.kind")
    with pytest.raises(ValueError, match="taken by"):
        await schedule(session_factory, **options)  # no ticket


async def test_concurrent_schedules_of_one_key_make_one_timer(session_factory, clock):
    workspace_id = await make_workspace(session_factory)

    async def schedule_at(hours: int) -> int:
        timer = await schedule(
            session_factory,
            key="race",
            workspace_id=workspace_id,
            due_at=clock.now() + hours * HOUR,
            now=clock.now(),
        )
        return timer.id

    ids = await asyncio.gather(*(schedule_at(hours) for hours in range(1, 9)))

    assert len(set(ids)) == 1
    assert len(await all_timers(session_factory)) == 1


async def test_cancel_by_key_ticket_and_kinds(session_factory, clock):
    workspace_id = await make_workspace(session_factory)
    ticket_id = await make_ticket(session_factory, workspace_id, 1, clock.now())
    other_ticket_id = await make_ticket(session_factory, workspace_id, 2, clock.now())
    due = clock.now() + HOUR
    for key, kind, ticket in [
        ("sla:1:warn", "sla.warning", ticket_id),
        ("sla:1:breach", "sla.breach", ticket_id),
        ("csat:1", "csat.prompt", ticket_id),
        ("sla:2:breach", "sla.breach", other_ticket_id),
    ]:
        await schedule(
            session_factory,
            key=key,
            kind=kind,
            workspace_id=workspace_id,
            ticket_id=ticket,
            due_at=due,
            now=clock.now(),
        )

    async with session_factory() as session, session.begin():
        sla = await cancel_timers(
            session=session,
            now=clock.now(),
            ticket_id=ticket_id,
            kinds=("sla.warning", "sla.breach"),
        )
        again = await cancel_timers(session=session, now=clock.now(), key="sla:1:breach")
        csat = await cancel_timers(session=session, now=clock.now(), key="csat:1")
        none = await cancel_timers(session=session, now=clock.now(), ticket_id=ticket_id, kinds=())

    assert (sla, again, csat, none) == (2, 0, 1, 0)
    cancelled = {t.key for t in await all_timers(session_factory) if t.cancelled_at is not None}
    assert cancelled == {"sla:1:warn", "sla:1:breach", "csat:1"}


async def test_cancel_leaves_done_timers_alone_and_needs_a_target(session_factory, clock):
    workspace_id = await make_workspace(session_factory)
    ticket_id = await make_ticket(session_factory, workspace_id, 1, clock.now())
    timer = await schedule(
        session_factory,
        key="k",
        workspace_id=workspace_id,
        ticket_id=ticket_id,
        due_at=clock.now(),
        now=clock.now(),
    )
    async with session_factory() as session, session.begin():
        await session.execute(update(Timer).where(Timer.id == timer.id).values(done_at=clock.now()))
        assert await cancel_timers(session=session, now=clock.now(), ticket_id=ticket_id) == 0
        with pytest.raises(ValueError, match="key or a ticket_id"):
            await cancel_timers(session=session, now=clock.now(), kinds=(ALERT,))
        with pytest.raises(TypeError):
            await cancel_timers(session=session, now=clock.now(), ticket_id=ticket_id, kinds=ALERT)

    stored = await load_timer(session_factory, timer.id)
    assert stored.done_at is not None and stored.cancelled_at is None
