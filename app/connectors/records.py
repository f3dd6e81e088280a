"""Our records as a connector sends them: read as they stand when the call is made, so a row
waiting in the outbox always carries the latest status, priority or score."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.enums import LinkKind
from app.accounts.models import Account, AccountLink
from app.accounts.nps import nps_numbers
from app.accounts.queries import account_summary
from app.accounts.signals import NPS_WINDOW
from app.connectors.vendors.base import AccountRecord, CommentRecord, TicketRecord
from app.text_safety import readable
from app.tickets.enums import AuthorKind
from app.tickets.models import Ticket, TicketMessage


async def account_record(
    session: AsyncSession, account_id: int, now: datetime
) -> AccountRecord | None:
    account = await session.get(Account, account_id)
    if account is None:
        return None
    domains = await session.scalars(
        select(AccountLink.key)
        .where(AccountLink.account_id == account.id, AccountLink.kind == LinkKind.DOMAIN)
        .order_by(AccountLink.id)
    )
    summary = await account_summary(session=session, account=account, now=now)
    [numbers] = await nps_numbers(
        session=session,
        workspace_id=account.workspace_id,
        since=now - NPS_WINDOW,
        until=now,
        account_id=account.id,
    )
    return AccountRecord(
        id=account.id,
        name=account.name,
        domains=tuple(domains),
        tier=account.tier.value if account.tier else None,
        owner=account.owner_user_id,
        renewal_on=account.renewal_on.isoformat() if account.renewal_on else None,
        health_score=account.health_score,
        nps=numbers.nps,
        csat=round(summary.csat_average, 2) if summary.csat_average is not None else None,
        churned=account.churned_at is not None,
    )


async def ticket_record(
    session: AsyncSession, ticket_id: int, now: datetime
) -> TicketRecord | None:
    ticket = await session.get(Ticket, ticket_id)
    if ticket is None:
        return None
    first = await session.scalar(
        select(TicketMessage.text)
        .where(
            TicketMessage.ticket_id == ticket.id,
            TicketMessage.author_kind == AuthorKind.CUSTOMER,
            TicketMessage.deleted_at.is_(None),
        )
        .order_by(TicketMessage.created_at, TicketMessage.id)
        .limit(1)
    )
    account = await account_record(session, ticket.account_id, now) if ticket.account_id else None
    return TicketRecord(
        id=ticket.id,
        number=ticket.number,
        subject=ticket.subject,
        description=readable(first) if first else ticket.subject,
        status=ticket.status.value,
        priority=ticket.priority.value,
        # No user directory: the requester is named by their Slack id.
        requester_name=f"Slack user {ticket.requester_user_id}"
        if ticket.requester_user_id
        else None,
        requester_email=None,
        account=account,
        permalink=ticket.permalink,
        created_at=ticket.created_at,
    )


async def comment_record(session: AsyncSession, message_id: int) -> CommentRecord | None:
    message = await session.get(TicketMessage, message_id)
    if message is None or message.deleted_at is not None:
        return None
    return CommentRecord(
        id=message.id,
        ticket_id=message.ticket_id,
        body=readable(message.text),
        public=not message.is_internal,
        author_name=f"Slack user {message.author_user_id}" if message.author_user_id else None,
    )
