"""Reading accounts for people: one account with what its team needs to know, and lists."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.enums import LinkKind
from app.accounts.models import Account, AccountLink
from app.csat.models import CsatSurvey
from app.errors import NotFound
from app.tickets.enums import OPEN_STATUSES
from app.tickets.models import Ticket

SUMMARY_WINDOW = timedelta(days=90)


@dataclass(frozen=True)
class AccountSummary:
    open_tickets: int
    recent_tickets: int  # opened in SUMMARY_WINDOW
    csat_average: float | None  # ratings in SUMMARY_WINDOW
    csat_ratings: int


async def account_summary(
    *, session: AsyncSession, account: Account, now: datetime
) -> AccountSummary:
    since = now - SUMMARY_WINDOW
    open_count = await session.scalar(
        select(func.count()).where(
            Ticket.account_id == account.id, Ticket.status.in_(OPEN_STATUSES)
        )
    )
    recent = await session.scalar(
        select(func.count()).where(Ticket.account_id == account.id, Ticket.created_at >= since)
    )
    average, ratings = (
        await session.execute(
            select(func.avg(CsatSurvey.rating), func.count(CsatSurvey.rating))
            .join(Ticket, Ticket.id == CsatSurvey.ticket_id)
            .where(Ticket.account_id == account.id, CsatSurvey.rated_at >= since)
        )
    ).one()
    return AccountSummary(
        open_tickets=open_count or 0,
        recent_tickets=recent or 0,
        csat_average=float(average) if average is not None else None,
        csat_ratings=ratings or 0,
    )


async def account_of_channel(
    *, session: AsyncSession, workspace_id: int, channel_id: str
) -> Account:
    """The account mapped to the channel, else the one most of its tickets belong to."""
    mapped = await session.scalar(
        select(Account)
        .join(AccountLink, AccountLink.account_id == Account.id)
        .where(
            AccountLink.workspace_id == workspace_id,
            AccountLink.kind == LinkKind.CHANNEL,
            AccountLink.key == channel_id,
        )
    )
    if mapped is not None:
        return mapped
    most = await session.scalar(
        select(Ticket.account_id)
        .where(
            Ticket.workspace_id == workspace_id,
            Ticket.channel_id == channel_id,
            Ticket.account_id.is_not(None),
        )
        .group_by(Ticket.account_id)
        .order_by(func.count().desc())
        .limit(1)
    )
    account = await session.get(Account, most) if most is not None else None
    if account is None:
        raise NotFound(
            "This channel has no account: name one (`/ticket account Acme`), or map this channel"
            " to one (`/ticket account map Acme #this-channel`)."
        )
    return account


async def list_accounts(
    *,
    session: AsyncSession,
    workspace_id: int,
    include_churned: bool = False,
    owner_user_id: str | None = None,
    limit: int = 100,
    after_id: int | None = None,
) -> list[Account]:
    """Accounts by name (then id), `limit` at a time after `after_id`'s name."""
    query = select(Account).where(Account.workspace_id == workspace_id)
    if not include_churned:
        query = query.where(Account.churned_at.is_(None))
    if owner_user_id is not None:
        query = query.where(Account.owner_user_id == owner_user_id)
    if after_id is not None:
        after = await session.get(Account, after_id)
        if after is not None:
            query = query.where(
                (Account.name > after.name)
                | ((Account.name == after.name) & (Account.id > after.id))
            )
    return list(await session.scalars(query.order_by(Account.name, Account.id).limit(limit)))


async def accounts_by_health(
    *, session: AsyncSession, workspace_id: int, limit: int
) -> list[Account]:
    """The accounts that have not churned, the least healthy first (unscored ones last)."""
    return list(
        await session.scalars(
            select(Account)
            .where(Account.workspace_id == workspace_id, Account.churned_at.is_(None))
            .order_by(Account.health_score.is_(None), Account.health_score, Account.name)
            .limit(limit)
        )
    )


async def account_names(*, session: AsyncSession, account_ids: list[int]) -> dict[int, str]:
    """Names by id, in one read."""
    if not account_ids:
        return {}
    rows = await session.execute(
        select(Account.id, Account.name).where(Account.id.in_(sorted(set(account_ids))))
    )
    return {account_id: name for account_id, name in rows}
