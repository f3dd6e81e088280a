"""Workspaces: created on first contact, kept up to date with what Slack says about them."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.workspaces.models import Workspace


async def ensure_workspace(
    *,
    session: AsyncSession,
    slack_team_id: str,
    name: str | None = None,
    domain: str | None = None,
    bot_user_id: str | None = None,
    default_triage_channel_id: str | None = None,
) -> Workspace:
    """The workspace row for a Slack team, created if this is the first we hear of it."""
    workspace = await session.scalar(
        select(Workspace).where(Workspace.slack_team_id == slack_team_id)
    )
    if workspace is None:
        workspace = Workspace(
            slack_team_id=slack_team_id,
            name=name or "",
            domain=domain,
            bot_user_id=bot_user_id,
            triage_channel_id=default_triage_channel_id,
            next_ticket_number=1,
        )
        session.add(workspace)
        await session.flush()
        return workspace
    if name and workspace.name != name:
        workspace.name = name
    if domain and workspace.domain != domain:
        workspace.domain = domain
    if bot_user_id and workspace.bot_user_id != bot_user_id:
        workspace.bot_user_id = bot_user_id
    if default_triage_channel_id and not workspace.triage_channel_id:
        workspace.triage_channel_id = default_triage_channel_id
    return workspace


async def find_workspace_id(*, session: AsyncSession, slack_team_id: str) -> int | None:
    return await session.scalar(
        select(Workspace.id).where(Workspace.slack_team_id == slack_team_id)
    )
