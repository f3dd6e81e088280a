"""Accounts as people read them (the REST API and the web dashboard show the same): each with
its links and at-risk flag, and one account in full."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts import service as accounts
from app.accounts.models import Account, AccountLink
from app.accounts.nps import nps_numbers
from app.accounts.queries import account_summary
from app.accounts.schemas import AccountDetail, AccountRead, AccountTicket
from app.accounts.scoring import HealthPolicy, health_history
from app.accounts.signals import NPS_WINDOW
from app.tickets.models import Ticket

RECENT_TICKETS = 20
HISTORY_DAYS = 90


async def account_reads(
    *, session: AsyncSession, listed: list[Account], policy: HealthPolicy
) -> list[AccountRead]:
    """The accounts with their links and at-risk flags, read at once."""
    if not listed:
        return []
    ids = [account.id for account in listed]
    links = list(await session.scalars(select(AccountLink).where(AccountLink.account_id.in_(ids))))
    return [
        AccountRead.of(
            account,
            [link for link in links if link.account_id == account.id],
            at_risk=account.churned_at is None
            and policy.at_risk(account.health_score, account.health_week_ago),
        )
        for account in listed
    ]


async def account_detail(
    *,
    session: AsyncSession,
    workspace_id: int,
    account_id: int,
    policy: HealthPolicy,
    now: datetime,
) -> AccountDetail:
    """One account in full: its numbers, 90 days of health, its latest tickets and its NPS."""
    account = await accounts.find_account(
        session=session, workspace_id=workspace_id, account_id=account_id
    )
    [read] = await account_reads(session=session, listed=[account], policy=policy)
    summary = await account_summary(session=session, account=account, now=now)
    history = await health_history(session=session, account_id=account.id, days=HISTORY_DAYS)
    tickets = await session.scalars(
        select(Ticket)
        .where(Ticket.account_id == account.id)
        .order_by(Ticket.created_at.desc(), Ticket.id.desc())
        .limit(RECENT_TICKETS)
    )
    recent = [
        AccountTicket(
            number=ticket.display_number,
            subject=ticket.subject,
            status=ticket.status.value,
            priority=ticket.priority.value,
            created_at=ticket.created_at,
            resolved_at=ticket.resolved_at,
        )
        for ticket in tickets
    ]
    [nps] = await nps_numbers(
        session=session,
        workspace_id=workspace_id,
        since=now - NPS_WINDOW,
        until=now,
        account_id=account.id,
    )
    return AccountDetail.build(read, summary, history, recent, nps)
