"""An in-process map of Slack team id -> workspace id, so the hot path skips a lookup.

Not authoritative (workspaces are created once and never renumbered): a miss falls back to the
database, and a process that starts empty simply fills it again.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from app.workspaces.service import ensure_workspace, find_workspace_id


class WorkspaceIds:
    def __init__(self, default_triage_channel_id: str | None = None) -> None:
        self._ids: dict[str, int] = {}
        self._default_triage_channel_id = default_triage_channel_id

    async def get(
        self,
        *,
        session: AsyncSession,
        slack_team_id: str,
        enterprise_id: str | None = None,
        is_enterprise_install: bool = False,
    ) -> int:
        """The workspace id of an installation (its key), creating the row on first contact.

        Only for installations Slack vouched for (see `ensure_workspace`)."""
        cached = self._ids.get(slack_team_id)
        if cached is not None:
            return cached
        existing = await find_workspace_id(session=session, slack_team_id=slack_team_id)
        if existing is not None:
            self._ids[slack_team_id] = existing
            return existing
        # Created in a transaction that may still roll back: not remembered until seen again.
        workspace = await ensure_workspace(
            session=session,
            slack_team_id=slack_team_id,
            default_triage_channel_id=self._default_triage_channel_id,
            enterprise_id=enterprise_id,
            is_enterprise_install=is_enterprise_install,
        )
        return workspace.id

    def forget(self, slack_team_id: str) -> None:
        self._ids.pop(slack_team_id, None)
