"""Writing to the outbox. Call inside the transaction of the change that owes the effect."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import scoped_to_transaction
from app.outbox.enums import OutboxKind, OutboxStatus
from app.outbox.models import OutboxMessage

# Set on a session that wrote outbox rows, so the commit hook wakes the dispatcher.
OUTBOX_WRITTEN = "ticketbot.outbox_written"
# The rows of a coalesce key this transaction knows to be waiting (None: none is): looked up
# ahead by `prefetch_waiting`, found by `enqueue`'s look-up (and locked), or added by it. A row
# added is not flushed at once (flush=False), and the session does not autoflush, so this is
# also how a second `enqueue` of the key in the same transaction finds it.
WAITING_BY_KEY = scoped_to_transaction("ticketbot.outbox_waiting")


# A waiting row of a coalesce key: pending and never claimed, or its claim recorded. Not "its
# lease ran out": a claim whose lease looks expired (a dispatcher that died, or a clock that
# jumped) may still be sending an older render; the change gets a row of its own, sent after
# it. Locked so no dispatcher claims (and renders) it before this transaction commits; NO KEY
# UPDATE, so rows referencing it (depends_on) may still be inserted meanwhile. Built once
# (building a statement costs more CPU than running it).
_WAITING_ROWS = select(OutboxMessage).where(
    OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.claimed_by.is_(None)
)
_WAITING = (
    _WAITING_ROWS.where(OutboxMessage.coalesce_key == bindparam("key"))
    .limit(1)
    .with_for_update(key_share=True)
)
_WAITING_AMONG = (
    _WAITING_ROWS.where(OutboxMessage.coalesce_key.in_(bindparam("keys", expanding=True)))
    .order_by(OutboxMessage.id)
    .with_for_update(key_share=True)
)


async def enqueue(
    *,
    session: AsyncSession,
    kind: OutboxKind,
    target: str,
    payload: dict[str, Any],
    now: datetime,
    workspace_id: int | None = None,
    depends_on: OutboxMessage | None = None,
    payload_from_dependency: dict[str, str] | None = None,
    on_delivered: str | None = None,
    on_delivered_args: dict[str, Any] | None = None,
    coalesce_key: str | None = None,
    coalesce: bool = True,
    flush: bool = True,
) -> OutboxMessage:
    """Add one delivery to the outbox; flushed (so its id can be depended upon) unless told not.

    `depends_on` holds this row back until that row is delivered; `payload_from_dependency` maps
    a field of this payload to a field of that row's result, e.g. `{"ts": "ts"}` for a
    `chat.update` of a message that is still being posted.

    With a `coalesce_key`, a row with the same key that is still waiting (pending and not being
    sent) is returned instead of adding another. Only for rows rendered at send time from the
    current state, where one delivery carries every change made before it. `coalesce=False`
    only tags a row with the key (so it can be found later) without looking for another.
    """
    if payload_from_dependency and depends_on is None:
        raise ValueError("payload_from_dependency needs depends_on")
    known: dict[str, OutboxMessage | None] = session.info.setdefault(WAITING_BY_KEY, {})
    if coalesce_key is not None and coalesce and _still_waiting(known, coalesce_key):
        waiting = known[coalesce_key]
        if waiting is not None:
            session.info[OUTBOX_WRITTEN] = True  # as below
            return waiting
    elif coalesce_key is not None and coalesce:
        waiting = await session.scalar(_WAITING, {"key": coalesce_key})
        if waiting is not None:
            # A dispatcher claiming meanwhile skipped the row this lock holds: wake it again
            # after the commit, or the row would wait for the next poll.
            session.info[OUTBOX_WRITTEN] = True
            known[coalesce_key] = waiting  # locked: it stays waiting until we commit
            return waiting
    message = OutboxMessage(
        kind=kind,
        target=target,
        payload=payload,
        status=OutboxStatus.PENDING,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
        workspace_id=workspace_id,
        depends_on_id=depends_on.id if depends_on is not None else None,
        payload_from_dependency=payload_from_dependency,
        on_delivered=on_delivered,
        on_delivered_args=on_delivered_args,
        coalesce_key=coalesce_key,
    )
    session.add(message)
    if flush:
        await session.flush()
    if coalesce_key is not None and known.get(coalesce_key) is None:
        known[coalesce_key] = message  # what the look-up would find once it is flushed
    session.info[OUTBOX_WRITTEN] = True
    return message


def _still_waiting(known: dict[str, OutboxMessage | None], key: str) -> bool:
    """Whether `known` answers for `key`: it does unless its row changed in this transaction
    since (failed with a dependency, say); then the look-up asks the database again."""
    if key not in known:
        return False
    row = known[key]
    if row is None or (row.status == OutboxStatus.PENDING and row.claimed_by is None):
        return True
    del known[key]
    return False


async def prefetch_waiting(*, session: AsyncSession, coalesce_keys: Iterable[str]) -> None:
    """Look up, in one statement and locked as `enqueue` locks them, the waiting rows of these
    coalesce keys, so that an `enqueue` with one of them later in this transaction needs no
    query of its own (a group of timers each redrawing its ticket's card)."""
    keys = sorted(set(coalesce_keys))
    if not keys:
        return
    rows = await session.scalars(_WAITING_AMONG, {"keys": keys})
    known = session.info.setdefault(WAITING_BY_KEY, {})
    for key in keys:
        known.setdefault(key, None)
    for row in rows:
        if row.coalesce_key is not None and known.get(row.coalesce_key) is None:
            known[row.coalesce_key] = row
        # A dispatcher claiming meanwhile skips what this lock holds: wake it after the commit
        # even if no change joins the row, or the row would wait for the next poll.
        session.info[OUTBOX_WRITTEN] = True


async def enqueue_slack_call(
    *,
    session: AsyncSession,
    method: str,
    payload: dict[str, Any],
    now: datetime,
    **options: Any,
) -> OutboxMessage:
    """Owe Slack one Web API call (`chat.postMessage`, `chat.update`, ...)."""
    return await enqueue(
        session=session,
        kind=OutboxKind.SLACK_API,
        target=method,
        payload=payload,
        now=now,
        **options,
    )


async def fail_waiting(
    *, session: AsyncSession, workspace_id: int, kind: OutboxKind, reason: str
) -> int:
    """Fail, with `reason`, every row of one kind a workspace is still owed and no dispatcher
    is sending (a row being sent is recorded by its sender). Returns how many."""
    result = await session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.workspace_id == workspace_id,
            OutboxMessage.kind == kind,
            OutboxMessage.status == OutboxStatus.PENDING,
            OutboxMessage.claimed_by.is_(None),
        )
        .values(status=OutboxStatus.FAILED, last_error=reason[:2000])
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)
