"""Team membership: who is a lead or an agent in a workspace.

Leads run the team: only they add and remove members, and watch channels. Every change is
written to the audit log (`ticketbot.audit`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import NotAllowed, NotFound
from app.team.enums import Role
from app.team.models import TeamMember

audit = logging.getLogger("ticketbot.audit")

USERGROUP_SOURCE_PREFIX = "usergroup:"
"""`added_by` of members the user group sync added (`usergroup:S123`); the sync owns only those."""


def usergroup_source(usergroup_id: str) -> str:
    return f"{USERGROUP_SOURCE_PREFIX}{usergroup_id}"


def is_from_usergroup(member: TeamMember) -> bool:
    return (member.added_by or "").startswith(USERGROUP_SOURCE_PREFIX)


@dataclass(frozen=True)
class MembershipChange:
    """A member after `add_member`, and the role they had before (None: they were not one)."""

    member: TeamMember
    previous_role: Role | None
    was_from_usergroup: bool = False


async def bootstrap_leads(
    *, session: AsyncSession, workspace_id: int, lead_user_ids: Iterable[str]
) -> list[str]:
    """Make the configured SUPPORT_LEADS leads. Returns the ids that were newly added.

    Existing members keep the role they were given in Slack; this only fills in the missing.
    """
    wanted = list(dict.fromkeys(lead_user_ids))
    if not wanted:
        return []
    existing = set(
        await session.scalars(
            select(TeamMember.slack_user_id).where(
                TeamMember.workspace_id == workspace_id, TeamMember.slack_user_id.in_(wanted)
            )
        )
    )
    added = [user_id for user_id in wanted if user_id not in existing]
    for user_id in added:
        session.add(
            TeamMember(
                workspace_id=workspace_id,
                slack_user_id=user_id,
                role=Role.LEAD,
                added_by="SUPPORT_LEADS",
            )
        )
    await session.flush()
    for user_id in added:
        audit.info("team: SUPPORT_LEADS made %s a lead in workspace %s", user_id, workspace_id)
    return added


# Asked on every message, click and command: built once, run with parameters (building a
# statement costs more CPU than running it).
_ROLE = select(TeamMember.role).where(
    TeamMember.workspace_id == bindparam("workspace_id"),
    TeamMember.slack_user_id == bindparam("user_id"),
)


async def get_role(*, session: AsyncSession, workspace_id: int, user_id: str) -> Role | None:
    """The user's role in the workspace's support team; None means a customer."""
    return await session.scalar(_ROLE, {"workspace_id": workspace_id, "user_id": user_id})


async def require_lead(*, session: AsyncSession, workspace_id: int, user_id: str, to: str) -> None:
    """Raise NotAllowed unless the user is a lead; `to` finishes "Only support leads can …"."""
    role = await get_role(session=session, workspace_id=workspace_id, user_id=user_id)
    if role != Role.LEAD:
        raise NotAllowed(f"Sorry, only support leads can {to}.")


async def list_members(
    *, session: AsyncSession, workspace_id: int, actor_id: str
) -> list[TeamMember]:
    """The team, leads first, then by Slack user id. Leads only."""
    await require_lead(
        session=session, workspace_id=workspace_id, user_id=actor_id, to="see the support team"
    )
    members = await session.scalars(
        select(TeamMember).where(TeamMember.workspace_id == workspace_id)
    )
    return sorted(members, key=lambda m: (m.role != Role.LEAD, m.slack_user_id))


async def add_member(
    *, session: AsyncSession, workspace_id: int, user_id: str, role: Role, actor_id: str
) -> MembershipChange:
    """Add someone to the team, or change their role. Leads only.

    A member added here belongs to the leads from then on: the user group sync never removes
    them, even if they were first added by it.
    """
    await require_lead(
        session=session, workspace_id=workspace_id, user_id=actor_id, to="change the team"
    )
    member = await _find_member(session=session, workspace_id=workspace_id, user_id=user_id)
    if member is None:
        member = TeamMember(
            workspace_id=workspace_id, slack_user_id=user_id, role=role, added_by=actor_id
        )
        session.add(member)
        await session.flush()
        audit.info("team: %s added %s as %s in workspace %s", actor_id, user_id, role, workspace_id)
        return MembershipChange(member=member, previous_role=None)
    previous_role = member.role
    if previous_role == role and not is_from_usergroup(member):
        return MembershipChange(member=member, previous_role=previous_role)
    if previous_role == Role.LEAD and role != Role.LEAD:
        await _keep_a_lead(session=session, workspace_id=workspace_id, leaving=member)
    previous_source = member.added_by
    was_from_usergroup = is_from_usergroup(member)
    member.role = role
    member.added_by = actor_id
    await session.flush()
    audit.info(
        "team: %s changed %s from %s (added by %s) to %s in workspace %s",
        actor_id,
        user_id,
        previous_role,
        previous_source,
        role,
        workspace_id,
    )
    return MembershipChange(
        member=member, previous_role=previous_role, was_from_usergroup=was_from_usergroup
    )


async def remove_member(
    *, session: AsyncSession, workspace_id: int, user_id: str, actor_id: str
) -> TeamMember:
    """Take someone off the team; returns the row as it was. Leads only.

    The last lead cannot be removed, so the team never locks itself out.
    """
    await require_lead(
        session=session, workspace_id=workspace_id, user_id=actor_id, to="change the team"
    )
    member = await _find_member(session=session, workspace_id=workspace_id, user_id=user_id)
    if member is None:
        raise NotFound(
            "{user} is not on the support team.", code="not_on_team", people={"user": user_id}
        )
    if member.role == Role.LEAD:
        await _keep_a_lead(session=session, workspace_id=workspace_id, leaving=member)
    await session.delete(member)
    await session.flush()
    audit.info(
        "team: %s removed %s (%s, added by %s) from workspace %s",
        actor_id,
        user_id,
        member.role,
        member.added_by,
        workspace_id,
    )
    return member


async def _find_member(
    *, session: AsyncSession, workspace_id: int, user_id: str
) -> TeamMember | None:
    return await session.scalar(
        select(TeamMember).where(
            TeamMember.workspace_id == workspace_id, TeamMember.slack_user_id == user_id
        )
    )


async def _keep_a_lead(*, session: AsyncSession, workspace_id: int, leaving: TeamMember) -> None:
    other_leads = await session.scalar(
        select(func.count())
        .select_from(TeamMember)
        .where(
            TeamMember.workspace_id == workspace_id,
            TeamMember.role == Role.LEAD,
            TeamMember.id != leaving.id,
        )
    )
    if not other_leads:
        raise NotAllowed(
            "{user} is the only support lead; make someone else a lead first.",
            code="last_lead",
            people={"user": leaving.slack_user_id},
        )
