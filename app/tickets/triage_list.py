"""The triage lists behind `/ticket list`: active tickets, most urgent first, a page at a time.

Urgent before high before normal before low, and within a priority the longest-waiting first.
Served by the open-tickets partial index, so a page costs the same with 100,000 closed tickets.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from app.tickets.enums import OPEN_STATUSES, WAITING_STATUSES, ListFilter, Priority
from app.tickets.models import Ticket

PAGE_SIZE = 20
_PRIORITY_RANK = case(
    (Ticket.priority == Priority.URGENT, 0),
    (Ticket.priority == Priority.HIGH, 1),
    (Ticket.priority == Priority.NORMAL, 2),
    else_=3,
)


@dataclass(frozen=True)
class TriageQuery:
    filter: ListFilter = ListFilter.OPEN
    channel_id: str | None = None
    user_id: str | None = None  # the assignee or the requester
    page: int = 1


@dataclass(frozen=True)
class TicketPage:
    query: TriageQuery
    tickets: list[Ticket]
    total: int
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))

    @property
    def has_next(self) -> bool:
        return self.query.page < self.pages


def _conditions(workspace_id: int, query: TriageQuery, viewer_id: str) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [
        Ticket.workspace_id == workspace_id,
        Ticket.status.in_([status.value for status in OPEN_STATUSES]),
    ]
    if query.filter is ListFilter.MINE:
        conditions.append(Ticket.assignee_user_id == viewer_id)
    elif query.filter is ListFilter.UNASSIGNED:
        conditions.append(Ticket.assignee_user_id.is_(None))
    elif query.filter is ListFilter.BREACHING:
        conditions.append(Ticket.sla_state.in_(["at_risk", "breached"]))
    elif query.filter is ListFilter.WAITING:
        conditions.append(Ticket.status.in_(list(WAITING_STATUSES)))
    if query.channel_id:
        conditions.append(Ticket.channel_id == query.channel_id)
    if query.user_id:
        conditions.append(
            or_(
                Ticket.assignee_user_id == query.user_id,
                Ticket.requester_user_id == query.user_id,
            )
        )
    return conditions


async def triage_page(
    *,
    session: AsyncSession,
    workspace_id: int,
    query: TriageQuery,
    viewer_id: str,
    page_size: int = PAGE_SIZE,
) -> TicketPage:
    conditions = _conditions(workspace_id, query, viewer_id)
    total = await session.scalar(select(func.count()).select_from(Ticket).where(*conditions))
    tickets = await session.scalars(
        select(Ticket)
        .where(*conditions)
        .order_by(_PRIORITY_RANK, Ticket.created_at, Ticket.id)
        .offset((query.page - 1) * page_size)
        .limit(page_size)
    )
    return TicketPage(query=query, tickets=list(tickets), total=total or 0, page_size=page_size)
