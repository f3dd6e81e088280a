"""CSAT numbers: score (share of 4 and 5 ratings), response rate and average, by period, channel,
agent and account.

A survey counts in the period it was sent in. Aggregates run in the database (one grouped query
per breakdown, on the `(workspace_id, sent_at)` index), so the numbers cost the same whatever
the number of tickets outside the period.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import Float, Integer, SQLColumnExpression, case, cast, func, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from app.csat.enums import SATISFIED_MIN
from app.csat.models import CsatSurvey


class Breakdown(StrEnum):
    CHANNEL = "channel"
    AGENT = "agent"
    ACCOUNT = "account"


_GROUP_COLUMNS: dict[Breakdown, SQLColumnExpression[str | None]] = {
    Breakdown.CHANNEL: CsatSurvey.channel_id,
    Breakdown.AGENT: CsatSurvey.assignee_user_id,
    Breakdown.ACCOUNT: CsatSurvey.account_name,
}


@dataclass(frozen=True)
class CsatNumbers:
    sent: int = 0
    rated: int = 0
    satisfied: int = 0
    rating_sum: int = 0

    @property
    def score(self) -> float | None:
        """Percent of ratings that are 4 or 5; None without ratings."""
        return 100.0 * self.satisfied / self.rated if self.rated else None

    @property
    def response_rate(self) -> float | None:
        return 100.0 * self.rated / self.sent if self.sent else None

    @property
    def average(self) -> float | None:
        return self.rating_sum / self.rated if self.rated else None


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime
    numbers: CsatNumbers


def _aggregates() -> tuple[ColumnElement[int], ...]:
    rated = CsatSurvey.rating.is_not(None)
    return (
        func.count(),
        func.count(CsatSurvey.rating),
        func.coalesce(func.sum(case((CsatSurvey.rating >= SATISFIED_MIN, 1), else_=0)), 0),
        func.coalesce(func.sum(case((rated, CsatSurvey.rating), else_=0)), 0),
    )


def _in_period(workspace_id: int, start: datetime, end: datetime) -> list[ColumnElement[bool]]:
    return [
        CsatSurvey.workspace_id == workspace_id,
        CsatSurvey.sent_at >= start,
        CsatSurvey.sent_at < end,
    ]


async def csat_numbers(
    *, session: AsyncSession, workspace_id: int, start: datetime, end: datetime
) -> CsatNumbers:
    row = (
        await session.execute(select(*_aggregates()).where(*_in_period(workspace_id, start, end)))
    ).one()
    return CsatNumbers(*(int(value or 0) for value in row))


async def csat_breakdown(
    *,
    session: AsyncSession,
    workspace_id: int,
    start: datetime,
    end: datetime,
    by: Breakdown,
    limit: int = 10,
) -> list[tuple[str | None, CsatNumbers]]:
    """The groups with the most surveys first (ties by name); None is "nobody" / "no account"."""
    column = _GROUP_COLUMNS[by]
    rows = (
        await session.execute(
            select(column, *_aggregates())
            .where(*_in_period(workspace_id, start, end))
            .group_by(column)
            .order_by(func.count().desc(), column)
            .limit(limit)
        )
    ).all()
    return [(row[0], CsatNumbers(*(int(value or 0) for value in row[1:]))) for row in rows]


async def csat_by_period(
    *,
    session: AsyncSession,
    workspace_id: int,
    start: datetime,
    end: datetime,
    step: timedelta,
) -> list[Period]:
    """Consecutive periods of `step` from `start` (the last one may be shorter), in one query."""
    seconds = max(int(step.total_seconds()), 1)
    offset = _seconds_between(session, start, CsatSurvey.sent_at) / seconds
    # Offsets are never negative, so truncating is flooring; PostgreSQL's cast would round.
    if session.get_bind().dialect.name == "postgresql":
        offset = func.floor(offset)
    bucket = cast(offset, Integer).label("bucket")
    rows = (
        await session.execute(
            select(bucket, *_aggregates())
            .where(*_in_period(workspace_id, start, end))
            .group_by(bucket)
        )
    ).all()
    found = {int(row[0]): CsatNumbers(*(int(value or 0) for value in row[1:])) for row in rows}
    periods = []
    index, cursor = 0, start
    while cursor < end:
        periods.append(Period(cursor, min(cursor + step, end), found.get(index, CsatNumbers())))
        index, cursor = index + 1, cursor + step
    return periods


def _seconds_between(
    session: AsyncSession, start: datetime, column: SQLColumnExpression[datetime | None]
) -> ColumnElement[float]:
    if session.get_bind().dialect.name == "postgresql":
        # The epoch has fractional seconds; SQLAlchemy types every EXTRACT as an Integer.
        return type_coerce(func.extract("epoch", column), Float) - start.timestamp()
    # SQLite stores the ISO text; julianday() reads it (the offset is ignored, all are UTC).
    return (func.julianday(column) - func.julianday(start.strftime("%Y-%m-%d %H:%M:%S"))) * 86400
