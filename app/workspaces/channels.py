"""Watched channels: where customer messages become tickets, and where their triage cards go."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.workspaces.models import WatchedChannel


async def get_watched_channel(
    *, session: AsyncSession, workspace_id: int, channel_id: str
) -> WatchedChannel | None:
    """The channel's watch settings, or None if it is not (or no longer) watched."""
    return await session.scalar(
        select(WatchedChannel).where(
            WatchedChannel.workspace_id == workspace_id,
            WatchedChannel.slack_channel_id == channel_id,
            WatchedChannel.unwatched_at.is_(None),
        )
    )
