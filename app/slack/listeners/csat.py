"""The requester's taps on the CSAT prompt, and the comment modal.

A tap is one transaction through app/csat/surveys.py, acknowledged after the commit; the prompt
then redraws itself from the outbox. Anyone but the requester, or a tap on a closed survey, gets
an ephemeral answer instead.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from app.csat.surveys import add_comment, check_may_comment, get_survey, rate
from app.errors import DomainError, InvalidInput
from app.slack.blocks.csat_prompt import comment_modal, rating_from_action_id
from app.slack.context import SlackContext
from app.slack.ids import ActionId, BlockId, CallbackId
from app.slack.installation import actor_of
from app.slack.listeners.actions import int_or_none, tell_clicker
from app.slack.replies import explain
from app.tickets.models import Ticket

logger = logging.getLogger(__name__)

_RATE = re.compile(rf"^{ActionId.CSAT_RATE_PREFIX}[1-5]$")


def register(app: AsyncApp, ctx: SlackContext) -> None:
    @app.action(_RATE)
    async def on_rate(ack: AsyncAck, body: dict[str, Any]) -> None:
        action = (body.get("actions") or [{}])[0]
        rating = rating_from_action_id(str(action.get("action_id", "")))
        survey_id = int_or_none(action.get("value"))
        user_id = actor_of(body).user_id
        now = ctx.clock.now()
        try:
            if rating is None or survey_id is None or not user_id:
                raise InvalidInput("That button no longer points at a survey.")
            async with ctx.session_factory() as session, session.begin():
                workspace_id = await ctx.require_workspace_id(session=session, body=body)
                survey = await get_survey(
                    session=session, survey_id=survey_id, workspace_id=workspace_id, for_update=True
                )
                await rate(session=session, survey=survey, user_id=user_id, rating=rating, now=now)
        except DomainError as exc:
            logger.info("rating refused for %s: %s", user_id, type(exc).__name__)
            await tell_clicker(ctx, body, explain(exc), now)
        await ack()

    @app.action(ActionId.CSAT_ADD_COMMENT)
    async def on_add_comment(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        action = (body.get("actions") or [{}])[0]
        survey_id = int_or_none(action.get("value"))
        user_id = actor_of(body).user_id
        now = ctx.clock.now()
        await ack()
        try:
            if survey_id is None or not user_id:
                raise InvalidInput("That button no longer points at a survey.")
            async with ctx.session_factory() as session:
                workspace_id = await ctx.require_workspace_id(session=session, body=body)
                survey = await get_survey(
                    session=session, survey_id=survey_id, workspace_id=workspace_id
                )
                check_may_comment(survey, user_id)
                ticket = await session.get(Ticket, survey.ticket_id)
                modal = comment_modal(
                    survey_id=survey.id,
                    ticket_number=ticket.display_number if ticket else "your ticket",
                    rating=survey.rating or 0,
                )
        except DomainError as exc:
            await tell_clicker(ctx, body, explain(exc), now)
            return
        # The trigger id expires 3 s after the click, so the modal opens now, not via the
        # outbox; if Slack refuses, the requester is told to tap again.
        try:
            await client.views_open(trigger_id=body.get("trigger_id", ""), view=modal)
        except SlackApiError as exc:
            logger.warning("views.open for a CSAT comment failed: %s", exc.response.get("error"))
            await tell_clicker(
                ctx, body, "Sorry, the comment box did not open. Please tap the button again.", now
            )

    @app.view(CallbackId.CSAT_COMMENT)
    async def on_comment(ack: AsyncAck, body: dict[str, Any]) -> None:
        view = body.get("view") or {}
        survey_id = _survey_id_from_metadata(view.get("private_metadata"))
        comment = _comment_from_state(view)
        user_id = actor_of(body).user_id
        try:
            if survey_id is None or not user_id:
                raise InvalidInput("This form no longer points at a survey.")
            async with ctx.session_factory() as session, session.begin():
                workspace_id = await ctx.require_workspace_id(session=session, body=body)
                survey = await get_survey(
                    session=session, survey_id=survey_id, workspace_id=workspace_id, for_update=True
                )
                await add_comment(
                    session=session,
                    survey=survey,
                    user_id=user_id,
                    comment=comment,
                    now=ctx.clock.now(),
                )
        except DomainError as exc:
            await ack(response_action="errors", errors={BlockId.CSAT_COMMENT: explain(exc)})
            return
        await ack()


def _survey_id_from_metadata(metadata: object) -> int | None:
    try:
        decoded = json.loads(metadata) if isinstance(metadata, str) else None
    except ValueError:
        return None
    return int_or_none(decoded.get("survey_id")) if isinstance(decoded, dict) else None


def _comment_from_state(view: dict[str, Any]) -> str:
    values = ((view.get("state") or {}).get("values") or {}).get(BlockId.CSAT_COMMENT) or {}
    field = values.get(ActionId.CSAT_COMMENT_INPUT) or {}
    return str(field.get("value") or "")
