"""A customer's feedback, and what follows it: a CSAT rating or comment, an NPS score or reason,
each followed by "May we quote you?" when it is a 5/5 with words or a 9-10 with a reason.

The CSAT and NPS domains know nothing of testimonials (they sit below accounts); the Slack
listeners call these, so the follow-up is decided in one place, in the same transaction."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts import nps
from app.accounts.models import NpsSurvey
from app.accounts.testimonials import ask_after_csat, ask_after_nps
from app.csat import surveys
from app.csat.models import CsatSurvey


async def rate_resolution(
    *, session: AsyncSession, survey: CsatSurvey, user_id: str, rating: int, now: datetime
) -> None:
    await surveys.rate(session=session, survey=survey, user_id=user_id, rating=rating, now=now)
    await ask_after_csat(session=session, survey=survey, now=now)


async def comment_on_resolution(
    *, session: AsyncSession, survey: CsatSurvey, user_id: str, comment: str, now: datetime
) -> None:
    await surveys.add_comment(
        session=session, survey=survey, user_id=user_id, comment=comment, now=now
    )
    await ask_after_csat(session=session, survey=survey, now=now)


async def answer_nps(
    *, session: AsyncSession, survey: NpsSurvey, user_id: str, score: int, now: datetime
) -> None:
    await nps.answer(session=session, survey=survey, user_id=user_id, score=score, now=now)
    await ask_after_nps(session=session, survey=survey, now=now)


async def give_nps_reason(
    *, session: AsyncSession, survey: NpsSurvey, user_id: str, reason: str, now: datetime
) -> None:
    await nps.add_reason(session=session, survey=survey, user_id=user_id, reason=reason, now=now)
    await ask_after_nps(session=session, survey=survey, now=now)
