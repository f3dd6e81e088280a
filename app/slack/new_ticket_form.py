"""Opening the new-ticket form (a modal, through `views.open` at once: a trigger id expires 3 s
after the click), for the shortcuts, the Home tab's button and `/ticket new`."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from app.slack.blocks.new_ticket import NewTicketForm, new_ticket_modal, refusal_modal
from app.slack.context import SlackContext
from app.slack.installation import actor_of
from app.slack.interaction import tell_clicker
from app.team.service import get_role

logger = logging.getLogger(__name__)

NOT_ON_TEAM = "Sorry, only support agents and leads can create tickets."
DID_NOT_OPEN = "Sorry, the new ticket form did not open. Please try again."


async def open_new_ticket_form(
    ctx: SlackContext,
    client: AsyncWebClient,
    *,
    body: Mapping[str, Any],
    form: NewTicketForm,
) -> None:
    """Open the form as given, or a refusal for anyone not on the team; call it after
    acknowledging the request (`body`). If Slack does not open it, the person is told in the
    channel, when there is one."""
    user_id = actor_of(body).user_id
    if not user_id:
        return
    async with ctx.session_factory() as session, session.begin():
        workspace_id = await ctx.workspace_id_for(session=session, body=body)
        role = (
            await get_role(session=session, workspace_id=workspace_id, user_id=user_id)
            if workspace_id is not None
            else None
        )
    view = new_ticket_modal(form) if role is not None else refusal_modal(NOT_ON_TEAM)
    try:
        await client.views_open(trigger_id=str(body.get("trigger_id", "")), view=view)
    except (SlackApiError, aiohttp.ClientError, TimeoutError) as exc:
        error = exc.response.get("error") if isinstance(exc, SlackApiError) else type(exc).__name__
        logger.warning("views.open for a new ticket failed: %s", error)
        if form.channel_id:
            await tell_clicker(ctx, {**body, "channel": {"id": form.channel_id}}, DID_NOT_OPEN)
