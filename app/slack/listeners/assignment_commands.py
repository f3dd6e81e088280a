"""`/ticket autoassign` (per channel) and `/ticket team capacity|hours` (per agent)."""

from __future__ import annotations

from app.errors import NotAllowed
from app.flows.auto_assign import describe_hours, set_capacity, set_working_hours
from app.slack.ticket_command.call import Call
from app.slack.ticket_command.grammar import AutoAssign, TeamCapacity, TeamHours
from app.team.enums import AutoAssignMode, Role
from app.workspaces.channels import set_auto_assign


async def set_channel_auto_assign(call: Call, command: AutoAssign) -> str:
    channel_id = call.channel_id
    await set_auto_assign(
        session=call.session,
        workspace_id=call.workspace_id,
        channel_id=channel_id,
        mode=command.mode,
        actor_id=call.user_id,
    )
    if command.mode is AutoAssignMode.OFF:
        return f"New tickets from <#{channel_id}> are no longer assigned automatically."
    how = "in turn" if command.mode is AutoAssignMode.ROUND_ROBIN else "to whoever has the fewest"
    return (
        f"New tickets from <#{channel_id}> now go {how} among the agents at work and below"
        " their capacity (`/ticket team capacity`, `/ticket team hours`). The assignee gets a"
        " direct message."
    )


async def set_member_capacity(call: Call, command: TeamCapacity) -> str:
    await set_capacity(
        session=call.session,
        workspace_id=call.workspace_id,
        user_id=command.user_id,
        capacity=command.capacity,
    )
    who = f"<@{command.user_id}>"
    if command.capacity is None:
        return f"{who} has no limit on open tickets from auto-assignment."
    return f"Auto-assignment gives {who} at most {command.capacity} open tickets."


async def set_member_hours(call: Call, command: TeamHours) -> str:
    """Leads set anyone's hours; agents may set their own."""
    if call.role != Role.LEAD and command.user_id != call.user_id:
        raise NotAllowed("Sorry, only support leads can change someone else's hours.")
    member = await set_working_hours(
        session=call.session,
        workspace_id=call.workspace_id,
        user_id=command.user_id,
        time_zone=command.time_zone,
        opens=command.opens,
        closes=command.closes,
        days=command.days,
    )
    hours = describe_hours(member.working_hours)
    return f"Auto-assignment picks <@{command.user_id}> during {hours}."
