"""`/ticket list`, `show`, `new`, and the triage subcommands on one ticket (assign, unassign,
priority, status, resolve, reopen, close, note). Each runs the same services as the triage card
and the REST API.

The table (app/slack/ticket_command/specs.py) lets only the support team change or list tickets;
what else a role may do is decided by the services (leads everything; agents take, answer,
prioritise and resolve); this module only finds the ticket and words the outcome.
"""

from __future__ import annotations

from sqlalchemy import select

from app.errors import NotAllowed
from app.flows import assignment, lifecycle
from app.flows.changes import set_status
from app.flows.connectors import escalate
from app.flows.notes import add_internal_note
from app.sla.models import SlaLedgerEntry
from app.slack.blocks.new_ticket import NewTicketForm
from app.slack.new_ticket_form import open_new_ticket_form
from app.slack.replies import Reply
from app.slack.ticket_command.call import Call, Slash
from app.slack.ticket_command.grammar import (
    Assign,
    Close,
    Escalate,
    ListTickets,
    NewTicket,
    Note,
    Reopen,
    Resolve,
    SetPriority,
    SetStatus,
    Show,
    Unassign,
)
from app.slack.ticket_lists import render_page
from app.text_safety import escape, link
from app.tickets.enums import TicketStatus
from app.tickets.models import Ticket
from app.tickets.queries import get_ticket_by_number
from app.tickets.triage_list import TriageQuery


async def assign_ticket(call: Call, command: Assign) -> str:
    ticket = await _ticket(call, command.number)
    assignee = command.user_id or call.user_id
    await assignment.assign(
        session=call.session,
        ticket=ticket,
        assignee_user_id=assignee,
        actor=call.actor,
        now=call.now,
    )
    if assignee == call.user_id:
        return f"You now have {ticket.display_number}."
    return f"<@{assignee}> now has {ticket.display_number}."


async def unassign_ticket(call: Call, command: Unassign) -> str:
    ticket = await _ticket(call, command.number)
    previous = ticket.assignee_user_id
    await assignment.assign(
        session=call.session, ticket=ticket, assignee_user_id=None, actor=call.actor, now=call.now
    )
    return f"{ticket.display_number} is unassigned" + (
        f" (was <@{previous}>)." if previous else "."
    )


async def set_ticket_priority(call: Call, command: SetPriority) -> str:
    ticket = await _ticket(call, command.number)
    await assignment.set_priority(
        session=call.session,
        ticket=ticket,
        priority=command.priority,
        actor=call.actor,
        now=call.now,
    )
    return (
        f"{ticket.display_number} is now {command.priority.value} priority; its SLA targets follow."
    )


async def set_ticket_status(call: Call, command: SetStatus) -> str:
    ticket = await _ticket(call, command.number)
    status = TicketStatus.WAITING_ON_CUSTOMER if command.waiting else TicketStatus.OPEN
    await set_status(
        session=call.session, ticket=ticket, status=status, actor=call.actor, now=call.now
    )
    if command.waiting:
        return (
            f"{ticket.display_number} is waiting on the customer: its resolution clock is paused."
        )
    return f"{ticket.display_number} is open."


async def resolve_ticket(call: Call, command: Resolve) -> str:
    ticket = await _ticket(call, command.number)
    await lifecycle.resolve(session=call.session, ticket=ticket, actor=call.actor, now=call.now)
    return f"{ticket.display_number} is resolved."


async def reopen_ticket(call: Call, command: Reopen) -> str:
    ticket = await _ticket(call, command.number)
    await lifecycle.reopen(session=call.session, ticket=ticket, actor=call.actor, now=call.now)
    return f"{ticket.display_number} is open again; its resolution clock starts over."


async def close_ticket(call: Call, command: Close) -> str:
    ticket = await _ticket(call, command.number)
    await lifecycle.close(session=call.session, ticket=ticket, actor=call.actor, now=call.now)
    return f"{ticket.display_number} is closed."


async def note_ticket(call: Call, command: Note) -> str:
    ticket = await _ticket(call, command.number)
    await add_internal_note(
        session=call.session, ticket=ticket, text=command.text, actor=call.actor, now=call.now
    )
    return (
        f"Added your note to {ticket.display_number}, under its triage card"
        " (the customer never sees it)."
    )


async def escalate_ticket(call: Call, command: Escalate) -> str:
    ticket = await _ticket(call, command.number)
    return await escalate(
        session=call.session,
        ticket=ticket,
        vendor=command.tracker,
        target=command.target,
        actor=call.actor,
        now=call.now,
    )


async def _ticket(call: Call, number: int) -> Ticket:
    return await get_ticket_by_number(
        session=call.session, workspace_id=call.workspace_id, number=number, for_update=True
    )


async def list_tickets(call: Call, command: ListTickets) -> Reply:
    return await render_page(
        session=call.session,
        workspace_id=call.workspace_id,
        user_id=call.user_id,
        query=TriageQuery(
            filter=command.filter,
            channel_id=command.channel_id,
            user_id=command.user_id,
            page=command.page,
        ),
    )


async def show_ticket(call: Call, command: Show) -> str:
    """The team sees everything, with the SLA ledger; a requester sees their own ticket."""
    session, workspace_id, number = call.session, call.workspace_id, command.number
    ticket = await session.scalar(
        select(Ticket).where(Ticket.workspace_id == workspace_id, Ticket.number == number)
    )
    if call.role is None:
        if ticket is None or ticket.requester_user_id != call.user_id:
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


async def open_new_ticket(slash: Slash, command: NewTicket) -> None:
    """`/ticket new`: acknowledged at once, then the form opens (its trigger id expires 3 s after
    the command); anyone not on the team gets a refusal in its place."""
    await slash.ack()
    await open_new_ticket_form(
        slash.ctx,
        slash.client,
        body=slash.body,
        form=NewTicketForm(channel_id=slash.body.get("channel_id")),
    )
