"""The customer's answer to "May we quote you?", and a later withdrawal. Only they may answer;
anyone else is told so, in a message only they see."""

from __future__ import annotations

import re
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext

from app.accounts import testimonials
from app.errors import DomainError, InvalidInput
from app.slack.blocks.testimonial_prompt import consent_from_action_id
from app.slack.ids import ActionId
from app.slack.interaction import acting, tell_refusal
from app.slack.values import first_action, survey_id_of

_ANSWER = re.compile(rf"^{ActionId.QUOTE_PREFIX}[a-z]+$")


async def answer(ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext) -> None:
    consent = consent_from_action_id(str(first_action(body).get("action_id", "")))
    testimonial_id = survey_id_of(body)  # the button's value is the testimonial's id
    try:
        if consent is None or testimonial_id is None:
            raise InvalidInput("That button no longer points at a quote.")
        async with acting(context, body) as it:
            found = await testimonials.get_testimonial(
                session=it.session,
                testimonial_id=testimonial_id,
                workspace_id=it.workspace_id,
                for_update=True,
            )
            await testimonials.answer(
                session=it.session,
                testimonial=found,
                user_id=it.user_id,
                consent=consent,
                now=it.now,
            )
    except DomainError as exc:
        await tell_refusal(context, body, exc)
    await ack()


def register(app: AsyncApp) -> None:
    app.action(_ANSWER)(answer)
