"""Accounts: found (or made) for a ticket, changed by leads, linked to Slack teams, channels
and email domains. The one writer of accounts and their links."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.enums import LinkKind, Tier
from app.accounts.models import Account, AccountLink, ChannelDeparture
from app.errors import Conflict, InvalidInput, NotFound
from app.team.service import get_role
from app.tickets.models import Ticket

NAME_LIMIT = 255
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


def clean_name(name: str) -> str:
    cleaned = " ".join(name.split())
    if not cleaned:
        raise InvalidInput("An account needs a name.", field="name")
    if len(cleaned) > NAME_LIMIT:
        raise InvalidInput(f"An account name holds at most {NAME_LIMIT} characters.", field="name")
    return cleaned


def clean_domain(domain: str) -> str:
    """`Acme.com`, `@acme.com` or `someone@acme.com` -> `acme.com`."""
    cleaned = domain.strip().lower().rpartition("@")[2].rstrip(".")
    if not _DOMAIN.match(cleaned):
        raise InvalidInput(f"`{domain[:60]}` is not an email domain like acme.com.", field="domain")
    return cleaned


async def find_account(*, session: AsyncSession, workspace_id: int, account_id: int) -> Account:
    account = await session.get(Account, account_id)
    if account is None or account.workspace_id != workspace_id:
        raise NotFound(f"There is no account {account_id}.")
    return account


async def find_account_named(*, session: AsyncSession, workspace_id: int, name: str) -> Account:
    """By name, in any case (the name as a lead types it)."""
    wanted = " ".join(name.split()).lower()
    account = await session.scalar(
        select(Account).where(
            Account.workspace_id == workspace_id, func.lower(Account.name) == wanted
        )
    )
    if account is None:
        raise NotFound(f"There is no account named “{name[:80]}”.")
    return account


async def linked_account(
    *, session: AsyncSession, workspace_id: int, kind: LinkKind, key: str
) -> Account | None:
    return await session.scalar(
        select(Account)
        .join(AccountLink, AccountLink.account_id == Account.id)
        .where(
            AccountLink.workspace_id == workspace_id,
            AccountLink.kind == kind,
            AccountLink.key == key,
        )
    )


async def links_of(*, session: AsyncSession, account: Account) -> list[AccountLink]:
    return list(
        await session.scalars(
            select(AccountLink)
            .where(AccountLink.account_id == account.id)
            .order_by(AccountLink.kind, AccountLink.key)
        )
    )


async def create_account(
    *,
    session: AsyncSession,
    workspace_id: int,
    name: str,
    now: datetime,
    created_by: str | None = None,
) -> Account:
    name = clean_name(name)
    taken = await session.scalar(
        select(Account.id).where(
            Account.workspace_id == workspace_id, func.lower(Account.name) == name.lower()
        )
    )
    if taken is not None:
        raise Conflict(f"There is already an account named “{name}”.", field="name")
    account = Account(
        workspace_id=workspace_id,
        name=name,
        crm_ids={},
        created_by=created_by,
        created_at=now,
        updated_at=now,
    )
    session.add(account)
    await session.flush()
    return account


async def account_for_team(
    *, session: AsyncSession, workspace_id: int, team_id: str, name: str | None, now: datetime
) -> Account:
    """The account of a Slack Connect organisation, made the first time one of its people asks
    for help: named after the organisation (its team id until team.info says)."""
    found = await linked_account(
        session=session, workspace_id=workspace_id, kind=LinkKind.SLACK_TEAM, key=team_id
    )
    if found is not None:
        if name and found.name == team_id:  # named by its id until now
            await name_team_account(session=session, team_id=team_id, name=name, now=now)
        return found
    wanted = name or team_id
    account = await session.scalar(
        select(Account).where(Account.workspace_id == workspace_id, Account.name == wanted)
    )
    if account is None:
        free = await _free_name(session, workspace_id, wanted, team_id)
        account = await _account_named(session, workspace_id, free, now)
    # Two first tickets of a new organisation at once: one link, and both find it.
    await session.execute(
        _insert(session, AccountLink)
        .values(
            workspace_id=workspace_id,
            account_id=account.id,
            kind=LinkKind.SLACK_TEAM,
            key=team_id,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["workspace_id", "kind", "key"])
    )
    linked = await linked_account(
        session=session, workspace_id=workspace_id, kind=LinkKind.SLACK_TEAM, key=team_id
    )
    assert linked is not None
    return linked


def _insert(session: AsyncSession, table: type[Account] | type[AccountLink]) -> Any:
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


async def _account_named(
    session: AsyncSession, workspace_id: int, name: str, now: datetime
) -> Account:
    """The account of exactly this name, made if there is none (safe when two transactions
    make it at once: the second waits for the first and takes its row)."""
    made = await session.scalar(
        _insert(session, Account)
        .values(workspace_id=workspace_id, name=name, crm_ids={}, created_at=now, updated_at=now)
        .on_conflict_do_nothing(index_elements=["workspace_id", "name"])
        .returning(Account.id)
    )
    if made is None:
        made = await session.scalar(
            select(Account.id).where(Account.workspace_id == workspace_id, Account.name == name)
        )
    account = await session.get(Account, made)
    assert account is not None
    return account


async def _free_name(session: AsyncSession, workspace_id: int, name: str, team_id: str) -> str:
    """`name`, or `name (T0123)` when another account (not this team's) has it already."""
    taken = await session.scalar(
        select(Account.id).where(
            Account.workspace_id == workspace_id, func.lower(Account.name) == name.lower()
        )
    )
    return name if taken is None else f"{name} ({team_id})"[:NAME_LIMIT]


async def name_team_account(
    *, session: AsyncSession, team_id: str, name: str, now: datetime
) -> None:
    """team.info answered: an account still named by its team id takes the organisation's name
    (in every workspace that has one; a lead's own name for it stays)."""
    accounts = await session.scalars(
        select(Account)
        .join(AccountLink, AccountLink.account_id == Account.id)
        .where(
            AccountLink.kind == LinkKind.SLACK_TEAM,
            AccountLink.key == team_id,
            Account.name == team_id,
        )
    )
    for account in accounts:
        account.name = await _free_name(session, account.workspace_id, name, team_id)
        account.updated_at = now
        await session.execute(
            update(Ticket)
            .where(Ticket.account_id == account.id, Ticket.account_name == team_id)
            .values(account_name=account.name)
        )


async def account_for_request(
    *,
    session: AsyncSession,
    workspace_id: int,
    external_team_id: str | None,
    team_name: str | None,
    channel_id: str | None,
    email: str | None,
    account_name: str | None,
    now: datetime,
) -> Account | None:
    """The account a new ticket belongs to: its Slack Connect organisation's; else the account
    its channel is mapped to; else its email's domain's; else the one its sender named (an
    inbound webhook), made if new. None: an internal request with no account."""
    if external_team_id:
        return await account_for_team(
            session=session,
            workspace_id=workspace_id,
            team_id=external_team_id,
            name=team_name,
            now=now,
        )
    for kind, key in ((LinkKind.CHANNEL, channel_id), (LinkKind.DOMAIN, _domain_of(email))):
        if key:
            found = await linked_account(
                session=session, workspace_id=workspace_id, kind=kind, key=key
            )
            if found is not None:
                return found
    if account_name:
        try:
            return await find_account_named(
                session=session, workspace_id=workspace_id, name=account_name
            )
        except NotFound:
            return await _account_named(session, workspace_id, clean_name(account_name), now)
    return None


def _domain_of(email: str | None) -> str | None:
    if not email or "@" not in email:
        return None
    try:
        return clean_domain(email)
    except InvalidInput:
        return None


@dataclass(frozen=True)
class Linked:
    """A link made; `moved_from` names the account that had the key before."""

    link: AccountLink
    moved_from: str | None = None


async def link(
    *,
    session: AsyncSession,
    account: Account,
    kind: LinkKind,
    key: str,
    now: datetime,
    move_tickets: bool = True,
) -> Linked:
    """Tie a channel, domain or Slack team to the account (taken from another account if it
    had it). A channel's tickets without an account, or with the previous one, follow it."""
    key = clean_domain(key) if kind is LinkKind.DOMAIN else key
    existing = await session.scalar(
        select(AccountLink).where(
            AccountLink.workspace_id == account.workspace_id,
            AccountLink.kind == kind,
            AccountLink.key == key,
        )
    )
    moved_from: str | None = None
    if existing is not None:
        if existing.account_id == account.id:
            return Linked(existing)
        previous = await session.get(Account, existing.account_id)
        moved_from = previous.name if previous else None
        existing.account_id = account.id
        made = existing
    else:
        made = AccountLink(
            workspace_id=account.workspace_id,
            account_id=account.id,
            kind=kind,
            key=key,
            created_at=now,
        )
        session.add(made)
    if move_tickets and kind is LinkKind.CHANNEL:
        await session.execute(
            update(Ticket)
            .where(
                Ticket.workspace_id == account.workspace_id,
                Ticket.channel_id == key,
                Ticket.is_external.is_(False),
            )
            .values(account_id=account.id, account_name=account.name)
        )
    account.updated_at = now
    await session.flush()
    return Linked(made, moved_from)


async def unlink(*, session: AsyncSession, account: Account, kind: LinkKind, key: str) -> None:
    key = clean_domain(key) if kind is LinkKind.DOMAIN else key
    found = await session.scalar(
        select(AccountLink).where(
            AccountLink.account_id == account.id, AccountLink.kind == kind, AccountLink.key == key
        )
    )
    if found is None:
        raise NotFound(f"{account.name} has no {kind.value.replace('_', ' ')} {key}.")
    await session.delete(found)


@dataclass(frozen=True)
class AccountChanges:
    """What a lead changes about an account; `...` (Ellipsis) leaves a field as it is, None
    clears it."""

    name: str | Any = ...
    owner_user_id: str | Any | None = ...
    tier: Tier | Any | None = ...
    renewal_on: date | Any | None = ...
    annual_revenue: int | Any | None = ...
    crm_ids: dict[str, str] | Any = ...
    churned: bool | Any = ...


async def change_account(
    *, session: AsyncSession, account: Account, changes: AccountChanges, now: datetime
) -> list[str]:
    """Apply the changes; returns the names of the fields that changed."""
    changed: list[str] = []
    if changes.name is not ... and clean_name(changes.name) != account.name:
        name = clean_name(changes.name)
        taken = await session.scalar(
            select(Account.id).where(
                Account.workspace_id == account.workspace_id,
                func.lower(Account.name) == name.lower(),
                Account.id != account.id,
            )
        )
        if taken is not None:
            raise Conflict(f"There is already an account named “{name}”.", field="name")
        account.name = name
        changed.append("name")
    owner = changes.owner_user_id
    if isinstance(owner, str) and owner != account.owner_user_id:
        role = await get_role(session=session, workspace_id=account.workspace_id, user_id=owner)
        if role is None:
            raise InvalidInput(
                "{owner} is not on the support team: add them first"
                " (`/ticket team add @someone agent`).",
                field="owner",
                people={"owner": owner},
            )
    for field in ("owner_user_id", "tier", "renewal_on", "annual_revenue"):
        value = getattr(changes, field)
        if value is not ... and getattr(account, field) != value:
            if field == "annual_revenue" and value is not None and value < 0:
                raise InvalidInput("Revenue cannot be negative.", field="annual_revenue")
            setattr(account, field, value)
            changed.append(field)
    if changes.crm_ids is not ...:
        merged = {**(account.crm_ids or {}), **changes.crm_ids}
        merged = {system: value for system, value in merged.items() if value}
        if merged != account.crm_ids:
            account.crm_ids = merged
            changed.append("crm_ids")
    if changes.churned is not ...:
        if changes.churned and account.churned_at is None:
            account.churned_at = now
            changed.append("churned_at")
        elif not changes.churned and account.churned_at is not None:
            account.churned_at = None
            changed.append("churned_at")
    if changed:
        account.updated_at = now
    return changed


async def record_departure(
    *, session: AsyncSession, workspace_id: int, channel_id: str, user_id: str, now: datetime
) -> None:
    session.add(
        ChannelDeparture(
            workspace_id=workspace_id, channel_id=channel_id, user_id=user_id, left_at=now
        )
    )


DEPARTURES_KEPT = timedelta(days=90)  # longer than any health window that reads them


async def prune_departures(*, session: AsyncSession, now: datetime) -> int:
    result = await session.execute(
        delete(ChannelDeparture).where(ChannelDeparture.left_at < now - DEPARTURES_KEPT)
    )
    return int(getattr(result, "rowcount", 0) or 0)
