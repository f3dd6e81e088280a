"""The Home tab: opening it publishes it (and keeps it published as tickets change)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.home.notifications import home_tab_opened
from app.workspaces.models import Workspace


async def on_home_opened(
    *, session: AsyncSession, workspace: Workspace, event: dict[str, Any], now: datetime
) -> None:
    """`app_home_opened` (already stored and deduped): the Messages tab is left alone."""
    user_id = event.get("user")
    if event.get("tab") != "home" or not user_id:
        return
    await home_tab_opened(session=session, workspace_id=workspace.id, user_id=user_id, now=now)
