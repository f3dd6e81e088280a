"""Publishing the Home tab: queued through the outbox as a render spec, coalesced per user.

The tab is rendered from the database when the `views.publish` is sent, so one pending publish
shows every change made before it goes out. Only users who have opened the tab (a `home_tabs`
row) get republished when tickets change: nobody else would see it, and each publish is a call.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import cached_read, read_cache
from app.home.models import HomeTab
from app.outbox.service import enqueue_slack_call

HOME_VIEW = "home"


def home_key(workspace_id: int, user_id: str) -> str:
    return f"home:{workspace_id}:{user_id}"


async def home_tab_opened(
    *, session: AsyncSession, workspace_id: int, user_id: str, now: datetime
) -> None:
    """Remember that the user looks at the tab, and publish it as it is now."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = insert(HomeTab).values(
        workspace_id=workspace_id, user_id=user_id, last_opened_at=now
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[HomeTab.workspace_id, HomeTab.user_id],
            set_={"last_opened_at": statement.excluded.last_opened_at},
        )
    )
    await _publish(session, workspace_id, user_id, now)


async def refresh_home_tabs(
    *, session: AsyncSession, workspace_id: int, user_ids: Iterable[str | None], now: datetime
) -> None:
    """Republish the Home tabs of these users, for those who have opened theirs."""
    wanted = list(dict.fromkeys(user_id for user_id in user_ids if user_id))
    if not wanted:
        return
    cache = read_cache(session)
    if cache is None:
        opened = await _openers(session, workspace_id, among=wanted)
    elif all(_opened_key(workspace_id, user_id) in cache for user_id in wanted):
        opened = sorted(user_id for user_id in wanted if cache[_opened_key(workspace_id, user_id)])
    else:  # a group of timers: who opened a tab, asked once for them all
        everyone = await cached_read(
            session, ("home_tabs", workspace_id), lambda: _opener_set(session, workspace_id)
        )
        opened = sorted(user_id for user_id in wanted if user_id in everyone)
    for user_id in opened:
        await _publish(session, workspace_id, user_id, now)


async def read_home_tabs_ahead(
    *, session: AsyncSession, workspace_id: int, user_ids: Iterable[str | None]
) -> None:
    """Find out now which of these users opened their Home tab, so that refreshing their tabs
    later in this transaction reads nothing (intake reads before it takes a ticket number).
    Only where the session caches reads."""
    cache = read_cache(session)
    if cache is None:
        return
    wanted = [user_id for user_id in dict.fromkeys(user_ids) if user_id]
    missing = [user_id for user_id in wanted if _opened_key(workspace_id, user_id) not in cache]
    if not missing:
        return
    opened = set(await _openers(session, workspace_id, among=missing))
    for user_id in missing:
        cache[_opened_key(workspace_id, user_id)] = user_id in opened


def _opened_key(workspace_id: int, user_id: str) -> tuple[str, int, str]:
    return ("home_tab_opened", workspace_id, user_id)


async def _opener_set(session: AsyncSession, workspace_id: int) -> frozenset[str]:
    return frozenset(await _openers(session, workspace_id))


_OPENERS = (
    select(HomeTab.user_id)
    .where(HomeTab.workspace_id == bindparam("workspace_id"))
    .order_by(HomeTab.user_id)
)
# Built once: asked for every new ticket (see app/tickets/service.py).
_OPENERS_AMONG = _OPENERS.where(HomeTab.user_id.in_(bindparam("among", expanding=True)))


async def _openers(
    session: AsyncSession, workspace_id: int, among: list[str] | None = None
) -> list[str]:
    if among is None:
        return list(await session.scalars(_OPENERS, {"workspace_id": workspace_id}))
    return list(
        await session.scalars(_OPENERS_AMONG, {"workspace_id": workspace_id, "among": among})
    )


async def _publish(session: AsyncSession, workspace_id: int, user_id: str, now: datetime) -> None:
    await enqueue_slack_call(
        session=session,
        method="views.publish",
        payload={
            "user_id": user_id,
            "$render": {"view": HOME_VIEW, "workspace_id": workspace_id, "user_id": user_id},
        },
        now=now,
        workspace_id=workspace_id,
        coalesce_key=home_key(workspace_id, user_id),
    )
