"""Keeping the support agents user group (SUPPORT_AGENTS_USERGROUP_ID) and the team in step.

Members of the group are agents. The sync adds those who are not on the team yet, and removes
the members it added itself (`added_by="usergroup:<id>"`) once they leave the group. People a
lead added, and the SUPPORT_LEADS, are never touched. Reading the group from Slack is the
caller's business: this module only applies a list of user ids to the database.

Several replicas may sync at once: inserts skip rows that already exist and deletes are
idempotent, so the outcome is the same as one sync.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass, field

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import InvalidInput
from app.team.enums import Role
from app.team.models import TeamMember
from app.team.service import USERGROUP_SOURCE_PREFIX, usergroup_source

audit = logging.getLogger("ticketbot.audit")


@dataclass(frozen=True)
class UsergroupSyncResult:
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.removed)


async def sync_usergroup_members(
    *,
    session: AsyncSession,
    workspace_id: int,
    usergroup_id: str,
    member_ids: Collection[str],
) -> UsergroupSyncResult:
    """Make the team match the user group's current members (see the module docstring).

    Members the sync added for another group id (the setting changed) count as the sync's
    own: they are taken over when still in the group, removed otherwise.
    """
    if not usergroup_id:
        raise InvalidInput("a user group id is needed")
    source = usergroup_source(usergroup_id)
    wanted = set(member_ids)
    rows = (
        await session.execute(
            select(TeamMember.slack_user_id, TeamMember.added_by).where(
                TeamMember.workspace_id == workspace_id
            )
        )
    ).all()
    on_team = {user_id for user_id, _ in rows}
    synced = {
        user_id: added_by
        for user_id, added_by in rows
        if (added_by or "").startswith(USERGROUP_SOURCE_PREFIX)
    }

    gone = sorted(set(synced) - wanted)
    if gone:
        await session.execute(
            delete(TeamMember).where(
                TeamMember.workspace_id == workspace_id,
                TeamMember.slack_user_id.in_(gone),
                TeamMember.added_by.startswith(USERGROUP_SOURCE_PREFIX, autoescape=True),
            )
        )
    taken_over = sorted(
        user_id for user_id, added_by in synced.items() if added_by != source and user_id in wanted
    )
    if taken_over:
        await session.execute(
            update(TeamMember)
            .where(
                TeamMember.workspace_id == workspace_id,
                TeamMember.slack_user_id.in_(taken_over),
                TeamMember.added_by.startswith(USERGROUP_SOURCE_PREFIX, autoescape=True),
            )
            .values(added_by=source)
        )
    added = sorted(wanted - on_team)
    inserted: list[str] = []
    if added:
        insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        statement = (
            insert(TeamMember)
            .values(
                [
                    {
                        "workspace_id": workspace_id,
                        "slack_user_id": user_id,
                        "role": Role.AGENT,
                        "added_by": source,
                    }
                    for user_id in added
                ]
            )
            .on_conflict_do_nothing(
                index_elements=[TeamMember.workspace_id, TeamMember.slack_user_id]
            )
            .returning(TeamMember.slack_user_id)
        )
        inserted = sorted((await session.execute(statement)).scalars())
    await session.flush()

    for user_id in inserted:
        audit.info(
            "team: user group %s made %s an agent in workspace %s",
            usergroup_id,
            user_id,
            workspace_id,
        )
    for user_id in gone:
        audit.info(
            "team: %s left user group %s; removed from workspace %s",
            user_id,
            usergroup_id,
            workspace_id,
        )
    return UsergroupSyncResult(added=inserted, removed=gone)
