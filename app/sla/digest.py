"""The daily digest: each morning, every triage channel gets the state of its queue.

A self-rescheduling timer per workspace (key `digest:<workspace>`): the handler posts the
digests through the outbox and moves its own timer to the next day, in one transaction, so
each digest is posted once across replicas and a restart neither skips nor repeats one.
"""

from __future__ import annotations

import statistics
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.outbox.service import enqueue_slack_call
from app.sla.durations import format_duration
from app.sla.models import BusinessHours
from app.text_safety import escape
from app.tickets.enums import OPEN_STATUSES, SlaState, TicketStatus
from app.tickets.models import Ticket
from app.timers.handlers import TimerHandlers
from app.timers.models import Timer
from app.timers.service import is_armed, schedule_timer
from app.workspaces.models import Workspace

DIGEST = "sla.digest"
LISTED_TICKETS = 10


def _key(workspace_id: int) -> str:
    return f"digest:{workspace_id}"


def next_digest_at(now: datetime, hour: int, time_zone: str) -> datetime:
    """The next `hour`:00 in the workspace's zone, strictly after now."""
    zone = ZoneInfo(time_zone)
    local = now.astimezone(zone)
    candidate = datetime.combine(local.date(), time(hour), tzinfo=zone)
    if candidate <= local:
        candidate = datetime.combine(local.date() + timedelta(days=1), time(hour), tzinfo=zone)
    return candidate


async def ensure_daily_digest(
    *, session: AsyncSession, workspace_id: int, hour: int, now: datetime
) -> None:
    """At start-up: arm the digest unless it is armed (a digest missed while down still goes)."""
    if not await is_armed(session=session, key=_key(workspace_id)):
        await schedule_daily_digest(session=session, workspace_id=workspace_id, hour=hour, now=now)


async def schedule_daily_digest(
    *, session: AsyncSession, workspace_id: int, hour: int, now: datetime
) -> None:
    zone = await workspace_time_zone(session, workspace_id)
    await schedule_timer(
        session=session,
        kind=DIGEST,
        key=_key(workspace_id),
        workspace_id=workspace_id,
        due_at=next_digest_at(now, hour, zone),
        now=now,
        payload={"hour": hour},
    )


async def on_digest(session: AsyncSession, timer: Timer, now: datetime, late: bool) -> None:
    workspace = await session.get(Workspace, timer.workspace_id)
    if workspace is None:
        return
    zone = await workspace_time_zone(session, workspace.id)
    for channel_id, text in await digests(session=session, workspace=workspace, now=now, zone=zone):
        await enqueue_slack_call(
            session=session,
            method="chat.postMessage",
            payload={"channel": channel_id, "text": text},
            now=now,
            workspace_id=workspace.id,
        )
    await schedule_daily_digest(
        session=session, workspace_id=workspace.id, hour=int(timer.payload.get("hour", 9)), now=now
    )


async def digests(
    *, session: AsyncSession, workspace: Workspace, now: datetime, zone: str
) -> list[tuple[str, str]]:
    """(triage channel, message) for each triage channel with tickets, or the default one."""
    open_tickets = list(
        await session.scalars(
            select(Ticket)
            .where(Ticket.workspace_id == workspace.id, Ticket.status.in_(OPEN_STATUSES))
            .order_by(Ticket.number)
        )
    )
    channels = sorted({t.triage_channel_id for t in open_tickets if t.triage_channel_id})
    if not channels and workspace.triage_channel_id:
        channels = [workspace.triage_channel_id]
    median = await _yesterdays_first_response_median(session, workspace.id, now, zone)
    result = []
    for channel_id in channels:
        mine = [t for t in open_tickets if t.triage_channel_id == channel_id]
        result.append((channel_id, _digest_text(mine, median, now)))
    return result


def sla_state_at(ticket: Ticket, now: datetime) -> str:
    """The ticket's SLA state as of `now`: a target already past due counts as breached even if
    its breach timer has not fired yet (it may be due in the same sweep as the digest, or be
    waiting for a ticket held by another writer), so the digest never calls it merely at risk."""
    dues = (ticket.first_response_due_at, ticket.next_response_due_at, ticket.resolution_due_at)
    if any(due is not None and due <= now for due in dues):
        return SlaState.BREACHED
    return ticket.sla_state


def _digest_text(tickets: list[Ticket], median: timedelta | None, now: datetime) -> str:
    by_status = {status: 0 for status in OPEN_STATUSES}
    for ticket in tickets:
        by_status[ticket.status] += 1
    shown = [TicketStatus.NEW, TicketStatus.OPEN, TicketStatus.WAITING_ON_CUSTOMER]
    if by_status[TicketStatus.WAITING_ON_ENGINEERING]:  # only where something is escalated
        shown.append(TicketStatus.WAITING_ON_ENGINEERING)
    counts = " · ".join(f"{by_status[status]} {status.value.replace('_', ' ')}" for status in shown)
    lines = [f":sunrise: *Daily digest*: {len(tickets)} open tickets ({counts})"]
    for state, label in (
        ("breached", ":red_circle: Breached"),
        ("at_risk", ":large_yellow_circle: At risk"),
    ):
        flagged = [t for t in tickets if sla_state_at(t, now) == state]
        if flagged:
            listed = ", ".join(
                f"*{t.display_number}* {escape(t.subject[:40])}" for t in flagged[:LISTED_TICKETS]
            )
            more = (
                f" and {len(flagged) - LISTED_TICKETS} more"
                if len(flagged) > LISTED_TICKETS
                else ""
            )
            lines.append(f"{label} ({len(flagged)}): {listed}{more}")
    lines.append(
        "Yesterday's median first response: "
        + (format_duration(median) if median is not None else "no first responses")
    )
    return "\n".join(lines)


async def _yesterdays_first_response_median(
    session: AsyncSession, workspace_id: int, now: datetime, zone: str
) -> timedelta | None:
    local_today = now.astimezone(ZoneInfo(zone)).date()
    start = datetime.combine(local_today - timedelta(days=1), time(0), tzinfo=ZoneInfo(zone))
    end = datetime.combine(local_today, time(0), tzinfo=ZoneInfo(zone))
    rows = await session.execute(
        select(Ticket.created_at, Ticket.first_response_at).where(
            Ticket.workspace_id == workspace_id,
            Ticket.first_response_at >= start,
            Ticket.first_response_at < end,
            Ticket.status != TicketStatus.DISCARDED,
        )
    )
    waits = [
        (answered - opened).total_seconds() for opened, answered in rows if answered is not None
    ]
    return timedelta(seconds=round(statistics.median(waits))) if waits else None


async def workspace_time_zone(session: AsyncSession, workspace_id: int) -> str:
    zone = await session.scalar(
        select(BusinessHours.time_zone).where(BusinessHours.workspace_id == workspace_id)
    )
    return zone or "UTC"


def register_digest_handler(handlers: TimerHandlers) -> None:
    handlers.register(DIGEST, on_digest)
