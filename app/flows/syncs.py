"""What changes here is owed to the connected CRMs and helpdesks (app/connectors): called by
the flows that change tickets, messages and scores, in their transaction."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.connectors import service as connectors
from app.connectors.vendors.base import Action
from app.tickets.models import Ticket, TicketMessage


async def ticket_changed(*, session: AsyncSession, ticket: Ticket, now: datetime) -> None:
    """A ticket was opened or changed: every CRM or helpdesk connected gets it as it stands."""
    await connectors.owe(
        session=session,
        workspace_id=ticket.workspace_id,
        action=Action.SYNC_TICKET,
        record_id=ticket.id,
        ticket_id=ticket.id,
        now=now,
    )


async def message_added(
    *, session: AsyncSession, ticket: Ticket, message: TicketMessage, now: datetime
) -> None:
    """A thread reply or an internal note: a helpdesk connected gets it as a comment (public,
    or private for a note)."""
    owed = await connectors.owed_connectors(session=session, workspace_id=ticket.workspace_id)
    if not any(Action.ADD_COMMENT in connector.actions for connector in owed):
        return
    if message.id is None:
        await session.flush()  # its id names it on the far side
    await connectors.owe(
        session=session,
        workspace_id=ticket.workspace_id,
        action=Action.ADD_COMMENT,
        record_id=message.id,
        ticket_id=ticket.id,
        now=now,
    )


async def accounts_scored(
    session: AsyncSession, workspace_id: int, account_ids: list[int], now: datetime
) -> None:
    """Accounts whose health score moved: every CRM connected gets their numbers."""
    if not any(
        Action.SYNC_ACCOUNT in owed.actions
        for owed in await connectors.owed_connectors(session=session, workspace_id=workspace_id)
    ):
        return
    for account_id in account_ids:
        await connectors.owe(
            session=session,
            workspace_id=workspace_id,
            action=Action.SYNC_ACCOUNT,
            record_id=account_id,
            now=now,
        )
