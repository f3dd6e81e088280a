"""Events API listener. One listener takes every event (Bolt runs only the first match, and an
unhandled event is answered 404, which Slack retries), stores it, and hands it on by type.

The work happens before Bolt answers (`process_before_response=True`): when Slack gets its 200,
the event and its effects are committed. A failure answers 500 and Slack retries.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest

from app.inbox.service import record_event
from app.slack.context import SlackContext

logger = logging.getLogger(__name__)


def register(app: AsyncApp, ctx: SlackContext) -> None:
    @app.event(re.compile(".*"))
    async def on_event(body: dict[str, Any], request: AsyncBoltRequest) -> None:
        await handle_event(ctx, body, retry_num=_retry_num(request))


async def handle_event(ctx: SlackContext, envelope: dict[str, Any], *, retry_num: int) -> None:
    now = ctx.clock.now()
    async with ctx.session_factory() as session, session.begin():
        fresh = await record_event(session=session, envelope=envelope, retry_num=retry_num, now=now)
        if not fresh:
            ctx.metrics.slack_duplicates.inc()
            logger.info("skipping retried event %s", envelope.get("event_id"))
            return
        team_id = envelope.get("team_id")
        if team_id:
            await ctx.workspace_ids.get(session=session, slack_team_id=team_id)


def _retry_num(request: AsyncBoltRequest) -> int:
    values = request.headers.get("x-slack-retry-num") or []
    try:
        return int(values[0]) if values else 0
    except ValueError:
        return 0
