"""A survey's life: scheduled when a ticket is resolved, prompted after the delay (unless the
ticket reopened first), reminded once, rated and re-rated by the requester only, closed at expiry.

Each step is one transaction: the survey row, the audit event, the timers and the Slack messages
(outbox rows) change together, so a prompt, a reminder or an alert is sent once, on any replica.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.csat import notifications
from app.csat.enums import LOW_RATING_MAX, RATINGS, SurveyStatus
from app.csat.models import CsatSurvey
from app.csat.preferences import delay_of, opted_out_reason, settings_row
from app.errors import InvalidInput, InvalidTransition, NotAllowed, NotFound
from app.team.service import get_role
from app.tickets.actors import Actor
from app.tickets.audit import record_ticket_event
from app.tickets.enums import TicketStatus
from app.tickets.models import Ticket
from app.timers.handlers import TimerHandlers, lock_for_handler
from app.timers.models import Timer
from app.timers.service import cancel_timers, schedule_timer
from app.webhooks.enums import WebhookEventType
from app.webhooks.events import emit_ticket_event

CSAT_PROMPT = "csat.prompt"
CSAT_REMINDER = "csat.reminder"
CSAT_EXPIRY = "csat.expiry"
COMMENT_MAX_CHARS = 2000


def _timer_key(survey: CsatSurvey, step: str) -> str:
    return f"csat:{survey.id}:{step}"


def _audit(
    session: AsyncSession, ticket_id: int, kind: str, actor: Actor, now: datetime, **data: Any
) -> None:
    record_ticket_event(session=session, ticket=ticket_id, kind=kind, actor=actor, now=now, **data)


async def schedule_survey(
    *, session: AsyncSession, ticket: Ticket, now: datetime
) -> CsatSurvey | None:
    """The ticket was resolved: ask its requester for a rating after the workspace's delay.

    Returns None (and records why in the audit trail) when nobody is to be asked.
    """
    reason = await _why_not_ask(session, ticket)
    if reason is not None:
        _audit(session, ticket.id, "csat_skipped", Actor.system(), now, reason=reason)
        return None
    assert ticket.requester_user_id and ticket.channel_id and ticket.root_ts
    delay = delay_of(await settings_row(session=session, workspace_id=ticket.workspace_id))
    survey = CsatSurvey(
        workspace_id=ticket.workspace_id,
        ticket_id=ticket.id,
        status=SurveyStatus.SCHEDULED,
        requester_user_id=ticket.requester_user_id,
        channel_id=ticket.channel_id,
        thread_ts=ticket.root_ts,
        assignee_user_id=ticket.assignee_user_id,
        account_name=ticket.account_name,
        is_external=ticket.is_external,
        resolved_at=now,
        send_at=now + delay,
        created_at=now,
    )
    session.add(survey)
    await session.flush()
    await schedule_timer(
        session=session,
        kind=CSAT_PROMPT,
        key=_timer_key(survey, "prompt"),
        workspace_id=ticket.workspace_id,
        ticket_id=ticket.id,
        due_at=survey.send_at,
        now=now,
        payload={"survey_id": survey.id},
    )
    _audit(
        session,
        ticket.id,
        "csat_scheduled",
        Actor.system(),
        now,
        survey_id=survey.id,
        send_at=survey.send_at.isoformat(),
    )
    return survey


async def _why_not_ask(session: AsyncSession, ticket: Ticket) -> str | None:
    if not ticket.requester_user_id:
        return "the ticket has no requester"
    if not (ticket.channel_id and ticket.root_ts):
        return "the ticket has no Slack thread to ask in"
    row = await settings_row(session=session, workspace_id=ticket.workspace_id)
    if row is not None and not row.enabled:
        return "CSAT is off in this workspace"
    role = await get_role(
        session=session, workspace_id=ticket.workspace_id, user_id=ticket.requester_user_id
    )
    if role is not None:
        return "the requester is on the support team"
    if not ticket.is_external and row is not None and not row.include_internal:
        return "internal requesters are not asked"
    return await opted_out_reason(
        session=session,
        workspace_id=ticket.workspace_id,
        channel_id=ticket.channel_id,
        requester_team_id=ticket.requester_team_id if ticket.is_external else None,
        account_name=ticket.account_name,
    )


async def cancel_scheduled_survey(*, session: AsyncSession, ticket: Ticket, now: datetime) -> None:
    """The ticket reopened (or was discarded) before its prompt went out: nobody is asked.

    A prompt already posted stays: it rates the resolution that happened.
    """
    surveys = (
        await session.scalars(
            select(CsatSurvey)
            .where(CsatSurvey.ticket_id == ticket.id, CsatSurvey.status == SurveyStatus.SCHEDULED)
            .with_for_update()
        )
    ).all()
    for survey in surveys:
        survey.status = SurveyStatus.CANCELLED
        survey.closed_at = now
        await cancel_timers(session=session, now=now, key=_timer_key(survey, "prompt"))
        _audit(session, ticket.id, "csat_cancelled", Actor.system(), now, survey_id=survey.id)


async def get_survey(
    *, session: AsyncSession, survey_id: int, workspace_id: int, for_update: bool = False
) -> CsatSurvey:
    survey = await session.get(CsatSurvey, survey_id, with_for_update=for_update or None)
    if survey is None or survey.workspace_id != workspace_id:
        raise NotFound("That survey no longer exists.")
    return survey


def _require_requester(survey: CsatSurvey, user_id: str) -> None:
    if user_id != survey.requester_user_id:
        raise NotAllowed(
            "Only {requester} can rate this.",
            code="not_the_requester",
            people={"requester": survey.requester_user_id},
        )


def _require_open(survey: CsatSurvey) -> None:
    if survey.status is SurveyStatus.EXPIRED:
        raise InvalidTransition("This survey has closed.")
    if survey.status is not SurveyStatus.SENT:
        raise InvalidTransition("This survey is not open.")


@dataclass(frozen=True)
class Rating:
    survey: CsatSurvey
    previous: int | None


async def rate(
    *, session: AsyncSession, survey: CsatSurvey, user_id: str, rating: int, now: datetime
) -> Rating:
    """The requester tapped a face. The last tap before expiry counts; every tap is audited.

    Lock the survey (`get_survey(for_update=True)`) before calling.
    """
    _require_requester(survey, user_id)
    _require_open(survey)
    if rating not in RATINGS:
        raise InvalidInput("A rating is a number from 1 to 5.")
    previous = survey.rating
    survey.rating, survey.rated_at = rating, now
    _audit(
        session,
        survey.ticket_id,
        "csat_rated",
        Actor.user(user_id, None),
        now,
        survey_id=survey.id,
        rating=rating,
        previous=previous,
    )
    await cancel_timers(session=session, now=now, key=_timer_key(survey, "reminder"))
    await notifications.refresh_prompt(session=session, survey=survey, now=now)
    was_low = previous is not None and previous <= LOW_RATING_MAX
    if rating <= LOW_RATING_MAX and not was_low:
        ticket = await session.get(Ticket, survey.ticket_id)
        if ticket is not None:
            survey.low_rating_alerted_at = now
            await notifications.alert_low_rating(
                session=session, survey=survey, ticket=ticket, now=now
            )
    await _emit_rating(session, survey, previous, now)
    return Rating(survey=survey, previous=previous)


async def _emit_rating(
    session: AsyncSession, survey: CsatSurvey, previous: int | None, now: datetime
) -> None:
    """`csat.received` for webhook subscribers, with the rated ticket."""
    ticket = await session.get(Ticket, survey.ticket_id)
    if ticket is None:
        return
    await emit_ticket_event(
        session=session,
        ticket=ticket,
        event_type=WebhookEventType.CSAT_RECEIVED,
        now=now,
        csat={"survey_id": survey.id, "rating": survey.rating, "previous_rating": previous},
    )


def check_may_comment(survey: CsatSurvey, user_id: str) -> None:
    """Raise unless `user_id` may open the comment box of this survey now."""
    _require_requester(survey, user_id)
    _require_open(survey)
    if survey.rating is None:
        raise InvalidTransition("Tap a face first, then add a comment.")


async def add_comment(
    *, session: AsyncSession, survey: CsatSurvey, user_id: str, comment: str, now: datetime
) -> CsatSurvey:
    """Store the requester's words with their rating, and show them to the team."""
    check_may_comment(survey, user_id)
    comment = comment.strip()
    if not comment:
        raise InvalidInput("Write a few words, or close this window.")
    if len(comment) > COMMENT_MAX_CHARS:
        raise InvalidInput(f"Please keep it under {COMMENT_MAX_CHARS} characters.")
    survey.comment, survey.commented_at = comment, now
    _audit(
        session,
        survey.ticket_id,
        "csat_commented",
        Actor.user(user_id, None),
        now,
        survey_id=survey.id,
        rating=survey.rating,
    )
    await notifications.refresh_prompt(session=session, survey=survey, now=now)
    ticket = await session.get(Ticket, survey.ticket_id)
    if ticket is not None:
        await notifications.share_comment(session=session, survey=survey, ticket=ticket, now=now)
    return survey


class CsatTimers:
    """The prompt, reminder and expiry timers; the reminder and expiry delays come from config."""

    def __init__(self, *, reminder_after: timedelta | None, expire_after: timedelta) -> None:
        self._reminder_after = reminder_after
        self._expire_after = expire_after

    def register(self, handlers: TimerHandlers) -> None:
        handlers.register(CSAT_PROMPT, self.on_prompt_due)
        handlers.register(CSAT_REMINDER, self.on_reminder_due)
        handlers.register(CSAT_EXPIRY, self.on_expiry_due)

    async def on_prompt_due(
        self, session: AsyncSession, timer: Timer, now: datetime, late: bool
    ) -> None:
        survey = await _locked_survey(session, timer)
        if survey is None or survey.status is not SurveyStatus.SCHEDULED:
            return
        ticket = await session.get(Ticket, survey.ticket_id)
        if ticket is None or ticket.status not in (TicketStatus.RESOLVED, TicketStatus.CLOSED):
            survey.status, survey.closed_at = SurveyStatus.CANCELLED, now
            return
        survey.status, survey.sent_at = SurveyStatus.SENT, now
        survey.expires_at = now + self._expire_after
        await notifications.post_prompt(session=session, survey=survey, now=now)
        if self._reminder_after and self._reminder_after < self._expire_after:
            await self._schedule(
                session, survey, "reminder", CSAT_REMINDER, self._reminder_after, now
            )
        await self._schedule(session, survey, "expiry", CSAT_EXPIRY, self._expire_after, now)
        _audit(session, survey.ticket_id, "csat_sent", Actor.system(), now, survey_id=survey.id)

    async def on_reminder_due(
        self, session: AsyncSession, timer: Timer, now: datetime, late: bool
    ) -> None:
        survey = await _locked_survey(session, timer)
        if survey is None or survey.status is not SurveyStatus.SENT or survey.rating is not None:
            return
        survey.reminded_at = now
        await notifications.post_reminder(session=session, survey=survey, now=now)
        _audit(session, survey.ticket_id, "csat_reminded", Actor.system(), now, survey_id=survey.id)

    async def on_expiry_due(
        self, session: AsyncSession, timer: Timer, now: datetime, late: bool
    ) -> None:
        survey = await _locked_survey(session, timer)
        if survey is None or survey.status is not SurveyStatus.SENT:
            return
        survey.status, survey.closed_at = SurveyStatus.EXPIRED, now
        await cancel_timers(session=session, now=now, key=_timer_key(survey, "reminder"))
        await notifications.refresh_prompt(session=session, survey=survey, now=now)
        _audit(
            session,
            survey.ticket_id,
            "csat_closed",
            Actor.system(),
            now,
            survey_id=survey.id,
            rating=survey.rating,
        )

    @staticmethod
    async def _schedule(
        session: AsyncSession,
        survey: CsatSurvey,
        step: str,
        kind: str,
        after: timedelta,
        now: datetime,
    ) -> None:
        await schedule_timer(
            session=session,
            kind=kind,
            key=_timer_key(survey, step),
            workspace_id=survey.workspace_id,
            ticket_id=survey.ticket_id,
            due_at=now + after,
            now=now,
            payload={"survey_id": survey.id},
        )


async def _locked_survey(session: AsyncSession, timer: Timer) -> CsatSurvey | None:
    # A click or a reopen holding the survey must not deadlock with the sweep: if it is held,
    # the timer is left for the next sweep (TimerBusy).
    survey_id = (timer.payload or {}).get("survey_id")
    if survey_id is None:
        return None
    return await lock_for_handler(session, CsatSurvey, int(survey_id))
