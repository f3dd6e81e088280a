"""Churn: how many accounts were lost in a period, and how well the health score warned of it.

The warning is read from our own history: for each account marked churned in the period, its
score 30 and 60 days before it churned, beside the same for the accounts that stayed (their
scores 30 and 60 days before the period's end). Reported as measured, never tuned to."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Account, AccountHealth

LOOKBACKS = (30, 60)
NEAREST = timedelta(days=7)  # a score up to a week older stands in for a missing day


@dataclass(frozen=True)
class Warned:
    """Scores `days` before the moment that counts, of the accounts that had one then."""

    days: int
    churned_scores: list[int]
    stayed_scores: list[int]
    churned_at_risk: int  # churned accounts that were under the at-risk line then

    @staticmethod
    def _mean(values: list[int]) -> float | None:
        return sum(values) / len(values) if values else None

    @property
    def churned_average(self) -> float | None:
        return self._mean(self.churned_scores)

    @property
    def stayed_average(self) -> float | None:
        return self._mean(self.stayed_scores)


@dataclass(frozen=True)
class ChurnReport:
    since: datetime
    until: datetime
    active_at_start: int
    churned: list[Account]
    warned: list[Warned]

    @property
    def churn_rate(self) -> float | None:
        return len(self.churned) / self.active_at_start if self.active_at_start else None


async def churn_report(
    *,
    session: AsyncSession,
    workspace_id: int,
    since: datetime,
    until: datetime,
    at_risk_below: int,
) -> ChurnReport:
    accounts = list(
        await session.scalars(select(Account).where(Account.workspace_id == workspace_id))
    )
    active = [
        a
        for a in accounts
        if a.created_at < since and (a.churned_at is None or a.churned_at >= since)
    ]
    churned = [a for a in accounts if a.churned_at is not None and since <= a.churned_at < until]
    stayed = [a for a in active if a.churned_at is None or a.churned_at >= until]
    history = await _history(session, [a.id for a in churned + stayed])
    warned = []
    for days in LOOKBACKS:
        then = timedelta(days=days)
        churned_scores = [
            s
            for a in churned
            if a.churned_at is not None
            and (s := _score_on(history.get(a.id, []), (a.churned_at - then).date())) is not None
        ]
        stayed_scores = [
            s
            for a in stayed
            if (s := _score_on(history.get(a.id, []), (until - then).date())) is not None
        ]
        warned.append(
            Warned(
                days=days,
                churned_scores=churned_scores,
                stayed_scores=stayed_scores,
                churned_at_risk=sum(1 for s in churned_scores if s < at_risk_below),
            )
        )
    return ChurnReport(since, until, len(active), churned, warned)


async def _history(
    session: AsyncSession, account_ids: list[int]
) -> dict[int, list[tuple[date, int]]]:
    found: dict[int, list[tuple[date, int]]] = {}
    if not account_ids:
        return found
    rows = await session.execute(
        select(AccountHealth.account_id, AccountHealth.day, AccountHealth.score)
        .where(AccountHealth.account_id.in_(account_ids))
        .order_by(AccountHealth.day)
    )
    for account_id, day, score in rows:
        found.setdefault(account_id, []).append((day, score))
    return found


def _score_on(days: list[tuple[date, int]], day: date) -> int | None:
    """The score on `day`, or the latest within a week before it."""
    best = None
    for when, score in days:
        if when > day:
            break
        if day - when <= NEAREST:
            best = score
    return best
