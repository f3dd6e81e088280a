"""Small builders for ticket tests: watched channels and team members, written as the commands
would write them."""

from __future__ import annotations

from sqlalchemy import func, select

from app.team.enums import Role
from app.team.models import TeamMember
from app.tickets.models import Ticket, TicketEvent, TicketMessage
from app.workspaces.models import WatchedChannel, Workspace
from tests.support.server import RunningApp


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
