"""`/ticket sla` (the team sees the targets), `/ticket sla set` (leads change them),
`/ticket hours` and `/ticket hours set` (business hours). Who may run which is in the table
(app/slack/ticket_command/specs.py)."""

from __future__ import annotations

from datetime import timedelta

from app.sla.durations import format_duration
from app.sla.policies import (
    Targets,
    all_targets,
    describe_business_hours,
    set_business_hours,
    set_targets,
)
from app.slack.ticket_command.call import Call
from app.slack.ticket_command.grammar import HoursSet, HoursShow, SlaSet, SlaShow
from app.text_safety import escape


async def show_sla(call: Call, command: SlaShow) -> str:
    return sla_reply(await all_targets(session=call.session, workspace_id=call.workspace_id))


async def set_sla(call: Call, command: SlaSet) -> str:
    targets = await set_targets(
        session=call.session,
        workspace_id=call.workspace_id,
        priority=command.priority,
        actor_id=call.user_id,
        now=call.now,
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


async def show_hours(call: Call, command: HoursShow) -> str:
    hours = await describe_business_hours(session=call.session, workspace_id=call.workspace_id)
    return f"*Business hours*: {hours}"


async def set_hours(call: Call, command: HoursSet) -> str:
    await set_business_hours(
        session=call.session,
        workspace_id=call.workspace_id,
        time_zone=command.time_zone,
        weekly_hours={day: [[command.opens, command.closes]] for day in command.days},
        holiday_country=command.holiday_country,
        actor_id=call.user_id,
        now=call.now,
    )
    hours = await describe_business_hours(session=call.session, workspace_id=call.workspace_id)
    return f"Business hours are now {hours}. SLA clocks started from now on count them."
