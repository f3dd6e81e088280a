"""A workspace that installed ticketbot (its installer is told what to do next), or removed
it (what it is still owed in Slack can never be sent)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.outbox.enums import OutboxKind
from app.outbox.service import enqueue_slack_call, fail_waiting
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


# The steps that make an install useful, in the order an admin takes them; every command named
# here is one ticketbot has (its `/ticket help` lists them all).
WELCOME_TEXT = (
    ":wave: Thanks for installing ticketbot. You lead this workspace's support team. Three"
    " steps to your first ticket:\n"
    "1. Invite me to a channel where customers ask for help (`/invite @ticketbot`) and run"
    " `/ticket watch` there: each new question in it becomes a ticket.\n"
    "2. Choose where the triage cards go: `/ticket watch #support-triage`, run in that support"
    " channel (invite me there too).\n"
    "3. Add your team: `/ticket team add @someone agent` (or `lead`).\n"
    "`/ticket help` lists everything else."
)


async def welcome_installer(
    *, session: AsyncSession, workspace_id: int, installer_user_id: str, now: datetime
) -> None:
    """A direct message (the app's Messages tab) to the person who installed ticketbot, with
    what to do next, so the install does not end on a page that says nothing more."""
    await enqueue_slack_call(
        session=session,
        method="chat.postMessage",
        payload={"channel": installer_user_id, "text": WELCOME_TEXT},
        now=now,
        workspace_id=workspace_id,
    )
