"""Previous / Next on a `/ticket list` reply: the page is redrawn in place through the
response_url (the list is a view of the moment, not a message we owe: if Slack does not take
it, the user clicks again)."""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond

from app.errors import DomainError
from app.slack.blocks.ticket_list import query_from_value
from app.slack.context import SlackContext
from app.slack.ids import ActionId
from app.slack.installation import actor_of
from app.slack.listeners.ticket_commands import list_page
from app.slack.replies import explain

logger = logging.getLogger(__name__)

_PAGE = re.compile(rf"^{ActionId.TICKET_LIST_PAGE}_(next|previous)$")


def register(app: AsyncApp, ctx: SlackContext) -> None:
    @app.action(_PAGE)
    async def on_page(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        action = (body.get("actions") or [{}])[0]
        query = query_from_value(action.get("value"))
        user_id = actor_of(body).user_id
        if query is None or not user_id:
            await respond(text="That list is out of date: run `/ticket list` again.")
            return
        try:
            async with ctx.session_factory() as session:
                workspace_id = await ctx.require_workspace_id(session=session, body=body)
                reply = await list_page(
                    session=session, workspace_id=workspace_id, user_id=user_id, query=query
                )
        except DomainError as exc:
            await respond(text=explain(exc), replace_original=False)
            return
        await respond(text=reply.text, blocks=reply.blocks, replace_original=True)
