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


async def installation_workspace_id(
    *, session: AsyncSession, slack_team_id: str | None
) -> int | None:
    """The workspace this installation serves: the bot's own team's, or, while the bot's team
    is not known yet (Slack unreachable at start-up), the only workspace there is."""
    if slack_team_id is not None:
        found = await find_workspace_id(session=session, slack_team_id=slack_team_id)
        if found is not None:
            return found
    ids = list(await session.scalars(select(Workspace.id).order_by(Workspace.id).limit(2)))
    return ids[0] if len(ids) == 1 else None
