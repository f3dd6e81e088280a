"""Builders for timer tests: a workspace, tickets, timers, and a handler that owes Slack a post."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.outbox.models import OutboxMessage
from app.outbox.service import enqueue_slack_call
from app.tickets.enums import TicketSource
from app.tickets.models import Ticket
from app.timers.models import Timer
from app.timers.service import schedule_timer
from app.workspaces.models import Workspace

Factory = async_sessionmaker[AsyncSession]
ALERT = "test.alert"


async def make_workspace(session_factory: Factory) -> int:
    async with session_factory() as session, session.begin():
        workspace = Workspace(slack_team_id="T0001", name="Acme", next_ticket_number=1)
        session.add(workspace)
        await session.flush()
        return workspace.id


async def make_ticket(
    session_factory: Factory, workspace_id: int, number: int, now: datetime
) -> int:
    async with session_factory() as session, session.begin():
        ticket = Ticket(
            workspace_id=workspace_id,
            number=number,
            subject=f"Ticket {number}",
            source=TicketSource.MESSAGE,
            created_at=now,
        )
        session.add(ticket)
        await session.flush()
        return ticket.id


async def schedule(
    session_factory: Factory,
    *,
    key: str,
    workspace_id: int,
    due_at: datetime,
    now: datetime,
    kind: str = ALERT,
    **options: Any,
) -> Timer:
    async with session_factory() as session, session.begin():
        return await schedule_timer(
            session=session,
            kind=kind,
            key=key,
            workspace_id=workspace_id,
            due_at=due_at,
            now=now,
            **options,
        )


async def load_timer(session_factory: Factory, timer_id: int) -> Timer:
    async with session_factory() as session:
        timer = await session.get(Timer, timer_id)
        assert timer is not None
        return timer


async def all_timers(session_factory: Factory) -> list[Timer]:
    async with session_factory() as session:
        return list((await session.scalars(select(Timer).order_by(Timer.id))).all())


async def post_alert(session: AsyncSession, timer: Timer, now: datetime, late: bool) -> None:
    """What a real handler does: owe Slack a message, in the sweep's transaction."""
    text = f"alert {timer.key}" + (" (late)" if late else "")
    await enqueue_slack_call(
        session=session,
        method="chat.postMessage",
        payload={"channel": "CTRIAGE", "text": text, "timer_id": timer.id},
        now=now,
        workspace_id=timer.workspace_id,
    )


async def alert_texts(session_factory: Factory) -> list[str]:
    async with session_factory() as session:
        rows = await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
        return [row.payload["text"] for row in rows]


async def alerts_per_timer(session_factory: Factory) -> Counter[int]:
    async with session_factory() as session:
        payloads = await session.scalars(select(OutboxMessage.payload))
        return Counter(payload["timer_id"] for payload in payloads)
