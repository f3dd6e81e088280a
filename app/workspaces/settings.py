"""What rarely changes about a workspace, read once per replica rather than once per ticket.

A workspace's SLA policies, business hours and webhook subscriptions are read for every new
ticket and every SLA timer, and change a few times a year. Each replica keeps them in memory
(the session factory's `VersionedCache`) under the workspace row's `settings_version`. Whoever
changes one calls `settings_changed` in the same transaction, which bumps the version under
the row's lock; every replica reads the row in its next transaction (intake has it already),
finds another version and reads afresh. A transaction that changed them reads them from the
database for the rest of its life and keeps nothing for others: what it saw may roll back.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable
from typing import TypeVar, cast

from sqlalchemy.ext.asyncio import AsyncSession

from app.db import SHARED_CACHE, VersionedCache, cached_read, scoped_to_transaction
from app.workspaces.models import Workspace

_T = TypeVar("_T")

# Workspaces whose settings this transaction changed.
_CHANGED = scoped_to_transaction("ticketbot.settings_changed")
# The settings version of each workspace, as this transaction first read it.
_VERSIONS = scoped_to_transaction("ticketbot.settings_versions")


async def settings_read(
    session: AsyncSession, workspace_id: int, key: Hashable, load: Callable[[], Awaitable[_T]]
) -> _T:
    """`load()`, or what it gave at the workspace's current settings version."""
    shared: VersionedCache | None = session.info.get(SHARED_CACHE)
    if shared is None or workspace_id in session.info.get(_CHANGED, ()):
        return await cached_read(session, key, load)
    version = await _version(session, workspace_id)
    if version is None:
        return await load()
    answers = shared.answers(workspace_id, version)
    if key not in answers:
        answers[key] = await load()
    return cast(_T, answers[key])


async def _version(session: AsyncSession, workspace_id: int) -> int | None:
    """The workspace's settings version, read once per transaction (no query at all where the
    transaction has the workspace loaded already, as intake has)."""
    versions: dict[int, int | None] = session.info.setdefault(_VERSIONS, {})
    if workspace_id not in versions:
        workspace = await session.get(Workspace, workspace_id)
        versions[workspace_id] = None if workspace is None else workspace.settings_version
    return versions[workspace_id]


async def settings_changed(session: AsyncSession, workspace_id: int) -> None:
    """Call in the transaction that changes the workspace's SLA policies, business hours or
    webhook subscriptions: every replica reads them afresh once it commits."""
    workspace = await session.get(
        Workspace, workspace_id, with_for_update={"key_share": True}, populate_existing=True
    )
    if workspace is None:
        return
    workspace.settings_version += 1
    session.info.setdefault(_CHANGED, set()).add(workspace_id)
