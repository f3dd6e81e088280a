"""Who is asked for a rating, and when: a workspace's CSAT settings and its opt-outs.

Leads change them from Slack (`/ticket csat ...`); everyone on the team may look.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.csat.enums import OptOutKind
from app.csat.models import CsatOptOut, CsatSettings
from app.errors import InvalidInput

DEFAULT_DELAY = timedelta(minutes=10)
MAX_DELAY = timedelta(days=7)


@dataclass(frozen=True)
class CsatChoices:
    """A workspace's CSAT settings with the defaults filled in."""

    enabled: bool
    delay: timedelta
    delay_is_default: bool
    include_internal: bool
    opted_out_channels: tuple[str, ...]
    opted_out_accounts: tuple[str, ...]


async def _settings_row(session: AsyncSession, workspace_id: int) -> CsatSettings | None:
    return await session.get(CsatSettings, workspace_id)


async def _row_for_change(session: AsyncSession, workspace_id: int, now: datetime) -> CsatSettings:
    row = await session.get(CsatSettings, workspace_id, with_for_update={"key_share": True})
    if row is None:
        row = CsatSettings(
            workspace_id=workspace_id, enabled=True, include_internal=True, updated_at=now
        )
        session.add(row)
    return row


def delay_of(row: CsatSettings | None) -> timedelta:
    if row is not None and row.delay_seconds is not None:
        return timedelta(seconds=row.delay_seconds)
    if row is not None and row.default_delay_seconds is not None:
        return timedelta(seconds=row.default_delay_seconds)
    return DEFAULT_DELAY


async def load_choices(*, session: AsyncSession, workspace_id: int) -> CsatChoices:
    row = await _settings_row(session, workspace_id)
    opt_outs = (
        await session.scalars(
            select(CsatOptOut)
            .where(CsatOptOut.workspace_id == workspace_id)
            .order_by(CsatOptOut.kind, CsatOptOut.label)
        )
    ).all()
    return CsatChoices(
        enabled=row.enabled if row is not None else True,
        delay=delay_of(row),
        delay_is_default=row is None or row.delay_seconds is None,
        include_internal=row.include_internal if row is not None else True,
        opted_out_channels=tuple(o.key for o in opt_outs if o.kind is OptOutKind.CHANNEL),
        opted_out_accounts=tuple(
            o.label or o.key for o in opt_outs if o.kind is OptOutKind.ACCOUNT
        ),
    )


async def record_default_delay(
    *, session: AsyncSession, workspace_id: int, delay: timedelta, now: datetime
) -> None:
    """Called at start-up with CSAT_DELAY_SECONDS: the delay of workspaces that set none."""
    row = await _row_for_change(session, workspace_id, now)
    row.default_delay_seconds = int(delay.total_seconds())


async def set_enabled(
    *, session: AsyncSession, workspace_id: int, enabled: bool, actor_id: str, now: datetime
) -> None:
    row = await _row_for_change(session, workspace_id, now)
    row.enabled, row.updated_by, row.updated_at = enabled, actor_id, now


async def set_delay(
    *, session: AsyncSession, workspace_id: int, delay: timedelta, actor_id: str, now: datetime
) -> None:
    if delay < timedelta(0) or delay > MAX_DELAY:
        raise InvalidInput("The CSAT delay must be between 0 and 7 days.")
    row = await _row_for_change(session, workspace_id, now)
    row.delay_seconds, row.updated_by, row.updated_at = int(delay.total_seconds()), actor_id, now


async def set_include_internal(
    *, session: AsyncSession, workspace_id: int, include: bool, actor_id: str, now: datetime
) -> None:
    row = await _row_for_change(session, workspace_id, now)
    row.include_internal, row.updated_by, row.updated_at = include, actor_id, now


def account_key(account: str) -> str:
    """Accounts are named by their Slack team id (T0123…) or their name, in any case."""
    account = " ".join(account.split())
    if not account:
        raise InvalidInput("Name the account, e.g. `Acme Corp`, or give its Slack team id.")
    return account if _looks_like_team_id(account) else account.lower()


def _looks_like_team_id(value: str) -> bool:
    return value[:1] in ("T", "E") and value.isalnum() and value.isupper() and len(value) >= 9


async def set_opt_out(
    *,
    session: AsyncSession,
    workspace_id: int,
    kind: OptOutKind,
    key: str,
    label: str,
    opted_out: bool,
    actor_id: str,
    now: datetime,
) -> bool:
    """Add or remove one opt-out; returns whether anything changed."""
    existing = await session.scalar(
        select(CsatOptOut).where(
            CsatOptOut.workspace_id == workspace_id, CsatOptOut.kind == kind, CsatOptOut.key == key
        )
    )
    if opted_out and existing is None:
        session.add(
            CsatOptOut(
                workspace_id=workspace_id,
                kind=kind,
                key=key,
                label=label[:255],
                created_by=actor_id,
                created_at=now,
            )
        )
        return True
    if not opted_out and existing is not None:
        await session.execute(delete(CsatOptOut).where(CsatOptOut.id == existing.id))
        return True
    return False


async def opted_out_reason(
    *,
    session: AsyncSession,
    workspace_id: int,
    channel_id: str,
    requester_team_id: str | None,
    account_name: str | None,
) -> str | None:
    """Why this channel or account is never asked, or None if it may be."""
    keys = {(OptOutKind.CHANNEL, channel_id)}
    if requester_team_id:
        keys.add((OptOutKind.ACCOUNT, requester_team_id))
    if account_name:
        keys.add((OptOutKind.ACCOUNT, account_key(account_name)))
    rows = (
        await session.scalars(
            select(CsatOptOut).where(
                CsatOptOut.workspace_id == workspace_id,
                CsatOptOut.key.in_([key for _, key in keys]),
            )
        )
    ).all()
    for row in rows:
        if (row.kind, row.key) in keys:
            return (
                "the channel opted out"
                if row.kind is OptOutKind.CHANNEL
                else ("the account opted out")
            )
    return None


async def settings_row(*, session: AsyncSession, workspace_id: int) -> CsatSettings | None:
    return await _settings_row(session, workspace_id)
