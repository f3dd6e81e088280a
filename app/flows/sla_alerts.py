"""What a fired SLA timer does: tell the triage channel, under the ticket's card, mark the
ticket at risk or breached (card, Home tabs) and tell webhook subscribers.

Runs inside the timer sweep's transaction, so the alert (an outbox row), the ledger entry and
the timer being done commit together: each alert is posted once, also across replicas.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import cached_read
from app.flows.views import refresh_ticket_views
from app.sla.durations import format_duration
from app.sla.models import SlaLedgerEntry
from app.sla.tracking import AT_RISK, BREACHED, SLA_BREACH, SLA_WARNING, ledger_context
from app.team.enums import Role
from app.team.models import TeamMember
from app.tickets.enums import OPEN_STATUSES, Priority
from app.tickets.models import Ticket
from app.tickets.notifications import post_in_triage_thread
from app.tickets.timer_locks import lock_tickets_and_their_cards
from app.timers.handlers import TimerHandlers, lock_for_handler
from app.timers.models import Timer
from app.webhooks.enums import WebhookEventType
from app.webhooks.events import emit_ticket_event, timestamp

TARGET_NAMES = {
    "first_response": "first response",
    "next_response": "next response",
    "resolution": "resolution",
}


async def on_sla_timer(session: AsyncSession, timer: Timer, now: datetime, late: bool) -> None:
    # A command holding the ticket (and about to touch its timers) must not deadlock with this
    # sweep: if the ticket is held, the timer is left for the next sweep (TimerBusy).
    ticket = await lock_for_handler(session, Ticket, timer.ticket_id) if timer.ticket_id else None
    target = str(timer.payload.get("target", ""))
    if ticket is None or ticket.status not in OPEN_STATUSES:
        return
    due = getattr(ticket, f"{target}_due_at", None)
    if due is None or due.isoformat() != timer.payload.get("due_at"):
        return  # the target was met or re-planned since this timer was armed
    breach = timer.kind == SLA_BREACH
    name = TARGET_NAMES.get(target, target)
    if breach:
        overdue = format_duration(max(now - due, timedelta(0)))
        text = f":rotating_light: *{ticket.display_number}* breached its {name} target"
        text += f" (due <!date^{int(due.timestamp())}^{{time}}|{due:%H:%M} UTC>"
        text += f", {overdue} ago)." if overdue != "0s" else ")."
        ticket.sla_state = BREACHED
    else:
        left = format_duration(due - now) if due > now else "no time"
        text = f":warning: *{ticket.display_number}*: {left} left to meet its {name} target"
        text += f" (due <!date^{int(due.timestamp())}^{{time}}|{due:%H:%M} UTC>)."
        if ticket.sla_state != BREACHED:
            ticket.sla_state = AT_RISK
    if late:
        text += " _(late: ticketbot was not running when this fell due)_"
    mentions = await _who_to_tell(session, ticket, breach=breach)
    if mentions:
        text += " " + " ".join(f"<@{user}>" for user in mentions)
    session.add(
        SlaLedgerEntry(
            ticket_id=ticket.id,
            target=target,
            kind="breached" if breach else "warned",
            due_at=due,
            reason="late" if late else "",
            at=now,
            **ledger_context(ticket),
        )
    )
    await post_in_triage_thread(session=session, ticket=ticket, text=text, now=now)
    await refresh_ticket_views(session=session, ticket=ticket, now=now)
    await emit_ticket_event(
        session=session,
        ticket=ticket,
        event_type=WebhookEventType.SLA_BREACHED if breach else WebhookEventType.SLA_WARNING,
        now=now,
        sla={"target": target, "due_at": timestamp(due), "late": late},
    )


async def _who_to_tell(session: AsyncSession, ticket: Ticket, *, breach: bool) -> list[str]:
    """The assignee; the leads when nobody is assigned, or when an urgent ticket breaches."""
    people = [ticket.assignee_user_id] if ticket.assignee_user_id else []
    if not people or (breach and ticket.priority is Priority.URGENT):
        leads = await cached_read(
            session, ("leads", ticket.workspace_id), lambda: _leads(session, ticket.workspace_id)
        )
        people += [lead for lead in leads if lead not in people]
    return people


async def _leads(session: AsyncSession, workspace_id: int) -> list[str]:
    leads = await session.scalars(
        select(TeamMember.slack_user_id)
        .where(TeamMember.workspace_id == workspace_id, TeamMember.role == Role.LEAD)
        .order_by(TeamMember.slack_user_id)
    )
    return list(leads)


def register_sla_handlers(handlers: TimerHandlers) -> None:
    handlers.register(SLA_WARNING, on_sla_timer, prepare=lock_tickets_and_their_cards)
    handlers.register(SLA_BREACH, on_sla_timer, prepare=lock_tickets_and_their_cards)
