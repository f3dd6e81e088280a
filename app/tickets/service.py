"""Ticket rules. Functions are keyword-only, take a session, and never talk to Slack directly."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.tickets.models import Ticket

TRIAGE_CARD_POSTED = "ticket.triage_card_posted"
"""Outbox delivery handler: the triage card was posted; remember its ts to edit it later."""


async def record_triage_card(
    session: AsyncSession, args: dict[str, Any], result: dict[str, Any]
) -> None:
    ticket = await session.get(Ticket, args["ticket_id"])
    if ticket is None:
        return  # deleted since; nothing to remember it on
    ticket.triage_card_ts = result.get("ts")
    ticket.triage_channel_id = result.get("channel") or ticket.triage_channel_id
