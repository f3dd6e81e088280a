"""Team membership: who is a lead or an agent in a workspace."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.team.enums import Role
from app.team.models import TeamMember


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
    return added


async def get_role(*, session: AsyncSession, workspace_id: int, user_id: str) -> Role | None:
    """The user's role in the workspace's support team; None means a customer."""
    return await session.scalar(
        select(TeamMember.role).where(
            TeamMember.workspace_id == workspace_id, TeamMember.slack_user_id == user_id
        )
    )
