"""`/ticket list`, `show`, and the triage subcommands on one ticket (assign, priority, status,
resolve, reopen, close, note). Each runs the same services as the triage card and the REST API.

Who may do what is decided by the services (leads everything; agents take, answer, prioritise
and resolve); this module only finds the ticket and words the outcome.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import NotAllowed
from app.flows import assignment, lifecycle
from app.flows.changes import set_status
from app.sla.models import SlaLedgerEntry
from app.slack.blocks.ticket_list import ticket_list
from app.slack.commands import (
    Assign,
    Close,
    ListTickets,
    Note,
    Reopen,
    Resolve,
    SetPriority,
    SetStatus,
    TicketCommand,
    Unassign,
)
from app.slack.replies import Reply
from app.team.service import get_role
from app.text_safety import escape, link
from app.tickets.actors import Actor
from app.tickets.enums import TicketStatus
from app.tickets.models import Ticket
from app.tickets.notes import add_note
from app.tickets.queries import get_ticket_by_number
from app.tickets.triage_list import TriageQuery, triage_page


async def run_ticket_command(
    *,
    session: AsyncSession,
    workspace_id: int,
    user_id: str,
    command: TicketCommand,
    now: datetime,
) -> str:
    role = await get_role(session=session, workspace_id=workspace_id, user_id=user_id)
    if role is None:
        raise NotAllowed(
            "Sorry, only the support team can change tickets. You can `/ticket show` the"
            " tickets you asked about."
        )
    actor = Actor.user(user_id, role)
    ticket = await get_ticket_by_number(
        session=session, workspace_id=workspace_id, number=command.number, for_update=True
    )
    number = ticket.display_number
    match command:
        case Assign(user_id=assignee):
            assignee = assignee or user_id
            await assignment.assign(
                session=session, ticket=ticket, assignee_user_id=assignee, actor=actor, now=now
            )
            return (
                f"You now have {number}."
                if assignee == user_id
                else (f"<@{assignee}> now has {number}.")
            )
        case Unassign():
            previous = ticket.assignee_user_id
            await assignment.assign(
                session=session, ticket=ticket, assignee_user_id=None, actor=actor, now=now
            )
            return f"{number} is unassigned" + (f" (was <@{previous}>)." if previous else ".")
        case SetPriority(priority=priority):
            await assignment.set_priority(
                session=session, ticket=ticket, priority=priority, actor=actor, now=now
            )
            return f"{number} is now {priority.value} priority; its SLA targets follow."
        case SetStatus(waiting=waiting):
            status = TicketStatus.WAITING_ON_CUSTOMER if waiting else TicketStatus.OPEN
            await set_status(session=session, ticket=ticket, status=status, actor=actor, now=now)
            if waiting:
                return f"{number} is waiting on the customer: its resolution clock is paused."
            return f"{number} is open."
        case Resolve():
            await lifecycle.resolve(session=session, ticket=ticket, actor=actor, now=now)
            return f"{number} is resolved."
        case Reopen():
            await lifecycle.reopen(session=session, ticket=ticket, actor=actor, now=now)
            return f"{number} is open again; its resolution clock starts over."
        case Close():
            await lifecycle.close(session=session, ticket=ticket, actor=actor, now=now)
            return f"{number} is closed."
        case Note(text=text):
            await add_note(session=session, ticket=ticket, text=text, actor=actor, now=now)
            return (
                f"Added your note to {number}, under its triage card (the customer never sees it)."
            )
    raise AssertionError(f"unhandled ticket command {command!r}")  # pragma: no cover


async def run_list_command(
    *, session: AsyncSession, workspace_id: int, user_id: str, command: ListTickets
) -> Reply:
    return await list_page(
        session=session,
        workspace_id=workspace_id,
        user_id=user_id,
        query=TriageQuery(
            filter=command.filter,
            channel_id=command.channel_id,
            user_id=command.user_id,
            page=command.page,
        ),
    )


async def list_page(
    *, session: AsyncSession, workspace_id: int, user_id: str, query: TriageQuery
) -> Reply:
    if await get_role(session=session, workspace_id=workspace_id, user_id=user_id) is None:
        raise NotAllowed(
            "Sorry, only the support team can list tickets. You can `/ticket show` the tickets"
            " you asked about."
        )
    page = await triage_page(
        session=session, workspace_id=workspace_id, query=query, viewer_id=user_id
    )
    rendered = ticket_list(page)
    return Reply(text=rendered["text"], blocks=rendered["blocks"])


async def show_ticket(
    *, session: AsyncSession, workspace_id: int, user_id: str, number: int
) -> str:
    """The team sees everything, with the SLA ledger; a requester sees their own ticket."""
    role = await get_role(session=session, workspace_id=workspace_id, user_id=user_id)
    ticket = await session.scalar(
        select(Ticket).where(Ticket.workspace_id == workspace_id, Ticket.number == number)
    )
    if role is None:
        if ticket is None or ticket.requester_user_id != user_id:
            raise NotAllowed(
                f"Sorry, you can only look at tickets you asked about; T-{number} is not one of"
                " them. The support team can see every ticket."
            )
        return _requester_view(ticket)
    if ticket is None:
        ticket = await get_ticket_by_number(
            session=session, workspace_id=workspace_id, number=number
        )  # raises NotFound, worded as everywhere else
    entries = await session.scalars(
        select(SlaLedgerEntry)
        .where(SlaLedgerEntry.ticket_id == ticket.id)
        .order_by(SlaLedgerEntry.id)
    )
    lines = [
        f"*{ticket.display_number}* · {escape(ticket.subject)}",
        f"Status: {_status(ticket)} · priority {ticket.priority.value}"
        f" · SLA {ticket.sla_state.replace('_', ' ')}"
        + (f" · assignee <@{ticket.assignee_user_id}>" if ticket.assignee_user_id else ""),
        "*SLA ledger*",
    ]
    for entry in entries:
        due = f", due {entry.due_at:%Y-%m-%d %H:%M} UTC" if entry.due_at else ""
        why = f" ({escape(entry.reason)})" if entry.reason else ""
        lines.append(
            f"• {entry.at:%Y-%m-%d %H:%M} UTC · {entry.target.replace('_', ' ')} "
            f"{entry.kind.replace('_', ' ')}{due}{why}"
        )
    return "\n".join(lines)


def _requester_view(ticket: Ticket) -> str:
    who = f"<@{ticket.assignee_user_id}> is on it" if ticket.assignee_user_id else "not picked up"
    lines = [
        f"*{ticket.display_number}* · {escape(ticket.subject)}",
        f"Status: {_status(ticket)} · {who} yet"
        if not ticket.assignee_user_id
        else (f"Status: {_status(ticket)} · {who}"),
        f"Opened {ticket.created_at:%Y-%m-%d %H:%M} UTC",
    ]
    if ticket.permalink:
        lines.append(link(ticket.permalink, "The conversation"))
    return "\n".join(lines)


def _status(ticket: Ticket) -> str:
    return ticket.status.value.replace("_", " ")
