"""Small builders for ticket tests: watched channels and team members, written as the commands
would write them."""

from __future__ import annotations

from sqlalchemy import func, select

from app.slack_emulator import SlackSender, message_event, next_ts
from app.team.enums import Role
from app.team.models import TeamMember
from app.tickets.models import Ticket, TicketEvent, TicketMessage
from app.workspaces.models import WatchedChannel, Workspace
from tests.conftest import SIGNING_SECRET, TEAM_ID
from tests.support.server import RunningApp, wait_until


async def watch(app: RunningApp, channel_id: str = "CSUPPORT", **options) -> None:
    async with app.runtime.session_factory() as session, session.begin():
        workspace = await session.scalar(select(Workspace))
        session.add(
            WatchedChannel(workspace_id=workspace.id, slack_channel_id=channel_id, **options)
        )


async def add_member(app: RunningApp, user_id: str, role: Role = Role.AGENT) -> None:
    async with app.runtime.session_factory() as session, session.begin():
        workspace = await session.scalar(select(Workspace))
        session.add(TeamMember(workspace_id=workspace.id, slack_user_id=user_id, role=role))


async def tickets(app: RunningApp) -> list[Ticket]:
    async with app.runtime.session_factory() as session:
        return list((await session.scalars(select(Ticket).order_by(Ticket.number))).all())


async def ticket_messages(app: RunningApp, ticket_id: int) -> list[TicketMessage]:
    async with app.runtime.session_factory() as session:
        return list(
            (
                await session.scalars(
                    select(TicketMessage)
                    .where(TicketMessage.ticket_id == ticket_id)
                    .order_by(TicketMessage.id)
                )
            ).all()
        )


async def event_kinds(app: RunningApp, ticket_id: int) -> list[str]:
    async with app.runtime.session_factory() as session:
        return list(
            (
                await session.scalars(
                    select(TicketEvent.kind)
                    .where(TicketEvent.ticket_id == ticket_id)
                    .order_by(TicketEvent.id)
                )
            ).all()
        )


async def count_tickets(app: RunningApp) -> int:
    async with app.runtime.session_factory() as session:
        return await session.scalar(select(func.count()).select_from(Ticket)) or 0


CUSTOMER = "UCUSTOMER"


async def open_tickets(app: RunningApp, *subjects: str) -> None:
    """Customers write in the watched channel, as Slack delivers it: each opens a ticket (each
    a customer of their own: a customer's second question while the first is open joins it)."""
    async with SlackSender(app.url, SIGNING_SECRET, team_id=TEAM_ID) as sender:
        for index, subject in enumerate(subjects):
            who = CUSTOMER if index == 0 else f"{CUSTOMER}{index}"
            answer = await sender.send_event(message_event("CSUPPORT", who, subject, ts=next_ts()))
            assert answer.status_code == 200
    await wait_until(lambda: _count_at_least(app, len(subjects)), message="the tickets")


async def _count_at_least(app: RunningApp, count: int) -> bool:
    return len(await tickets(app)) >= count
