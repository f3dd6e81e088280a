"""What surveys owe Slack, written to the outbox in the survey's transaction.

The prompt is a render spec (`{"$render": {"view": "csat_prompt", "survey_id": ...}}`): the
adapter draws it from the survey's state when it is sent, so a rating, a comment or the expiry
is one coalesced `chat.update` of the prompt in place.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.csat.enums import RATINGS
from app.csat.models import CsatSurvey
from app.outbox.enums import OutboxStatus
from app.outbox.handlers import DeliveryHandlers
from app.outbox.models import OutboxMessage
from app.outbox.service import enqueue_slack_call
from app.team.enums import Role
from app.team.models import TeamMember
from app.text_safety import escape, quote
from app.tickets.models import Ticket
from app.tickets.notifications import post_in_triage_thread

PROMPT_VIEW = "csat_prompt"
PROMPT_POSTED = "csat.prompt_posted"
RATING_FACES = dict(zip(RATINGS, ("😞", "🙁", "😐", "🙂", "😍"), strict=True))


def _spec(survey: CsatSurvey) -> dict[str, object]:
    return {"$render": {"view": PROMPT_VIEW, "survey_id": survey.id}}


def _post_key(survey: CsatSurvey) -> str:
    return f"csat_prompt_post:{survey.id}"


async def post_prompt(*, session: AsyncSession, survey: CsatSurvey, now: datetime) -> None:
    """Ask in the customer's thread; the prompt's ts comes back to the survey."""
    await enqueue_slack_call(
        session=session,
        method="chat.postMessage",
        payload={"channel": survey.channel_id, "thread_ts": survey.thread_ts, **_spec(survey)},
        now=now,
        workspace_id=survey.workspace_id,
        on_delivered=PROMPT_POSTED,
        on_delivered_args={"survey_id": survey.id},
        coalesce_key=_post_key(survey),
        coalesce=False,
    )


async def refresh_prompt(*, session: AsyncSession, survey: CsatSurvey, now: datetime) -> None:
    """Redraw the prompt in place. The survey row must be locked by the caller: the delivery of
    the prompt's post (which records its ts) then cannot commit between the two reads below."""
    options: dict[str, object] = {}
    payload: dict[str, object] = {"channel": survey.channel_id, **_spec(survey)}
    if survey.prompt_ts:
        payload["ts"] = survey.prompt_ts
    else:
        post = await session.scalar(
            select(OutboxMessage).where(
                OutboxMessage.coalesce_key == _post_key(survey),
                OutboxMessage.status == OutboxStatus.PENDING,
            )
        )
        if post is None:
            return  # the prompt was never posted (Slack refused it): nothing to redraw
        options = {"depends_on": post, "payload_from_dependency": {"ts": "ts"}}
    await enqueue_slack_call(
        session=session,
        method="chat.update",
        payload=payload,
        now=now,
        workspace_id=survey.workspace_id,
        coalesce_key=f"csat_prompt:{survey.id}",
        **options,
    )


async def post_reminder(*, session: AsyncSession, survey: CsatSurvey, now: datetime) -> None:
    await enqueue_slack_call(
        session=session,
        method="chat.postMessage",
        payload={
            "channel": survey.channel_id,
            "thread_ts": survey.thread_ts,
            "text": (
                f"<@{survey.requester_user_id}> a quick reminder: how did we do? Tap a face in"
                " the message above; it takes a second and helps the team."
            ),
        },
        now=now,
        workspace_id=survey.workspace_id,
        flush=False,
    )


async def alert_low_rating(
    *, session: AsyncSession, survey: CsatSurvey, ticket: Ticket, now: datetime
) -> None:
    """A 1 or 2: tell the team under the triage card, so a lead follows up."""
    leads = (
        await session.scalars(
            select(TeamMember.slack_user_id)
            .where(TeamMember.workspace_id == ticket.workspace_id, TeamMember.role == Role.LEAD)
            .order_by(TeamMember.slack_user_id)
        )
    ).all()
    people = [survey.assignee_user_id] if survey.assignee_user_id else []
    people += [lead for lead in leads if lead not in people]
    text = (
        f":small_red_triangle_down: <@{survey.requester_user_id}> rated *{ticket.display_number}*"
        f" {RATING_FACES[survey.rating or 1]} *{survey.rating}/5*. A lead should follow up."
    )
    if people:
        text += " " + " ".join(f"<@{user}>" for user in people)
    await post_in_triage_thread(session=session, ticket=ticket, text=text, now=now)


async def share_comment(
    *, session: AsyncSession, survey: CsatSurvey, ticket: Ticket, now: datetime
) -> None:
    quoted = quote(escape(survey.comment or ""))  # typed in a form: plain text
    text = (
        f":speech_balloon: <@{survey.requester_user_id}> commented on their rating of"
        f" *{ticket.display_number}* ({survey.rating}/5):\n{quoted}"
    )
    await post_in_triage_thread(session=session, ticket=ticket, text=text, now=now)


async def prompt_posted(
    session: AsyncSession, args: dict[str, Any], result: dict[str, Any], now: datetime
) -> None:
    """Remember the prompt's ts, so a rating or the expiry edits it in place."""
    survey = await session.get(CsatSurvey, args["survey_id"])
    if survey is not None:
        survey.prompt_ts = result.get("ts")


def register_csat_delivery_handlers(handlers: DeliveryHandlers) -> None:
    handlers.register(PROMPT_POSTED, prompt_posted)
