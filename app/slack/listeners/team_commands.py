"""`/ticket team`, `team add` and `team remove`: who is on the support team, and as what."""

from __future__ import annotations

from app.slack.ticket_command.call import Call
from app.slack.ticket_command.grammar import TeamAdd, TeamList, TeamRemove
from app.team import service as team
from app.team.enums import Role
from app.team.models import TeamMember


async def list_team(call: Call, command: TeamList) -> str:
    members = await team.list_members(
        session=call.session, workspace_id=call.workspace_id, actor_id=call.user_id
    )
    return team_list_reply(members)


async def add_to_team(call: Call, command: TeamAdd) -> str:
    change = await team.add_member(
        session=call.session,
        workspace_id=call.workspace_id,
        user_id=command.user_id,
        role=command.role,
        actor_id=call.user_id,
    )
    return team_add_reply(change)


async def remove_from_team(call: Call, command: TeamRemove) -> str:
    member = await team.remove_member(
        session=call.session,
        workspace_id=call.workspace_id,
        user_id=command.user_id,
        actor_id=call.user_id,
    )
    return team_remove_reply(member)


# -- replies (plain mrkdwn; Slack renders the <@U…> mentions) ----------------------------------


def team_list_reply(members: list[TeamMember]) -> str:
    lines = [f"*Support team* ({len(members)})"]
    for member in members:
        source = ", from the user group" if team.is_from_usergroup(member) else ""
        lines.append(f"• <@{member.slack_user_id}>: {member.role}{source}")
    return "\n".join(lines)


def team_add_reply(change: team.MembershipChange) -> str:
    member = change.member
    mention, role = f"<@{member.slack_user_id}>", member.role
    if change.previous_role is None:
        return f"Added {mention} to the support team as {_a(role)}."
    if change.previous_role == role:
        if change.was_from_usergroup:
            return f"{mention} stays {_a(role)}, now even if they leave the user group."
        return f"{mention} is already {_a(role)}."
    return f"{mention} is now {_a(role)} (was {_a(change.previous_role)})."


def team_remove_reply(member: TeamMember) -> str:
    reply = f"Removed <@{member.slack_user_id}> from the support team."
    if team.is_from_usergroup(member):
        usergroup_id = (member.added_by or "").removeprefix(team.USERGROUP_SOURCE_PREFIX)
        reply += (
            f" They came from the support user group (`{usergroup_id}`): take them out of it"
            " too, or the next sync adds them back."
        )
    return reply


def _a(role: Role) -> str:
    return f"an {role}" if role == Role.AGENT else f"a {role}"
