"""NPS: "How likely are you to recommend us?" (0-10) asked of each account's contacts, at most
once per contact per interval, in the channel where they last wrote; only they may answer.

NPS = % promoters (9-10) - % detractors (0-6) of the answers, per account, channel or owner and
period. A detractor's answer alerts the account owner (a direct message) and the triage
channel. Each question is reminded once and closes after a while, like CSAT; a person,
channel or account can be opted out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.enums import (
    DETRACTOR_MAX,
    NPS_SCORES,
    PROMOTER_MIN,
    NpsOptOutKind,
    NpsStatus,
)
from app.accounts.models import Account, NpsOptOut, NpsSurvey
from app.config import Settings
from app.errors import InvalidInput, InvalidTransition, NotAllowed, NotFound
from app.outbox.handlers import DeliveryHandlers
from app.outbox.service import enqueue_slack_call
from app.team.models import TeamMember
from app.text_safety import escape, quote
from app.tickets.models import Ticket
from app.timers.handlers import TimerHandlers
from app.timers.models import Timer
from app.timers.service import schedule_timer
from app.webhooks.enums import WebhookEventType
from app.webhooks.events import emit, timestamp
from app.workspaces.models import Workspace

PROMPT_VIEW = "nps_prompt"
PROMPT_POSTED = "nps.prompt_posted"
REMIND = "nps.remind"
EXPIRE = "nps.expire"
REASON_MAX_CHARS = 2000


@dataclass(frozen=True)
class NpsPolicy:
    interval: timedelta = timedelta(days=90)
    remind_after: timedelta | None = timedelta(days=3)
    expire_after: timedelta = timedelta(days=14)

    @classmethod
    def from_settings(cls, settings: Settings) -> NpsPolicy:
        return cls(
            interval=timedelta(days=settings.nps_interval_days),
            remind_after=timedelta(seconds=settings.nps_reminder_after_seconds) or None,
            expire_after=timedelta(seconds=settings.nps_expire_after_seconds),
        )


# -- a round ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Round:
    asked: int
    accounts: int
    recently_asked: int  # asked within the interval already
    opted_out: int


async def start_round(
    *,
    session: AsyncSession,
    workspace_id: int,
    policy: NpsPolicy,
    now: datetime,
    account: Account | None = None,
    started_by: str | None = None,
) -> Round:
    """Ask every contact of the account (or of every account that has not churned): the people
    who opened its tickets in its channels, never a member of the support team."""
    query = (
        select(
            Ticket.account_id,
            Ticket.requester_user_id,
            Ticket.channel_id,
            func.max(Ticket.created_at).label("last"),
        )
        .join(Account, Account.id == Ticket.account_id)
        .where(
            Ticket.workspace_id == workspace_id,
            Account.churned_at.is_(None),
            Ticket.requester_user_id.is_not(None),
            Ticket.channel_id.is_not(None),
        )
        .group_by(Ticket.account_id, Ticket.requester_user_id, Ticket.channel_id)
    )
    if account is not None:
        query = query.where(Ticket.account_id == account.id)
    latest: dict[tuple[int, str], tuple[str, datetime]] = {}
    for account_id, contact, channel, last in await session.execute(query):
        if account_id is None or contact is None or channel is None:
            continue
        key = (account_id, contact)
        if key not in latest or last > latest[key][1]:
            latest[key] = (channel, last)
    team = set(
        await session.scalars(
            select(TeamMember.slack_user_id).where(TeamMember.workspace_id == workspace_id)
        )
    )
    opt_outs = {
        (row.kind, row.key)
        for row in await session.scalars(
            select(NpsOptOut).where(NpsOptOut.workspace_id == workspace_id)
        )
    }
    recent = set(
        await session.scalars(
            select(NpsSurvey.contact_user_id).where(
                NpsSurvey.workspace_id == workspace_id,
                NpsSurvey.sent_at > now - policy.interval,
            )
        )
    )
    owners = dict(
        (row[0], row[1])
        for row in await session.execute(
            select(Account.id, Account.owner_user_id).where(Account.workspace_id == workspace_id)
        )
    )
    accounts, recently, opted = set(), 0, 0
    seen: set[str] = set()
    asking: list[NpsSurvey] = []
    for (account_id, contact), (channel, _) in sorted(latest.items(), key=lambda item: item[0]):
        if contact in team or contact in seen:
            continue  # one question per person, whatever their number of accounts
        if {
            (NpsOptOutKind.PERSON, contact),
            (NpsOptOutKind.CHANNEL, channel),
            (NpsOptOutKind.ACCOUNT, str(account_id)),
        } & opt_outs:
            opted += 1
            continue
        if contact in recent:
            recently += 1
            continue
        seen.add(contact)
        survey = NpsSurvey(
            workspace_id=workspace_id,
            account_id=account_id,
            contact_user_id=contact,
            channel_id=channel,
            status=NpsStatus.SENT,
            owner_user_id=owners.get(account_id),
            sent_at=now,
            expires_at=now + policy.expire_after,
            started_by=started_by,
            created_at=now,
        )
        asking.append(survey)
        accounts.add(account_id)
    session.add_all(asking)
    await session.flush()  # their ids, for the questions and timers below
    for survey in asking:
        await _post_prompt(session, survey, now)
        if policy.remind_after is not None and policy.remind_after < policy.expire_after:
            await _schedule(session, survey, REMIND, now + policy.remind_after, now)
        await _schedule(session, survey, EXPIRE, survey.expires_at, now)
    return Round(
        asked=len(asking), accounts=len(accounts), recently_asked=recently, opted_out=opted
    )


async def _schedule(
    session: AsyncSession, survey: NpsSurvey, kind: str, due: datetime, now: datetime
) -> None:
    await schedule_timer(
        session=session,
        kind=kind,
        key=f"{kind}:{survey.id}",
        workspace_id=survey.workspace_id,
        due_at=due,
        now=now,
        payload={"survey_id": survey.id},
    )


# -- answers ---------------------------------------------------------------------------------


async def get_survey(
    *, session: AsyncSession, survey_id: int, workspace_id: int, for_update: bool = False
) -> NpsSurvey:
    query = select(NpsSurvey).where(
        NpsSurvey.id == survey_id, NpsSurvey.workspace_id == workspace_id
    )
    survey = await session.scalar(query.with_for_update() if for_update else query)
    if survey is None:
        raise NotFound("That question no longer exists.")
    return survey


def check_may_answer(survey: NpsSurvey, user_id: str) -> None:
    if user_id != survey.contact_user_id:
        raise NotAllowed(
            "This question is for {contact}; only they can answer it.",
            people={"contact": survey.contact_user_id},
        )
    if survey.status is not NpsStatus.SENT:
        raise InvalidTransition("This question has closed. Thank you all the same!")


async def answer(
    *, session: AsyncSession, survey: NpsSurvey, user_id: str, score: int, now: datetime
) -> None:
    """The contact's score (they may change it while the question is open)."""
    check_may_answer(survey, user_id)
    if score not in NPS_SCORES:
        raise InvalidInput("A score is a number from 0 to 10.")
    previous = survey.score
    survey.score, survey.answered_at = score, now
    await refresh_prompt(session=session, survey=survey, now=now)
    if score <= DETRACTOR_MAX and survey.detractor_alerted_at is None:
        survey.detractor_alerted_at = now
        await _alert_detractor(session, survey, now)
    await emit(
        session=session,
        workspace_id=survey.workspace_id,
        event_type=WebhookEventType.NPS_RECEIVED,
        data=lambda: _event_data(survey, previous),
        now=now,
    )


async def add_reason(
    *, session: AsyncSession, survey: NpsSurvey, user_id: str, reason: str, now: datetime
) -> None:
    check_may_answer(survey, user_id)
    if survey.score is None:
        raise InvalidTransition("Choose a score first.")
    reason = reason.strip()
    if not reason:
        raise InvalidInput("Write a few words, or close the form.")
    if len(reason) > REASON_MAX_CHARS:
        raise InvalidInput(f"Keep it under {REASON_MAX_CHARS} characters.")
    survey.reason, survey.reason_at = reason, now
    await refresh_prompt(session=session, survey=survey, now=now)
    account = await session.get(Account, survey.account_id)
    if survey.score <= DETRACTOR_MAX:
        name = escape(account.name) if account else "an account"
        text = (
            f":speech_balloon: <@{survey.contact_user_id}> of *{name}* said why they scored"
            f" {survey.score}/10:\n{quote(escape(reason))}"
        )
        await _tell_team(session, survey, text, now)


async def decline(*, session: AsyncSession, survey: NpsSurvey, user_id: str, now: datetime) -> None:
    """ "Don't ask me again": this question closes and the person is opted out."""
    check_may_answer(survey, user_id)
    survey.status = NpsStatus.DECLINED
    await opt_out(
        session=session,
        workspace_id=survey.workspace_id,
        kind=NpsOptOutKind.PERSON,
        key=user_id,
        by=user_id,
        now=now,
    )
    await refresh_prompt(session=session, survey=survey, now=now)


def _event_data(survey: NpsSurvey, previous: int | None) -> dict[str, Any]:
    return {
        "nps": {
            "survey_id": survey.id,
            "account_id": survey.account_id,
            "contact": survey.contact_user_id,
            "channel": survey.channel_id,
            "score": survey.score,
            "previous_score": previous,
            "answered_at": timestamp(survey.answered_at),
        }
    }


async def _alert_detractor(session: AsyncSession, survey: NpsSurvey, now: datetime) -> None:
    account = await session.get(Account, survey.account_id)
    name = escape(account.name) if account else "an account"
    text = (
        f":small_red_triangle_down: <@{survey.contact_user_id}> of *{name}* scored us"
        f" *{survey.score}/10* (a detractor). Worth a call."
    )
    await _tell_team(session, survey, text, now)


async def _tell_team(session: AsyncSession, survey: NpsSurvey, text: str, now: datetime) -> None:
    """The account owner (a direct message) and the triage channel."""
    account = await session.get(Account, survey.account_id)
    workspace = await session.get(Workspace, survey.workspace_id)
    places = []
    if account is not None and account.owner_user_id:
        places.append(account.owner_user_id)
    if workspace is not None and workspace.triage_channel_id:
        places.append(workspace.triage_channel_id)
    for place in places:
        await enqueue_slack_call(
            session=session,
            method="chat.postMessage",
            payload={"channel": place, "text": text},
            now=now,
            workspace_id=survey.workspace_id,
        )


# -- the prompt in Slack ---------------------------------------------------------------------


def _spec(survey: NpsSurvey) -> dict[str, object]:
    return {"$render": {"view": PROMPT_VIEW, "survey_id": survey.id}}


async def _post_prompt(session: AsyncSession, survey: NpsSurvey, now: datetime) -> None:
    await enqueue_slack_call(
        session=session,
        method="chat.postMessage",
        payload={"channel": survey.channel_id, **_spec(survey)},
        now=now,
        workspace_id=survey.workspace_id,
        on_delivered=PROMPT_POSTED,
        on_delivered_args={"survey_id": survey.id},
        coalesce_key=f"nps_prompt_post:{survey.id}",
        coalesce=False,
    )


async def refresh_prompt(*, session: AsyncSession, survey: NpsSurvey, now: datetime) -> None:
    """Redraw the question in place (once it is posted; before, the post itself is drawn from
    the survey as it is when it is sent)."""
    if not survey.prompt_ts:
        return
    await enqueue_slack_call(
        session=session,
        method="chat.update",
        payload={"channel": survey.channel_id, "ts": survey.prompt_ts, **_spec(survey)},
        now=now,
        workspace_id=survey.workspace_id,
        coalesce_key=f"nps_prompt:{survey.id}",
    )


async def prompt_posted(
    session: AsyncSession, args: dict[str, Any], result: dict[str, Any], now: datetime
) -> None:
    survey = await session.get(NpsSurvey, args["survey_id"], with_for_update=True)
    if survey is None:
        return
    survey.prompt_ts = result.get("ts")
    if survey.score is not None or survey.status is not NpsStatus.SENT:
        await refresh_prompt(session=session, survey=survey, now=now)  # answered meanwhile


def register_nps_delivery_handlers(handlers: DeliveryHandlers) -> None:
    handlers.register(PROMPT_POSTED, prompt_posted)


# -- reminders and expiry --------------------------------------------------------------------


async def _on_remind(session: AsyncSession, timer: Timer, now: datetime, late: bool) -> None:
    survey = await session.get(NpsSurvey, timer.payload.get("survey_id"), with_for_update=True)
    if survey is None or survey.status is not NpsStatus.SENT or survey.score is not None:
        return
    survey.reminded_at = now
    await enqueue_slack_call(
        session=session,
        method="chat.postMessage",
        payload={
            "channel": survey.channel_id,
            "text": (
                f"<@{survey.contact_user_id}> a gentle reminder: how likely are you to recommend"
                " us? One tap on the question above; it helps the team a lot."
            ),
        },
        now=now,
        workspace_id=survey.workspace_id,
    )


async def _on_expire(session: AsyncSession, timer: Timer, now: datetime, late: bool) -> None:
    survey = await session.get(NpsSurvey, timer.payload.get("survey_id"), with_for_update=True)
    if survey is None or survey.status is not NpsStatus.SENT:
        return
    survey.status = NpsStatus.EXPIRED
    await refresh_prompt(session=session, survey=survey, now=now)


def register_nps_timers(handlers: TimerHandlers) -> None:
    handlers.register(REMIND, _on_remind)
    handlers.register(EXPIRE, _on_expire)


# -- opt-outs --------------------------------------------------------------------------------


async def opt_out(
    *,
    session: AsyncSession,
    workspace_id: int,
    kind: NpsOptOutKind,
    key: str,
    by: str | None,
    now: datetime,
) -> bool:
    """True if it was not opted out already."""
    found = await session.scalar(
        select(NpsOptOut).where(
            NpsOptOut.workspace_id == workspace_id, NpsOptOut.kind == kind, NpsOptOut.key == key
        )
    )
    if found is not None:
        return False
    session.add(
        NpsOptOut(workspace_id=workspace_id, kind=kind, key=key, created_by=by, created_at=now)
    )
    await session.flush()
    return True


async def opt_in(
    *, session: AsyncSession, workspace_id: int, kind: NpsOptOutKind, key: str
) -> bool:
    found = await session.scalar(
        select(NpsOptOut).where(
            NpsOptOut.workspace_id == workspace_id, NpsOptOut.kind == kind, NpsOptOut.key == key
        )
    )
    if found is None:
        return False
    await session.delete(found)
    return True


async def opt_outs(*, session: AsyncSession, workspace_id: int) -> Sequence[NpsOptOut]:
    return (
        await session.scalars(
            select(NpsOptOut)
            .where(NpsOptOut.workspace_id == workspace_id)
            .order_by(NpsOptOut.kind, NpsOptOut.key)
        )
    ).all()


# -- the numbers -----------------------------------------------------------------------------


@dataclass(frozen=True)
class NpsNumbers:
    key: str | int | None
    promoters: int
    passives: int
    detractors: int

    @property
    def answers(self) -> int:
        return self.promoters + self.passives + self.detractors

    @property
    def nps(self) -> float | None:
        if not self.answers:
            return None
        return 100.0 * (self.promoters - self.detractors) / self.answers


async def nps_numbers(
    *,
    session: AsyncSession,
    workspace_id: int,
    since: datetime,
    until: datetime,
    by: str | None = None,
    account_id: int | None = None,
) -> list[NpsNumbers]:
    """NPS of the answers given after `since` up to `until` (the last 90 days up to now):
    overall (`by` None), or by `account`,
    `channel` or `owner`, each group with its counts; of one account's contacts only if
    `account_id` is given."""
    column = {
        None: None,
        "account": NpsSurvey.account_id,
        "channel": NpsSurvey.channel_id,
        "owner": NpsSurvey.owner_user_id,
    }[by]
    counted = [
        func.count(case((NpsSurvey.score >= PROMOTER_MIN, 1))),
        func.count(
            case((and_(NpsSurvey.score > DETRACTOR_MAX, NpsSurvey.score < PROMOTER_MIN), 1))
        ),
        func.count(case((NpsSurvey.score <= DETRACTOR_MAX, 1))),
    ]
    where = (
        NpsSurvey.workspace_id == workspace_id,
        NpsSurvey.score.is_not(None),
        NpsSurvey.answered_at > since,
        NpsSurvey.answered_at <= until,
        *([NpsSurvey.account_id == account_id] if account_id is not None else []),
    )
    if column is None:
        row = (await session.execute(select(*counted).where(*where))).one()
        return [NpsNumbers(None, row[0], row[1], row[2])]
    rows = await session.execute(select(column, *counted).where(*where).group_by(column))
    return [NpsNumbers(row[0], row[1], row[2], row[3]) for row in rows]


async def account_nps(
    *, session: AsyncSession, workspace_id: int, since: datetime, until: datetime
) -> dict[int, float]:
    """Each account's NPS over the period (accounts with answers only), for its health."""
    numbers = await nps_numbers(
        session=session, workspace_id=workspace_id, since=since, until=until, by="account"
    )
    return {int(n.key): n.nps for n in numbers if n.key is not None and n.nps is not None}
