"""`/ticket autoassign` (per channel) and `/ticket team capacity|hours` (per agent)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import NotAllowed
from app.flows.auto_assign import describe_hours, set_capacity, set_working_hours
from app.slack.commands import AutoAssign, TeamCapacity, TeamHours
from app.team.enums import AutoAssignMode, Role
from app.team.service import get_role
from app.workspaces.channels import set_auto_assign


async def run_auto_assign_command(
    *,
    session: AsyncSession,
    workspace_id: int,
    user_id: str,
    channel_id: str,
    command: AutoAssign,
) -> str:
    await set_auto_assign(
        session=session,
        workspace_id=workspace_id,
        channel_id=channel_id,
        mode=command.mode,
        actor_id=user_id,
    )
    if command.mode is AutoAssignMode.OFF:
        return f"New tickets from <#{channel_id}> are no longer assigned automatically."
    how = "in turn" if command.mode is AutoAssignMode.ROUND_ROBIN else "to whoever has the fewest"
    return (
        f"New tickets from <#{channel_id}> now go {how} among the agents at work and below"
        " their capacity (`/ticket team capacity`, `/ticket team hours`). The assignee gets a"
        " direct message."
    )


async def run_member_command(
    *, session: AsyncSession, workspace_id: int, user_id: str, command: TeamCapacity | TeamHours
) -> str:
    """Leads set anyone's capacity and hours; agents may set their own hours."""
    role = await get_role(session=session, workspace_id=workspace_id, user_id=user_id)
    own_hours = isinstance(command, TeamHours) and command.user_id == user_id and role is not None
    if role is not Role.LEAD and not own_hours:
        what = "capacities" if isinstance(command, TeamCapacity) else "someone else's hours"
        raise NotAllowed(f"Sorry, only support leads can change {what}.")
    who = f"<@{command.user_id}>"
    if isinstance(command, TeamCapacity):
        await set_capacity(
            session=session,
            workspace_id=workspace_id,
            user_id=command.user_id,
            capacity=command.capacity,
        )
        if command.capacity is None:
            return f"{who} has no limit on open tickets from auto-assignment."
        return f"Auto-assignment gives {who} at most {command.capacity} open tickets."
    member = await set_working_hours(
        session=session,
        workspace_id=workspace_id,
        user_id=command.user_id,
        time_zone=command.time_zone,
        opens=command.opens,
        closes=command.closes,
        days=command.days,
    )
    return f"Auto-assignment picks {who} during {describe_hours(member.working_hours)}."
