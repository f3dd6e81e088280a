"""`/ticket sla` (the team sees the targets), `/ticket sla set` (leads change them) and
`/ticket hours` (business hours)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import NotAllowed
from app.sla.durations import format_duration
from app.sla.policies import (
    Targets,
    all_targets,
    describe_business_hours,
    set_business_hours,
    set_targets,
)
from app.slack.commands import HoursSet, HoursShow, SlaSet, SlaShow
from app.team.service import get_role, require_lead
from app.text_safety import escape


async def run_sla_command(
    *,
    session: AsyncSession,
    workspace_id: int,
    user_id: str,
    command: SlaShow | SlaSet,
    now: datetime,
) -> str:
    if isinstance(command, SlaShow):
        if await get_role(session=session, workspace_id=workspace_id, user_id=user_id) is None:
            raise NotAllowed("Sorry, only the support team can see the SLA targets.")
        return sla_reply(await all_targets(session=session, workspace_id=workspace_id))
    await require_lead(
        session=session, workspace_id=workspace_id, user_id=user_id, to="change SLA targets"
    )
    targets = await set_targets(
        session=session,
        workspace_id=workspace_id,
        priority=command.priority,
        actor_id=user_id,
        now=now,
        first_response=command.first_response,
        next_response=command.next_response,
        resolution=command.resolution,
        business_hours=command.business_hours,
    )
    return (
        f"Updated the *{targets.priority.value}* targets (tickets opened from now on):\n"
        + _line(targets)
    )


def sla_reply(all_priorities: list[Targets]) -> str:
    lines = ["*SLA targets* (first response · next response · resolution)"]
    lines += [_line(targets) for targets in all_priorities]
    lines.append(escape("Change one with `/ticket sla set <priority> first_response=2h ...`"))
    return "\n".join(lines)


def _line(targets: Targets) -> str:
    clock = "business hours" if targets.business_hours else "around the clock"
    warn = f"warn at {round(targets.warn_fraction * 100)}%"
    return (
        f"• *{targets.priority.value}*: {_show(targets.first_response)} · "
        f"{_show(targets.next_response)} · {_show(targets.resolution)} ({clock}, {warn})"
    )


def _show(duration: timedelta | None) -> str:
    return format_duration(duration) if duration is not None else "none"


async def run_hours_command(
    *,
    session: AsyncSession,
    workspace_id: int,
    user_id: str,
    command: HoursShow | HoursSet,
    now: datetime,
) -> str:
    if isinstance(command, HoursShow):
        if await get_role(session=session, workspace_id=workspace_id, user_id=user_id) is None:
            raise NotAllowed("Sorry, only the support team can see the business hours.")
        hours = await describe_business_hours(session=session, workspace_id=workspace_id)
        return f"*Business hours*: {hours}"
    await require_lead(
        session=session, workspace_id=workspace_id, user_id=user_id, to="change business hours"
    )
    await set_business_hours(
        session=session,
        workspace_id=workspace_id,
        time_zone=command.time_zone,
        weekly_hours={day: [[command.opens, command.closes]] for day in command.days},
        holiday_country=command.holiday_country,
        actor_id=user_id,
        now=now,
    )
    hours = await describe_business_hours(session=session, workspace_id=workspace_id)
    return f"Business hours are now {hours}. SLA clocks started from now on count them."
