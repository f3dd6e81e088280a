"""What people see of a ticket outside its conversation: its triage card and the Home tabs of
the people on it. Every flow that changes a ticket refreshes them through here."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.home.notifications import refresh_home_tabs
from app.tickets.models import Ticket
from app.tickets.notifications import post_triage_card, refresh_triage_card


async def show_new_ticket(*, session: AsyncSession, ticket: Ticket, now: datetime) -> None:
    """Post its triage card, and republish its people's Home tabs."""
    await _refresh_home_tabs(session, ticket, now)
    await post_triage_card(session=session, ticket=ticket, now=now)


async def refresh_ticket_views(
    *, session: AsyncSession, ticket: Ticket, now: datetime, also: Iterable[str | None] = ()
) -> None:
    """Redraw its card, and republish the Home tabs of its assignee, its requester and `also`
    (e.g. a previous assignee)."""
    await _refresh_home_tabs(session, ticket, now, also)
    await refresh_triage_card(session=session, ticket=ticket, now=now)


async def _refresh_home_tabs(
    session: AsyncSession, ticket: Ticket, now: datetime, also: Iterable[str | None] = ()
) -> None:
    await refresh_home_tabs(
        session=session,
        workspace_id=ticket.workspace_id,
        user_ids=[ticket.assignee_user_id, ticket.requester_user_id, *also],
        now=now,
    )
