"""The requester's taps on the CSAT prompt, and the comment modal.

A tap is one transaction through app/csat/surveys.py, acknowledged after the commit; the prompt
then redraws itself from the outbox. Anyone but the requester, or a tap on a closed survey, gets
an ephemeral answer instead.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from app.csat.surveys import check_may_comment, get_survey
from app.errors import DomainError, InvalidInput
from app.flows import feedback
from app.slack.blocks.csat_prompt import comment_modal, rating_from_action_id
from app.slack.ids import ActionId, BlockId, CallbackId
from app.slack.interaction import acting, open_form_now, tell_refusal
from app.slack.replies import explain
from app.slack.values import first_action, json_int, state_value, survey_id_of, view_of
from app.tickets.models import Ticket

logger = logging.getLogger(__name__)

_RATE = re.compile(rf"^{ActionId.CSAT_RATE_PREFIX}[1-5]$")


async def rate_resolution(ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext) -> None:
    rating = rating_from_action_id(str(first_action(body).get("action_id", "")))
    survey_id = survey_id_of(body)
    try:
        if rating is None or survey_id is None:
            raise InvalidInput("That button no longer points at a survey.")
        async with acting(context, body) as it:
            survey = await get_survey(
                session=it.session,
                survey_id=survey_id,
                workspace_id=it.workspace_id,
                for_update=True,
            )
            await feedback.rate_resolution(
                session=it.session, survey=survey, user_id=it.user_id, rating=rating, now=it.now
            )
    except DomainError as exc:
        logger.info("rating refused: %s", type(exc).__name__)
        await tell_refusal(context, body, exc)
    await ack()


async def open_comment_box(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    await ack()
    survey_id = survey_id_of(body)
    try:
        if survey_id is None:
            raise InvalidInput("That button no longer points at a survey.")
        async with acting(context, body, write=False) as it:
            survey = await get_survey(
                session=it.session, survey_id=survey_id, workspace_id=it.workspace_id
            )
            check_may_comment(survey, it.user_id)
            ticket = await it.session.get(Ticket, survey.ticket_id)
            modal = comment_modal(
                survey_id=survey.id,
                ticket_number=ticket.display_number if ticket else "your ticket",
                rating=survey.rating or 0,
            )
    except DomainError as exc:
        await tell_refusal(context, body, exc)
        return
    await open_form_now(client, context, body, modal, what="a CSAT comment")


async def save_comment(ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext) -> None:
    view = view_of(body)
    survey_id = json_int(view.get("private_metadata"), "survey_id")
    comment = state_value(view, BlockId.CSAT_COMMENT, ActionId.CSAT_COMMENT_INPUT, "value")
    try:
        if survey_id is None:
            raise InvalidInput("This form no longer points at a survey.")
        async with acting(context, body) as it:
            survey = await get_survey(
                session=it.session,
                survey_id=survey_id,
                workspace_id=it.workspace_id,
                for_update=True,
            )
            await feedback.comment_on_resolution(
                session=it.session,
                survey=survey,
                user_id=it.user_id,
                comment=str(comment or ""),
                now=it.now,
            )
    except DomainError as exc:
        await ack(response_action="errors", errors={BlockId.CSAT_COMMENT: explain(exc)})
        return
    await ack()


def register(app: AsyncApp) -> None:
    app.action(_RATE)(rate_resolution)
    app.action(ActionId.CSAT_ADD_COMMENT)(open_comment_box)
    app.view(CallbackId.CSAT_COMMENT)(save_comment)
