"""Testimonials: after a 5/5 CSAT with a comment, or an NPS of 9-10 with a reason, the customer
is asked "May we quote you?" (yes / yes, anonymously / no), in the thread or channel where
they answered; only they may answer. A quote is kept only with their consent, with the wording
they agreed to, and a withdrawn consent erases it everywhere (the API and the CSV read only
what is consented now)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.enums import CONSENTED, PROMOTER_MIN, Consent
from app.accounts.models import NpsSurvey, Testimonial
from app.csat.models import CsatSurvey
from app.errors import InvalidTransition, NotAllowed, NotFound
from app.outbox.handlers import DeliveryHandlers
from app.outbox.service import enqueue_slack_call
from app.tickets.models import Ticket
from app.webhooks.enums import WebhookEventType
from app.webhooks.events import emit, timestamp

PROMPT_VIEW = "testimonial_prompt"
PROMPT_POSTED = "testimonial.prompt_posted"
CONSENT_WORDING = (
    "May we quote your words about our support in our marketing (our website, case studies,"
    " sales material)? You can withdraw this at any time."
)


async def ask_after_csat(*, session: AsyncSession, survey: CsatSurvey, now: datetime) -> None:
    """A 5/5 with a comment: ask once (a changed comment updates a question not yet answered)."""
    if survey.rating != 5 or not survey.comment:
        return
    ticket = await session.get(Ticket, survey.ticket_id)
    await _ask(
        session,
        source="csat",
        source_id=survey.id,
        workspace_id=survey.workspace_id,
        account_id=ticket.account_id if ticket else None,
        person=survey.requester_user_id,
        quote=survey.comment,
        channel_id=survey.channel_id,
        thread_ts=survey.thread_ts,
        now=now,
    )


async def ask_after_nps(*, session: AsyncSession, survey: NpsSurvey, now: datetime) -> None:
    if survey.score is None or survey.score < PROMOTER_MIN or not survey.reason:
        return
    await _ask(
        session,
        source="nps",
        source_id=survey.id,
        workspace_id=survey.workspace_id,
        account_id=survey.account_id,
        person=survey.contact_user_id,
        quote=survey.reason,
        channel_id=survey.channel_id,
        thread_ts=survey.prompt_ts,
        now=now,
    )


async def _ask(
    session: AsyncSession,
    *,
    source: str,
    source_id: int,
    workspace_id: int,
    account_id: int | None,
    person: str,
    quote: str,
    channel_id: str,
    thread_ts: str | None,
    now: datetime,
) -> None:
    found = await session.scalar(
        select(Testimonial).where(Testimonial.source == source, Testimonial.source_id == source_id)
    )
    if found is not None:
        if found.consent is Consent.ASKED and found.quote != quote:
            found.quote = quote
            await refresh_prompt(session=session, testimonial=found, now=now)
        return
    testimonial = Testimonial(
        workspace_id=workspace_id,
        account_id=account_id,
        person_user_id=person,
        quote=quote,
        source=source,
        source_id=source_id,
        channel_id=channel_id,
        thread_ts=thread_ts,
        consent=Consent.ASKED,
        consent_wording=CONSENT_WORDING,
        asked_at=now,
    )
    session.add(testimonial)
    await session.flush()
    payload: dict[str, Any] = {"channel": channel_id, **_spec(testimonial)}
    if thread_ts:
        payload["thread_ts"] = thread_ts
    await enqueue_slack_call(
        session=session,
        method="chat.postMessage",
        payload=payload,
        now=now,
        workspace_id=workspace_id,
        on_delivered=PROMPT_POSTED,
        on_delivered_args={"testimonial_id": testimonial.id},
    )


async def get_testimonial(
    *, session: AsyncSession, testimonial_id: int, workspace_id: int, for_update: bool = False
) -> Testimonial:
    query = select(Testimonial).where(
        Testimonial.id == testimonial_id, Testimonial.workspace_id == workspace_id
    )
    found = await session.scalar(query.with_for_update() if for_update else query)
    if found is None:
        raise NotFound("That quote no longer exists.")
    return found


async def answer(
    *,
    session: AsyncSession,
    testimonial: Testimonial,
    user_id: str,
    consent: Consent,
    now: datetime,
) -> None:
    """The person's answer: named, anonymous, declined, or (once given) withdrawn."""
    if user_id != testimonial.person_user_id:
        raise NotAllowed(
            "Only {person} can answer this.", people={"person": testimonial.person_user_id}
        )
    if testimonial.consent is Consent.WITHDRAWN:
        raise InvalidTransition("You withdrew this quote; it is gone.")
    if consent is Consent.WITHDRAWN:
        if testimonial.consent not in CONSENTED:
            raise InvalidTransition("There is nothing to withdraw.")
        testimonial.consent, testimonial.withdrawn_at, testimonial.quote = consent, now, None
    elif consent in CONSENTED or consent is Consent.DECLINED:
        was = testimonial.consent
        testimonial.consent, testimonial.answered_at = consent, now
        if consent is Consent.DECLINED:
            testimonial.quote = None
        if consent in CONSENTED and was not in CONSENTED:
            await emit(
                session=session,
                workspace_id=testimonial.workspace_id,
                event_type=WebhookEventType.TESTIMONIAL_CONSENTED,
                data=lambda: {"testimonial": testimonial_data(testimonial)},
                now=now,
            )
    else:
        raise InvalidTransition("That is not an answer to this question.")
    await refresh_prompt(session=session, testimonial=testimonial, now=now)


def testimonial_data(testimonial: Testimonial) -> dict[str, Any]:
    """As the API, the CSV and webhooks show a consented quote: no name when anonymous."""
    return {
        "id": testimonial.id,
        "account_id": testimonial.account_id,
        "person": testimonial.person_user_id if testimonial.consent is Consent.NAMED else None,
        "anonymous": testimonial.consent is Consent.ANONYMOUS,
        "quote": testimonial.quote,
        "source": testimonial.source,
        "consent_wording": testimonial.consent_wording,
        "consented_at": timestamp(testimonial.answered_at),
    }


async def consented(
    *, session: AsyncSession, workspace_id: int, account_id: int | None = None
) -> list[Testimonial]:
    query = select(Testimonial).where(
        Testimonial.workspace_id == workspace_id,
        Testimonial.consent.in_(sorted(CONSENTED)),
        Testimonial.quote.is_not(None),
    )
    if account_id is not None:
        query = query.where(Testimonial.account_id == account_id)
    return list(await session.scalars(query.order_by(Testimonial.answered_at.desc())))


# -- the question in Slack -------------------------------------------------------------------


def _spec(testimonial: Testimonial) -> dict[str, object]:
    return {"$render": {"view": PROMPT_VIEW, "testimonial_id": testimonial.id}}


async def refresh_prompt(*, session: AsyncSession, testimonial: Testimonial, now: datetime) -> None:
    if not testimonial.prompt_ts:
        return  # not posted yet: the post is drawn as things stand when it goes
    await enqueue_slack_call(
        session=session,
        method="chat.update",
        payload={
            "channel": testimonial.channel_id,
            "ts": testimonial.prompt_ts,
            **_spec(testimonial),
        },
        now=now,
        workspace_id=testimonial.workspace_id,
        coalesce_key=f"testimonial_prompt:{testimonial.id}",
    )


async def prompt_posted(
    session: AsyncSession, args: dict[str, Any], result: dict[str, Any], now: datetime
) -> None:
    testimonial = await session.get(Testimonial, args["testimonial_id"], with_for_update=True)
    if testimonial is None:
        return
    testimonial.prompt_ts = result.get("ts")
    if testimonial.consent is not Consent.ASKED:
        await refresh_prompt(session=session, testimonial=testimonial, now=now)


def register_testimonial_delivery_handlers(handlers: DeliveryHandlers) -> None:
    handlers.register(PROMPT_POSTED, prompt_posted)
