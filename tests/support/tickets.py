"""Tickets stored straight away (a number, the row, its audit entry and its `ticket.created`
webhook event; no card, no clocks), for tests that need tickets to exist rather than to be
opened through app/flows/open_ticket.py."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.tickets.models import Ticket
from app.tickets.service import insert_ticket
from app.webhooks.enums import WebhookEventType
from app.webhooks.events import emit_ticket_event
from app.workspaces.service import take_ticket_number


async def insert_ticket_row(*, session: AsyncSession, workspace_id: int, **fields: Any) -> Ticket:
    number = await take_ticket_number(session=session, workspace_id=workspace_id)
    ticket = await insert_ticket(
        session=session, workspace_id=workspace_id, number=number, **fields
    )
    assert ticket is not None, "a ticket with this root or external id exists already"
    await emit_ticket_event(
        session=session,
        ticket=ticket,
        event_type=WebhookEventType.TICKET_CREATED,
        now=fields["now"],
    )
    return ticket
