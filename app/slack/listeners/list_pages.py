"""Previous / Next on a `/ticket list` reply: the page is redrawn in place through the
response_url (the list is a view of the moment, not a message we owe: if Slack does not take
it, the user clicks again)."""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_bolt.context.async_context import AsyncBoltContext

from app.errors import DomainError
from app.slack.blocks.ticket_list import query_from_value
from app.slack.ids import ActionId
from app.slack.interaction import acting
from app.slack.replies import explain
from app.slack.ticket_lists import list_page
from app.slack.values import first_action

logger = logging.getLogger(__name__)

_PAGE = re.compile(rf"^{ActionId.TICKET_LIST_PAGE}_(next|previous)$")


async def turn_page(
    ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond, context: AsyncBoltContext
) -> None:
    await ack()
    query = query_from_value(first_action(body).get("value"))
    if query is None:
        await respond(text="That list is out of date: run `/ticket list` again.")
        return
    try:
        async with acting(context, body, write=False) as it:
            reply = await list_page(
                session=it.session, workspace_id=it.workspace_id, user_id=it.user_id, query=query
            )
    except DomainError as exc:
        await respond(text=explain(exc), replace_original=False)
        return
    await respond(text=reply.text, blocks=reply.blocks, replace_original=True)


def register(app: AsyncApp) -> None:
    app.action(_PAGE)(turn_page)
