"""CSV downloads, streamed: rows are read a page at a time and written as they come, so a
million tickets never sit in memory. The web dashboard and the REST API serve the same files."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.tickets.models import Ticket
from app.tickets.queries import MAX_PAGE_SIZE, TicketFilters, TicketSort, list_tickets

TICKET_CSV_NAME = "tickets.csv"
PAGE_ROWS = MAX_PAGE_SIZE  # the most one read returns
TICKET_COLUMNS = (
    "number",
    "subject",
    "status",
    "priority",
    "account",
    "channel",
    "requester",
    "assignee",
    "sla_state",
    "created_at",
    "first_response_at",
    "resolved_at",
    "closed_at",
    "permalink",
)


def spreadsheet_safe(value: object) -> str:
    """A CSV cell a spreadsheet will not run: text starting with = + - @ is quoted with '."""
    if isinstance(value, datetime):
        value = (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    text = "" if value is None else str(value)
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


class CsvLines:
    """Rows in, CSV text out, a row at a time."""

    def __init__(self, columns: Sequence[str]) -> None:
        self._buffer = io.StringIO()
        self._writer = csv.writer(self._buffer)
        self.header = self.rows([list(columns)])

    def rows(self, rows: Iterable[Sequence[object]]) -> str:
        for row in rows:
            self._writer.writerow([spreadsheet_safe(cell) for cell in row])
        text = self._buffer.getvalue()
        self._buffer.seek(0)
        self._buffer.truncate()
        return text


def ticket_row(ticket: Ticket) -> tuple[object, ...]:
    return (
        ticket.display_number,
        ticket.subject,
        ticket.status.value,
        ticket.priority.value,
        ticket.account_name,
        ticket.channel_id,
        ticket.requester_user_id,
        ticket.assignee_user_id,
        ticket.sla_state,
        ticket.created_at,
        ticket.first_response_at,
        ticket.resolved_at,
        ticket.closed_at,
        ticket.permalink,
    )


async def ticket_csv(
    *,
    session_factory: async_sessionmaker[AsyncSession],
    workspace_id: int,
    filters: TicketFilters,
) -> AsyncIterator[str]:
    """Every ticket the filters select, newest first, one page (one short read) at a time.

    The first page is read here, before anything is sent, so that filters the database refuses
    (a period that ends before it starts) are answered 4xx, not by a cut-off download."""

    async def page(cursor: str | None) -> tuple[list[Ticket], str | None]:
        async with session_factory() as session, session.begin():
            found = await list_tickets(
                session=session,
                workspace_id=workspace_id,
                filters=filters,
                sort=TicketSort.CREATED_DESC,
                limit=PAGE_ROWS,
                cursor=cursor,
            )
            return found.tickets, found.next_cursor

    first = await page(None)

    async def lines() -> AsyncIterator[str]:
        writer = CsvLines(TICKET_COLUMNS)
        yield writer.header
        tickets, cursor = first
        while True:
            yield writer.rows(ticket_row(ticket) for ticket in tickets)
            if cursor is None:
                return
            tickets, cursor = await page(cursor)

    return lines()
