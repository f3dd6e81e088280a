"""A workspace that removed ticketbot: what it is still owed in Slack can never be sent."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.outbox.enums import OutboxKind
from app.outbox.service import fail_waiting
from app.workspaces.installations import delete_installation


async def app_removed(
    *, session: AsyncSession, workspace_id: int, reason: str, now: datetime
) -> int:
    """Forget the workspace's bot token and fail its waiting Slack calls with `reason`; its
    tickets, settings and webhooks stay (a re-install finds them). Returns the calls failed."""
    await delete_installation(session=session, workspace_id=workspace_id)
    return await fail_waiting(
        session=session,
        workspace_id=workspace_id,
        kind=OutboxKind.SLACK_API,
        reason=f"not sent: {reason} ({now.isoformat(timespec='seconds')})",
    )
