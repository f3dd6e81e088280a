"""A set of changes to a ticket, as `/ticket`, `PATCH /api/tickets` and inbound webhooks ask
for them (applied by app/flows/changes.py)."""

from __future__ import annotations

from dataclasses import dataclass

from app.tickets.enums import Priority, TicketStatus

SETTABLE_STATUSES = (
    TicketStatus.OPEN,
    TicketStatus.WAITING_ON_CUSTOMER,
    TicketStatus.RESOLVED,
    TicketStatus.CLOSED,
)


@dataclass(frozen=True)
class TicketChanges:
    """What to change; `assign` says whether `assignee` (which may be None: unassign) applies."""

    assign: bool = False
    assignee: str | None = None
    priority: Priority | None = None
    status: TicketStatus | None = None
    subject: str | None = None
    account_name: str | None = None
