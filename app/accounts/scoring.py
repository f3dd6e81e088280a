"""Each account's daily health: computed for a whole workspace at once, stored with its
reasons (one row per account and day), and told to webhooks when it moves."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.health import Health, Signals, Weights, score
from app.accounts.models import Account, AccountHealth
from app.accounts.nps import account_nps
from app.accounts.signals import NPS_WINDOW, gather_signals
from app.config import Settings
from app.webhooks.enums import WebhookEventType
from app.webhooks.events import emit, timestamp

# A move this big (or a crossing of the at-risk line) is told to `account.health_changed`.
NOTABLE_MOVE = 5
FALLING_WINDOW = timedelta(days=7)


@dataclass(frozen=True)
class HealthPolicy:
    """How health is scored and when an account is at risk (from the settings)."""

    weights: Weights = field(default_factory=Weights)
    at_risk_below: int = 60  # a score under this is at risk
    falling_points: int = 15  # ... and so is one that fell this much in FALLING_WINDOW

    @classmethod
    def from_settings(cls, settings: Settings) -> HealthPolicy:
        return cls(
            weights=Weights(**settings.health_weights),
            at_risk_below=settings.account_at_risk_below,
            falling_points=settings.account_falling_points,
        )

    def at_risk(self, score: int | None, week_ago: int | None) -> bool:
        if score is None:
            return False
        if score < self.at_risk_below:
            return True
        return week_ago is not None and week_ago - score >= self.falling_points


@dataclass(frozen=True)
class Scored:
    account: Account
    health: Health
    previous: int | None


async def recompute_health(
    *,
    session: AsyncSession,
    workspace_id: int,
    now: datetime,
    zone: str,
    policy: HealthPolicy,
    nps: dict[int, float] | None = None,
) -> list[Scored]:
    """Score every account of the workspace that has not churned, as of `now`; today's row
    (the workspace's calendar day) is written or rewritten. Returns what was scored."""
    day = now.astimezone(ZoneInfo(zone)).date()
    accounts = list(
        await session.scalars(
            select(Account).where(
                Account.workspace_id == workspace_id, Account.churned_at.is_(None)
            )
        )
    )
    if not accounts:
        return []
    if nps is None:
        nps = await account_nps(
            session=session, workspace_id=workspace_id, since=now - NPS_WINDOW, until=now
        )
    signals = await gather_signals(session=session, workspace_id=workspace_id, now=now, nps=nps)
    today = {
        row.account_id: row
        for row in await session.scalars(
            select(AccountHealth)
            .join(Account, Account.id == AccountHealth.account_id)
            .where(Account.workspace_id == workspace_id, AccountHealth.day == day)
        )
    }
    week_ago = await _scores_on(session, workspace_id, day - FALLING_WINDOW)
    scored: list[Scored] = []
    for account in accounts:
        found = signals.get(account.id, Signals())
        health = score(found, policy.weights)
        previous = account.health_score
        row = today.get(account.id)
        reasons = [reason.as_dict() for reason in health.reasons]
        if row is None:
            session.add(
                AccountHealth(
                    account_id=account.id,
                    day=day,
                    score=health.score,
                    reasons=reasons,
                    signals=found.as_dict(),
                    computed_at=now,
                )
            )
        else:
            row.score, row.reasons, row.signals, row.computed_at = (
                health.score,
                reasons,
                found.as_dict(),
                now,
            )
        account.health_score = health.score
        account.health_updated_at = now
        account.health_week_ago = week_ago.get(account.id)
        scored.append(Scored(account, health, previous))
        if _notable(previous, health.score, policy):
            await emit(
                session=session,
                workspace_id=workspace_id,
                event_type=WebhookEventType.ACCOUNT_HEALTH_CHANGED,
                data=_event_data(account, health, previous, week_ago.get(account.id), policy),
                now=now,
            )
    await session.flush()
    return scored


def _notable(previous: int | None, current: int, policy: HealthPolicy) -> bool:
    if previous is None:  # a first score is news when it is already under the line
        return current < policy.at_risk_below
    crossed = (previous < policy.at_risk_below) != (current < policy.at_risk_below)
    return crossed or abs(current - previous) >= NOTABLE_MOVE


def _event_data(
    account: Account,
    health: Health,
    previous: int | None,
    week_ago: int | None,
    policy: HealthPolicy,
) -> dict[str, Any]:
    return {
        "account": {"id": account.id, "name": account.name, "owner": account.owner_user_id},
        "score": health.score,
        "previous_score": previous,
        "at_risk": policy.at_risk(health.score, week_ago),
        "reasons": [str(reason) for reason in health.costs],
        "computed_at": timestamp(account.health_updated_at),
    }


async def _scores_on(session: AsyncSession, workspace_id: int, day: date) -> dict[int, int]:
    """Each account's score on `day` (or the latest before it within a week), by account id."""
    rows = await session.execute(
        select(AccountHealth.account_id, AccountHealth.score)
        .join(Account, Account.id == AccountHealth.account_id)
        .where(
            and_(
                Account.workspace_id == workspace_id,
                AccountHealth.day <= day,
                AccountHealth.day > day - timedelta(days=7),
            )
        )
        .order_by(AccountHealth.day)
    )
    return {account_id: value for account_id, value in rows}


async def health_history(
    *, session: AsyncSession, account_id: int, days: int = 90
) -> list[AccountHealth]:
    """The account's latest `days` daily scores, newest first."""
    query = select(AccountHealth).where(AccountHealth.account_id == account_id)
    return list(await session.scalars(query.order_by(AccountHealth.day.desc()).limit(days)))


async def at_risk_accounts(
    *,
    session: AsyncSession,
    workspace_id: int,
    policy: HealthPolicy,
    limit: int | None = None,
    offset: int = 0,
    owner_user_id: str | None = None,
) -> list[Account]:
    """Accounts (not churned) under the line or fallen fast in a week, the lowest first: one
    indexed read, the week-ago score being kept on the account by each scoring."""
    query = (
        select(Account)
        .where(
            Account.workspace_id == workspace_id,
            Account.churned_at.is_(None),
            Account.health_score.is_not(None),
            or_(
                Account.health_score < policy.at_risk_below,
                Account.health_week_ago - Account.health_score >= policy.falling_points,
            ),
        )
        .order_by(Account.health_score, Account.name, Account.id)
    )
    if owner_user_id is not None:
        query = query.where(Account.owner_user_id == owner_user_id)
    if limit is not None:
        query = query.limit(limit)
    return list(await session.scalars(query.offset(offset)))
