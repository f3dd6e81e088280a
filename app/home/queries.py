"""What the Home tab shows, read from the database (app/slack/blocks/home.py draws it).

The support team sees its own open tickets (the one falling due soonest first), the unassigned
queue and the week's numbers; anyone else sees the tickets they asked for. Each list is capped
(a Home view holds at most 100 blocks) and says how many more there are.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import SQLColumnExpression, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from app.csat.stats import CsatNumbers, csat_numbers
from app.sla.models import SlaLedgerEntry
from app.sla.tracking import FIRST_RESPONSE
from app.team.enums import Role
from app.team.service import get_role
from app.tickets.enums import OPEN_STATUSES, TicketStatus
from app.tickets.models import Ticket
from app.tickets.stats import ticket_volume

LIST_LIMIT = 15
WEEK = timedelta(days=7)
_OPEN = [status.value for status in OPEN_STATUSES]
_MISSED = ("breached", "met_late")
_DECIDED = ("met", *_MISSED)


@dataclass(frozen=True)
class TicketList:
    tickets: list[Ticket]
    total: int

    @property
    def more(self) -> int:
        return max(self.total - len(self.tickets), 0)


@dataclass(frozen=True)
class WeekNumbers:
    """The last seven days. First response and SLA are about the tickets opened in them."""

    start: datetime
    end: datetime
    opened: int
    resolved: int
    first_response_median: timedelta | None
    first_response_met: int
    first_response_missed: int
    csat: CsatNumbers

    @property
    def sla_attainment(self) -> float | None:
        """Percent of decided first-response targets that were met; None if none is decided."""
        decided = self.first_response_met + self.first_response_missed
        return 100.0 * self.first_response_met / decided if decided else None


@dataclass(frozen=True)
class TeamHome:
    user_id: str
    role: Role
    mine: TicketList
    unassigned: TicketList
    week: WeekNumbers


@dataclass(frozen=True)
class CustomerHome:
    user_id: str
    requested: TicketList


async def load_home(
    *, session: AsyncSession, workspace_id: int, user_id: str, now: datetime
) -> TeamHome | CustomerHome:
    role = await get_role(session=session, workspace_id=workspace_id, user_id=user_id)
    if role is None:
        return CustomerHome(
            user_id=user_id,
            requested=await _list(
                session,
                [
                    Ticket.workspace_id == workspace_id,
                    Ticket.requester_user_id == user_id,
                    Ticket.status != TicketStatus.DISCARDED,
                ],
                # Open ones first, then the latest.
                [case((Ticket.status.in_(_OPEN), 0), else_=1), Ticket.created_at.desc()],
            ),
        )
    open_in_workspace = [Ticket.workspace_id == workspace_id, Ticket.status.in_(_OPEN)]
    soonest_due = [_nearest_due().asc().nulls_last(), Ticket.created_at, Ticket.id]
    return TeamHome(
        user_id=user_id,
        role=role,
        mine=await _list(
            session, [*open_in_workspace, Ticket.assignee_user_id == user_id], soonest_due
        ),
        unassigned=await _list(
            session, [*open_in_workspace, Ticket.assignee_user_id.is_(None)], soonest_due
        ),
        week=await week_numbers(session=session, workspace_id=workspace_id, now=now),
    )


async def week_numbers(*, session: AsyncSession, workspace_id: int, now: datetime) -> WeekNumbers:
    # The end is exclusive: a microsecond on, so what happened at `now` itself counts too.
    start, end = now - WEEK, now + timedelta(microseconds=1)
    volume = await ticket_volume(session=session, workspace_id=workspace_id, start=start, end=end)
    # Tickets opened in the week: found through the (workspace_id, created_at) index.
    opened = [
        Ticket.workspace_id == workspace_id,
        Ticket.created_at >= start,
        Ticket.created_at < end,
        Ticket.status != TicketStatus.DISCARDED,
    ]
    rows = await session.execute(
        select(Ticket.created_at, Ticket.first_response_at).where(
            *opened, Ticket.first_response_at.is_not(None)
        )
    )
    waits = [(answered - asked).total_seconds() for asked, answered in rows if answered is not None]
    median = timedelta(seconds=round(statistics.median(waits))) if waits else None
    # One row per ticket whose first-response target is decided: missed if it was breached
    # (or met late, when the breach timer had not fired yet).
    per_ticket = (
        select(
            func.max(case((SlaLedgerEntry.kind.in_(_MISSED), 1), else_=0)).label("missed"),
        )
        .join(Ticket, Ticket.id == SlaLedgerEntry.ticket_id)
        .where(
            *opened,
            SlaLedgerEntry.target == FIRST_RESPONSE,
            SlaLedgerEntry.kind.in_(_DECIDED),
        )
        .group_by(SlaLedgerEntry.ticket_id)
        .subquery()
    )
    decided, missed = (
        await session.execute(select(func.count(), func.coalesce(func.sum(per_ticket.c.missed), 0)))
    ).one()
    return WeekNumbers(
        start=start,
        end=end,
        opened=volume.opened,
        resolved=volume.resolved,
        first_response_median=median,
        first_response_met=int(decided) - int(missed),
        first_response_missed=int(missed),
        csat=await csat_numbers(session=session, workspace_id=workspace_id, start=start, end=end),
    )


async def _list(
    session: AsyncSession,
    conditions: list[ColumnElement[bool]],
    order: list[SQLColumnExpression[object]],
) -> TicketList:
    tickets = list(
        await session.scalars(select(Ticket).where(*conditions).order_by(*order).limit(LIST_LIMIT))
    )
    if len(tickets) < LIST_LIMIT:
        return TicketList(tickets, len(tickets))
    total = await session.scalar(select(func.count()).select_from(Ticket).where(*conditions))
    return TicketList(tickets, total or 0)


def _nearest_due() -> ColumnElement[datetime]:
    """The earliest of the running SLA due times; NULL when no clock runs. Portable: SQLite's
    min() and PostgreSQL's least() treat NULLs differently."""

    def earlier(
        a: SQLColumnExpression[datetime | None], b: SQLColumnExpression[datetime | None]
    ) -> ColumnElement[datetime]:
        return case((a.is_(None), b), (b.is_(None), a), (a <= b, a), else_=b)

    return earlier(
        earlier(Ticket.first_response_due_at, Ticket.next_response_due_at),
        Ticket.resolution_due_at,
    )
