"""Auto-assignment: a watched channel may hand each new ticket to an agent, round robin or to
the least loaded, among the agents who are at work now and below their capacity. It weighs the
team (capacity, working hours), business hours (app/sla) and ticket load, so it is a flow.

Leads set it per channel (`/ticket autoassign`), and per agent a capacity and working hours
(`/ticket team capacity|hours`). An agent without their own hours works the workspace's
business hours. If nobody is available the ticket stays unassigned for the leads to triage.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import InvalidInput, NotFound
from app.sla.calendar import BusinessCalendar
from app.sla.policies import calendar_for, calendar_from
from app.team.enums import AutoAssignMode, Role
from app.team.models import TeamMember
from app.tickets.enums import OPEN_STATUSES
from app.tickets.models import Ticket
from app.workspaces.models import WatchedChannel


@dataclass(frozen=True)
class Candidate:
    user_id: str
    load: int
    capacity: int | None


async def choose_assignee(
    *, session: AsyncSession, channel: WatchedChannel, now: datetime
) -> tuple[str, int] | None:
    """The agent to give the channel's next ticket, with their current load; None if nobody
    is available. Remembers the choice on the channel (lock it: concurrent tickets in one
    channel then take turns)."""
    if channel.auto_assign is AutoAssignMode.OFF:
        return None
    candidates = await available_agents(session=session, workspace_id=channel.workspace_id, now=now)
    if not candidates:
        return None
    # Round robin order: the agents after the last one picked, then the rest.
    last = channel.auto_assign_last_user_id
    turn = [c for c in candidates if last is None or c.user_id > last]
    turn += [c for c in candidates if c not in turn]
    if channel.auto_assign is AutoAssignMode.LEAST_LOADED:
        chosen = min(turn, key=lambda c: c.load)  # ties: the next in turn
    else:
        chosen = turn[0]
    channel.auto_assign_last_user_id = chosen.user_id
    return chosen.user_id, chosen.load


async def available_agents(
    *, session: AsyncSession, workspace_id: int, now: datetime
) -> list[Candidate]:
    """Agents at work now and below capacity, by user id."""
    members = list(
        await session.scalars(
            select(TeamMember)
            .where(TeamMember.workspace_id == workspace_id, TeamMember.role == Role.AGENT)
            .order_by(TeamMember.slack_user_id)
        )
    )
    if not members:
        return []
    workspace_calendar: BusinessCalendar | None = None
    at_work = []
    for member in members:
        if member.working_hours:
            calendar = member_calendar(member.working_hours)
        else:
            if workspace_calendar is None:
                workspace_calendar = await calendar_for(
                    session=session, workspace_id=workspace_id, years=range(now.year, now.year + 1)
                )
            calendar = workspace_calendar
        if calendar.is_open(now):
            at_work.append(member)
    if not at_work:
        return []
    loads = dict(
        (
            await session.execute(
                select(Ticket.assignee_user_id, func.count())
                .where(
                    Ticket.workspace_id == workspace_id,
                    Ticket.status.in_([status.value for status in OPEN_STATUSES]),
                    Ticket.assignee_user_id.in_([m.slack_user_id for m in at_work]),
                )
                .group_by(Ticket.assignee_user_id)
            )
        ).all()
    )
    candidates = [
        Candidate(m.slack_user_id, int(loads.get(m.slack_user_id, 0)), m.capacity) for m in at_work
    ]
    return [c for c in candidates if c.capacity is None or c.load < c.capacity]


def member_calendar(hours: dict[str, Any]) -> BusinessCalendar:
    return calendar_from(
        time_zone=str(hours.get("time_zone", "UTC")),
        weekly_hours={day: [[hours["opens"], hours["closes"]]] for day in hours.get("days", [])},
    )


async def _member(session: AsyncSession, workspace_id: int, user_id: str) -> TeamMember:
    member = await session.scalar(
        select(TeamMember).where(
            TeamMember.workspace_id == workspace_id, TeamMember.slack_user_id == user_id
        )
    )
    if member is None:
        raise NotFound(
            "{user} is not on the support team.", code="not_on_team", people={"user": user_id}
        )
    return member


async def set_capacity(
    *, session: AsyncSession, workspace_id: int, user_id: str, capacity: int | None
) -> TeamMember:
    if capacity is not None and capacity < 1:
        raise InvalidInput("A capacity is at least 1 open ticket.")
    member = await _member(session, workspace_id, user_id)
    member.capacity = capacity
    return member


async def set_working_hours(
    *,
    session: AsyncSession,
    workspace_id: int,
    user_id: str,
    time_zone: str | None,
    opens: str = "",
    closes: str = "",
    days: tuple[str, ...] = (),
) -> TeamMember:
    """Set (or with time_zone None, clear) when auto-assignment may pick this member."""
    member = await _member(session, workspace_id, user_id)
    if time_zone is None:
        member.working_hours = None
        return member
    try:
        ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(
            f"`{time_zone}` is not a time zone like Europe/Berlin.", field="time_zone"
        ) from None
    hours = {"time_zone": time_zone, "days": list(days), "opens": opens, "closes": closes}
    member_calendar(hours)  # raises InvalidInput on impossible hours
    member.working_hours = hours
    return member


def describe_hours(hours: dict[str, Any] | None) -> str:
    if not hours:
        return "the workspace's business hours"
    days = hours.get("days") or []
    span = f"{days[0]}-{days[-1]}" if len(days) > 1 else "".join(days)
    return f"{span} {hours['opens']}-{hours['closes']} {hours['time_zone']}"
