"""Reading tickets: the filtered, cursor-paginated list and one ticket with its history.

The cursor is opaque to callers: base64 of the sort order and the (sort key, id) of the last
ticket on the page. Paging by key rather than offset stays fast deep into the list, and a
ticket created while someone pages never shifts the pages after it.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import ColumnElement, SQLColumnExpression, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import InvalidInput, NotFound
from app.tickets.enums import Priority, SlaState, TicketStatus
from app.tickets.models import Ticket, TicketEvent, TicketMessage

MAX_PAGE_SIZE = 200
DEFAULT_PAGE_SIZE = 50
UNASSIGNED = "none"
"""The `assignee` filter value that selects tickets nobody is assigned to."""

_BAD_CURSOR = "cursor is not valid; pass the next_cursor of a previous page."
_MAX_NUMBER = 2**31 - 1  # ticket numbers are INTEGER
_NUMBER = re.compile(r"(?:T-?)?(\d{1,10})", re.IGNORECASE)


class TicketSort(StrEnum):
    CREATED_ASC = "created_at"
    CREATED_DESC = "-created_at"
    UPDATED_ASC = "updated_at"
    UPDATED_DESC = "-updated_at"

    @property
    def descending(self) -> bool:
        return self.value.startswith("-")


@dataclass(frozen=True)
class TicketFilters:
    """Every filter is optional; given ones must all match. Discarded tickets are left out
    unless asked for by status."""

    statuses: Sequence[TicketStatus] = ()
    priorities: Sequence[Priority] = ()
    assignee: str | None = None
    channel: str | None = None
    requester: str | None = None
    account: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    sla_state: SlaState | None = None


@dataclass(frozen=True)
class TicketPage:
    tickets: list[Ticket]
    next_cursor: str | None


def parse_ticket_number(value: str) -> int:
    """`12`, `T-12` or `t12` -> 12."""
    match = _NUMBER.fullmatch(value.strip())
    number = int(match.group(1)) if match else 0
    if not 1 <= number <= _MAX_NUMBER:
        raise InvalidInput(f"{value!r} is not a ticket number; use a number like 12 or T-12.")
    return number


async def get_ticket_by_number(
    *, session: AsyncSession, workspace_id: int, number: int, for_update: bool = False
) -> Ticket:
    query = select(Ticket).where(Ticket.workspace_id == workspace_id, Ticket.number == number)
    if for_update:
        query = query.with_for_update(key_share=True)  # FOR NO KEY UPDATE, like get_ticket
    ticket = await session.scalar(query)
    if ticket is None:
        raise NotFound(f"Ticket T-{number} does not exist.")
    return ticket


async def ticket_messages(*, session: AsyncSession, ticket: Ticket) -> list[TicketMessage]:
    return list(
        await session.scalars(
            select(TicketMessage)
            .where(TicketMessage.ticket_id == ticket.id)
            .order_by(TicketMessage.created_at, TicketMessage.id)
        )
    )


async def ticket_events(*, session: AsyncSession, ticket: Ticket) -> list[TicketEvent]:
    return list(
        await session.scalars(
            select(TicketEvent)
            .where(TicketEvent.ticket_id == ticket.id)
            .order_by(TicketEvent.created_at, TicketEvent.id)
        )
    )


async def list_tickets(
    *,
    session: AsyncSession,
    workspace_id: int,
    filters: TicketFilters,
    sort: TicketSort = TicketSort.CREATED_DESC,
    limit: int = DEFAULT_PAGE_SIZE,
    cursor: str | None = None,
) -> TicketPage:
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidInput(f"limit must be between 1 and {MAX_PAGE_SIZE}.")
    key = _sort_key(sort)
    query = select(Ticket).where(Ticket.workspace_id == workspace_id, *_conditions(filters))
    if cursor is not None:
        after_key, after_id = decode_cursor(cursor, sort)
        if sort.descending:
            query = query.where(or_(key < after_key, and_(key == after_key, Ticket.id < after_id)))
        else:
            query = query.where(or_(key > after_key, and_(key == after_key, Ticket.id > after_id)))
    order = (key.desc(), Ticket.id.desc()) if sort.descending else (key.asc(), Ticket.id.asc())
    rows = list(await session.scalars(query.order_by(*order).limit(limit + 1)))
    tickets, more = rows[:limit], len(rows) > limit
    next_cursor = encode_cursor(sort, _key_of(tickets[-1], sort), tickets[-1].id) if more else None
    return TicketPage(tickets=tickets, next_cursor=next_cursor)


def _sort_key(sort: TicketSort) -> SQLColumnExpression[datetime]:
    if sort in (TicketSort.CREATED_ASC, TicketSort.CREATED_DESC):
        return Ticket.created_at
    # updated_at is set by every service, but the column allows NULL: fall back to created_at.
    return func.coalesce(Ticket.updated_at, Ticket.created_at)


def _key_of(ticket: Ticket, sort: TicketSort) -> datetime:
    if sort in (TicketSort.CREATED_ASC, TicketSort.CREATED_DESC):
        return ticket.created_at
    return ticket.updated_at or ticket.created_at


def _conditions(filters: TicketFilters) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if filters.statuses:
        conditions.append(Ticket.status.in_(list(filters.statuses)))
    else:
        conditions.append(Ticket.status != TicketStatus.DISCARDED)
    if filters.priorities:
        conditions.append(Ticket.priority.in_(list(filters.priorities)))
    if filters.assignee is not None:
        if filters.assignee.lower() == UNASSIGNED:
            conditions.append(Ticket.assignee_user_id.is_(None))
        else:
            conditions.append(Ticket.assignee_user_id == _text("assignee", filters.assignee))
    if filters.channel is not None:
        conditions.append(Ticket.channel_id == _text("channel", filters.channel))
    if filters.requester is not None:
        conditions.append(Ticket.requester_user_id == _text("requester", filters.requester))
    if filters.account is not None:
        account = _text("account", filters.account).lower()
        conditions.append(func.lower(Ticket.account_name) == account)
    start, end = _aware(filters.created_from), _aware(filters.created_to)
    if start is not None and end is not None and start > end:
        raise InvalidInput("created_from must not be later than created_to.")
    if start is not None:
        conditions.append(Ticket.created_at >= start)
    if end is not None:
        conditions.append(Ticket.created_at < end)
    if filters.sla_state is not None:
        conditions.append(Ticket.sla_state == filters.sla_state.value)
    return conditions


def _text(name: str, value: str) -> str:
    # PostgreSQL refuses NUL in text: say so rather than fail inside the query.
    if "\x00" in value:
        raise InvalidInput(f"{name} must not contain NUL characters.")
    return value


def _aware(value: datetime | None) -> datetime | None:
    """A time without a zone is taken as UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def encode_cursor(sort: TicketSort, key: datetime, ticket_id: int) -> str:
    document = {"s": sort.value, "k": key.isoformat(), "i": ticket_id}
    raw = json.dumps(document, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, sort: TicketSort) -> tuple[datetime, int]:
    """The (sort key, id) a cursor continues after; InvalidInput if it is not one of ours."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        document = json.loads(raw)
        key = datetime.fromisoformat(document["k"])
        ticket_id = document["i"]
        order = document["s"]
    except (binascii.Error, ValueError, TypeError, KeyError):
        raise InvalidInput(_BAD_CURSOR) from None
    if not isinstance(ticket_id, int) or not 0 < ticket_id < 2**63 or key.tzinfo is None:
        raise InvalidInput(_BAD_CURSOR)
    if order != sort.value:
        raise InvalidInput(f"cursor belongs to sort={order}; pass the same sort as that page.")
    return key, ticket_id
