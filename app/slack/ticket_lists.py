"""Pages of `/ticket list`, for the command and for its Previous / Next buttons."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import NotAllowed
from app.slack.blocks.ticket_list import ticket_list
from app.slack.replies import Reply
from app.team.service import get_role
from app.tickets.triage_list import TriageQuery, triage_page


async def list_page(
    *, session: AsyncSession, workspace_id: int, user_id: str, query: TriageQuery
) -> Reply:
    """A page of `/ticket list`, for its Previous / Next buttons: only for the support team."""
    if await get_role(session=session, workspace_id=workspace_id, user_id=user_id) is None:
        raise NotAllowed(
            "Sorry, only the support team can list tickets. You can `/ticket show` the tickets"
            " you asked about."
        )
    return await render_page(
        session=session, workspace_id=workspace_id, user_id=user_id, query=query
    )


async def render_page(
    *, session: AsyncSession, workspace_id: int, user_id: str, query: TriageQuery
) -> Reply:
    page = await triage_page(
        session=session, workspace_id=workspace_id, query=query, viewer_id=user_id
    )
    rendered = ticket_list(page)
    return Reply(text=rendered["text"], blocks=rendered["blocks"])
