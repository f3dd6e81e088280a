"""The contact's taps on the NPS question, the reason modal, and "Don't ask me again".

A tap is one transaction through app/accounts/nps.py, acknowledged after the commit; the
question then redraws itself through the outbox. Anyone but the contact, or a tap on a closed
question, gets an answer only they see."""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from app.accounts import nps
from app.errors import DomainError, InvalidInput
from app.flows.feedback import answer_nps, give_nps_reason
from app.slack.blocks.nps_prompt import reason_modal, score_from_action_id
from app.slack.ids import ActionId, BlockId, CallbackId
from app.slack.interaction import acting, open_form_now, tell_refusal
from app.slack.replies import explain
from app.slack.values import first_action, json_int, state_value, survey_id_of, view_of

logger = logging.getLogger(__name__)

_SCORE = re.compile(rf"^{ActionId.NPS_SCORE_PREFIX}(10|[0-9])$")


async def score(ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext) -> None:
    chosen = score_from_action_id(str(first_action(body).get("action_id", "")))
    survey_id = survey_id_of(body)
    try:
        if chosen is None or survey_id is None:
            raise InvalidInput("That button no longer points at a question.")
        async with acting(context, body) as it:
            survey = await nps.get_survey(
                session=it.session,
                survey_id=survey_id,
                workspace_id=it.workspace_id,
                for_update=True,
            )
            await answer_nps(
                session=it.session, survey=survey, user_id=it.user_id, score=chosen, now=it.now
            )
    except DomainError as exc:
        logger.info("NPS answer refused: %s", type(exc).__name__)
        await tell_refusal(context, body, exc)
    await ack()


async def decline(ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext) -> None:
    survey_id = survey_id_of(body)
    try:
        if survey_id is None:
            raise InvalidInput("That button no longer points at a question.")
        async with acting(context, body) as it:
            survey = await nps.get_survey(
                session=it.session,
                survey_id=survey_id,
                workspace_id=it.workspace_id,
                for_update=True,
            )
            await nps.decline(session=it.session, survey=survey, user_id=it.user_id, now=it.now)
    except DomainError as exc:
        await tell_refusal(context, body, exc)
    await ack()


async def open_reason_box(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    await ack()
    survey_id = survey_id_of(body)
    try:
        if survey_id is None:
            raise InvalidInput("That button no longer points at a question.")
        async with acting(context, body, write=False) as it:
            survey = await nps.get_survey(
                session=it.session, survey_id=survey_id, workspace_id=it.workspace_id
            )
            nps.check_may_answer(survey, it.user_id)
            modal = reason_modal(survey_id=survey.id, score=survey.score or 0)
    except DomainError as exc:
        await tell_refusal(context, body, exc)
        return
    await open_form_now(client, context, body, modal, what="an NPS reason")


async def save_reason(ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext) -> None:
    view = view_of(body)
    survey_id = json_int(view.get("private_metadata"), "survey_id")
    reason = state_value(view, BlockId.NPS_REASON, ActionId.NPS_REASON_INPUT, "value")
    try:
        if survey_id is None:
            raise InvalidInput("This form no longer points at a question.")
        async with acting(context, body) as it:
            survey = await nps.get_survey(
                session=it.session,
                survey_id=survey_id,
                workspace_id=it.workspace_id,
                for_update=True,
            )
            await give_nps_reason(
                session=it.session,
                survey=survey,
                user_id=it.user_id,
                reason=str(reason or ""),
                now=it.now,
            )
    except DomainError as exc:
        await ack(response_action="errors", errors={BlockId.NPS_REASON: explain(exc)})
        return
    await ack()


def register(app: AsyncApp) -> None:
    app.action(_SCORE)(score)
    app.action(ActionId.NPS_ADD_REASON)(open_reason_box)
    app.action(ActionId.NPS_DECLINE)(decline)
    app.view(CallbackId.NPS_REASON)(save_reason)
