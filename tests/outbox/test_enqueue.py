"""Writing to the outbox: coalescing into a waiting row, with and without a look-up ahead."""

from __future__ import annotations

from sqlalchemy import func, select

from app.db import cache_reads, cached_read
from app.outbox.enums import OutboxStatus
from app.outbox.models import OutboxMessage
from app.outbox.service import enqueue_slack_call, prefetch_waiting


async def _update(session, clock, key: str, text: str, *, flush: bool = True) -> OutboxMessage:
    return await enqueue_slack_call(
        session=session,
        method="chat.update",
        payload={"channel": "CTRIAGE", "ts": "1.000001", "text": text},
        now=clock.now(),
        coalesce_key=key,
        flush=flush,
    )


async def _rows(session_factory) -> list[tuple[str | None, OutboxStatus]]:
    async with session_factory() as session:
        rows = await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
        return [(row.coalesce_key, row.status) for row in rows]


async def test_a_look_up_ahead_coalesces_as_the_look_up_would(session_factory, clock):
    """A group of timers looks up its cards' waiting updates at once: an update whose card has
    one waiting joins it, one whose card has none adds a row, and a second for that card joins
    the row the first added."""
    async with session_factory() as session, session.begin():
        waiting = await _update(session, clock, "card:1", "an earlier change")
        sent = await _update(session, clock, "card:3", "being sent")
        sent.claimed_by = "another replica"  # a claim in flight: not to be joined

    async with session_factory() as session, session.begin():
        await prefetch_waiting(session=session, coalesce_keys=["card:1", "card:2", "card:3"])
        joined = await _update(session, clock, "card:1", "breached")
        first = await _update(session, clock, "card:2", "at risk")
        second = await _update(session, clock, "card:2", "breached")
        behind_the_claim = await _update(session, clock, "card:3", "breached")
        unlooked = await _update(session, clock, "card:4", "at risk")
        await session.flush()
        assert joined.id == waiting.id
        assert second.id == first.id and first.id != waiting.id
        assert behind_the_claim.id != sent.id
        assert unlooked.id not in {waiting.id, first.id, sent.id, behind_the_claim.id}

    assert sorted(key for key, _ in await _rows(session_factory)) == [
        "card:1",
        "card:2",
        "card:3",
        "card:3",
        "card:4",
    ]


async def test_reads_are_cached_only_where_turned_on_and_only_for_that_session(
    session_factory, clock
):
    async def count() -> int:
        return int(await session.scalar(select(func.count()).select_from(OutboxMessage)) or 0)

    async with session_factory() as session, session.begin():
        assert await cached_read(session, "rows", count) == 0
        await _update(session, clock, "card:1", "one")
        assert await cached_read(session, "rows", count) == 1  # not turned on: read again

    async with session_factory() as session, session.begin():
        cache_reads(session)
        assert await cached_read(session, "rows", count) == 1
        await _update(session, clock, "card:2", "two")
        assert await cached_read(session, "rows", count) == 1  # the answer kept

    async with session_factory() as session, session.begin():
        cache_reads(session)
        assert await cached_read(session, "rows", count) == 2  # a new transaction asks again


async def test_a_row_added_unflushed_is_found_by_the_next_enqueue_of_its_key(
    session_factory, clock
):
    """Card updates are added without a flush, and sessions do not autoflush: a second change
    of the card in the same transaction still joins the first row, and a later transaction of
    the same session looks in the database again."""
    async with session_factory() as session:
        async with session.begin():
            first = await _update(session, clock, "card:1", "assigned", flush=False)
            again = await _update(session, clock, "card:1", "prioritised", flush=False)
            assert again is first
        async with session.begin():
            row = await session.get(OutboxMessage, first.id)
            assert row is not None
            row.claimed_by = "a dispatcher"  # sent meanwhile: no longer to be joined
            await session.flush()
            later = await _update(session, clock, "card:1", "resolved")
            assert later.id != first.id

    assert [key for key, _ in await _rows(session_factory)] == ["card:1", "card:1"]
