"""The timer sweep: claims due timers and runs their handlers, a group of timers per transaction.

Each transaction claims up to `group_size` due timers (`FOR NO KEY UPDATE SKIP LOCKED` on
PostgreSQL, so replicas sweeping at once take different timers; on SQLite `BEGIN IMMEDIATE`
serialises writers), lets each kind's `prepare` hook load or lock in one statement what its
handlers need, runs the handlers and marks the timers done. Every handler's writes (outbox
rows, ticket state) and its timer's `done_at` commit together or not at all: a crash leaves the
timers due and nothing sent, and the next sweep (here or on another replica) does them once.

A group stops taking timers after `group_seconds` (the rest stay due for the next group):
on SQLite the transaction holds the process's one writer, and a command or an event waiting
behind a long group would feel it. If any timer of a group raises or finds a row held
(TimerBusy), the group's transaction is rolled back whole and its timers are taken again one
per transaction: a handler that raises then has its failure recorded in a second short
transaction that counts the attempt and moves `due_at` out by a backoff (or, after
`max_attempts`, cancels the timer with the reason in its payload), and a busy timer is left for
the next sweep. One bad timer never holds back the others. A timer whose kind has no handler
is cancelled.

Why groups (this machine type, `bench/sla_sweep.py`): one transaction per timer paid a
connection checkout, a claim, a lock of its ticket and a commit for each timer; a group pays
them once. No savepoint per timer: on the happy path it costs 20-30 % more, and a failure is
rare enough to pay for the group's retry one by one.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.clock import Clock
from app.db import cache_reads
from app.timers.handlers import TimerBusy, TimerHandlers
from app.timers.models import Timer
from app.timers.service import SWEEP_NOTES, first_due_at

logger = logging.getLogger(__name__)

MAX_ERROR_LENGTH = 1000
SQLITE_GROUP_SECONDS = 0.05
IDENTITY_LENGTH = 64


@dataclass(frozen=True)
class TimerSweeperSettings:
    batch_size: int = 100
    # Timers handled in one transaction (1: one transaction per timer), and how long one such
    # group may run before it stops taking timers. On PostgreSQL a group holds only its own
    # timers and tickets; on SQLite it holds the one writer, so it is kept short there
    # (`for_interval(..., sqlite=True)`).
    group_size: int = 100
    group_seconds: float = 0.25
    max_attempts: int = 8
    # Handled more than this after first due: the handler is told it is late.
    late_after: timedelta = timedelta(seconds=30)
    retry_base: timedelta = timedelta(seconds=15)
    retry_cap: timedelta = timedelta(hours=1)
    # sweep_until_idle stops after this many full batches; the next run carries on.
    max_rounds: int = 50

    @classmethod
    def for_interval(
        cls, interval: timedelta, *, sqlite: bool = False, **overrides: Any
    ) -> TimerSweeperSettings:
        """Defaults for a sweep every `interval`: late after two intervals, first retry at the
        next sweep; on SQLite, groups short enough that a command waiting for the writer
        hardly notices (bench/sla_sweep.py: 50 ms groups sweep 1,000 timers in 2.6 s)."""
        values: dict[str, Any] = {"late_after": 2 * interval, "retry_base": interval}
        if sqlite:
            values.update(group_size=50, group_seconds=SQLITE_GROUP_SECONDS)
        values.update(overrides)
        return cls(**values)


class TimerOutcome(StrEnum):
    DONE = "done"
    BUSY = "busy"  # a row it needs was held elsewhere: left due for the next sweep
    RESCHEDULED = "rescheduled"  # the handler moved its own timer (schedule_timer, same key)
    RETRY = "retry"
    GAVE_UP = "gave_up"
    UNKNOWN_KIND = "unknown_kind"


@dataclass(frozen=True)
class _Claim:
    """A claimed timer as the handler found it, to recognise it when recording a failure."""

    id: int
    key: str | None
    attempts: int
    due_at: datetime
    first_due: datetime


class _HandlerFailed(Exception):
    def __init__(self, claim: _Claim, error: Exception) -> None:
        super().__init__(str(error))
        self.claim = claim
        self.error = error


class _GroupFailed(Exception):
    """Writing a group's work failed: which timer's, the timers taken alone will tell."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


class TimerSweeper:
    def __init__(
        self,
        *,
        session_factory: async_sessionmaker[AsyncSession],
        clock: Clock,
        handlers: TimerHandlers,
        settings: TimerSweeperSettings | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._session_factory = session_factory
        self._clock = clock
        self._handlers = handlers
        self._settings = settings or TimerSweeperSettings()
        self._rng = rng or random.Random()
        self._seconds_per_timer = max(
            self._settings.group_seconds / max(self._settings.group_size, 1), 1e-5
        )
        identity = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self.identity = identity[-IDENTITY_LENGTH:]

    @property
    def settings(self) -> TimerSweeperSettings:
        return self._settings

    async def sweep_once(self, busy: set[int] | None = None) -> int:
        """Handle up to one batch of due timers; returns how many were handled (including
        those that failed and were put off or given up, and those found busy). Timers found
        busy go into `busy` and are not taken again by this sweep."""
        busy = set() if busy is None else busy
        handled = 0
        while handled < self._settings.batch_size:
            limit = min(self._settings.group_size, self._settings.batch_size - handled)
            done = await self.handle_group(busy, limit)
            if done is None:
                break
            handled += done
        return handled

    async def sweep_until_idle(self) -> int:
        """Sweep batch after batch until one comes back short (what the scheduler job runs)."""
        total, busy = 0, set[int]()
        for _ in range(self._settings.max_rounds):
            handled = await self.sweep_once(busy)
            total += handled
            if handled < self._settings.batch_size:
                break
        return total

    def _due(self, now: datetime, busy: set[int]) -> Select[Timer]:
        query = (
            select(Timer)
            .where(Timer.done_at.is_(None), Timer.cancelled_at.is_(None), Timer.due_at <= now)
            .order_by(Timer.due_at, Timer.id)
            .with_for_update(skip_locked=True, key_share=True)
        )
        return query.where(Timer.id.not_in(busy)) if busy else query

    async def handle_group(self, busy: set[int], limit: int) -> int | None:
        """Claim up to `limit` due timers and handle them in one transaction, their effects and
        done marks committed together. Returns how many it took (handled, failed, found busy,
        or found changed by another writer when taken again alone), None when nothing is due.

        The group stops taking timers once it has run for `group_seconds` (the rest are left
        due, for the next group): on SQLite the transaction holds the one writer. If any timer
        of the group fails or finds a row held, the whole transaction is rolled back and its
        timers are handled one at a time, so one bad timer never holds back the others.
        """
        # As many as fit in the group's time at the pace measured so far (claiming more only
        # to release them again would load and lock them for nothing).
        limit = min(limit, max(1, int(self._settings.group_seconds / self._seconds_per_timer)))
        if limit <= 1:
            return None if await self.handle_next(busy) is None else 1
        claimed: list[int] = []
        try:
            async with self._session_factory() as session, session.begin():
                now = self._clock.now()
                timers = list(await session.scalars(self._due(now, busy).limit(limit)))
                if not timers:
                    return None
                claimed = [timer.id for timer in timers]
                started = time.monotonic()
                cache_reads(session)  # the group's handlers ask the same questions
                await self._prepare(session, timers)
                handled, previous = 0, None
                for timer in timers:
                    handler = self._handlers.get(timer.kind)
                    if previous is not None and handler is not previous:
                        # Sessions do not autoflush: what one kind of handler wrote must be
                        # in the database before another kind reads (a digest counting the
                        # tickets an auto-close just closed). One kind's writes are batched.
                        await self._flush_group(session)
                    previous = handler
                    await self._handle(session, timer, now, flush=False)
                    handled += 1
                    if time.monotonic() - started > self._settings.group_seconds:
                        break
                await self._flush_group(session)
                self._note_pace((time.monotonic() - started) / handled)
                return handled
        except (TimerBusy, _HandlerFailed, _GroupFailed) as exc:  # rolled back whole
            reason = exc.error if isinstance(exc, _HandlerFailed | _GroupFailed) else exc
            logger.info(
                "a group of %d timers was rolled back (%s: %s); handling them one at a time",
                len(claimed),
                type(reason).__name__,
                reason,
            )
        for timer_id in claimed:
            if timer_id not in busy:  # if it changed meanwhile (rescheduled, taken), its new
                await self.handle_next(busy, only=timer_id)  # state stands: nothing to do
        return len(claimed)

    async def _flush_group(self, session: AsyncSession) -> None:
        try:
            await session.flush()
        except Exception as exc:
            raise _GroupFailed(exc) from exc

    def _note_pace(self, seconds_per_timer: float) -> None:
        """A moving average of how long one timer of a group takes to handle."""
        self._seconds_per_timer = 0.7 * self._seconds_per_timer + 0.3 * max(seconds_per_timer, 1e-5)

    async def _prepare(self, session: AsyncSession, timers: list[Timer]) -> None:
        """Each kind's group hook, once, with its timers (see `TimerGroupPrepare`)."""
        by_kind: dict[str, list[Timer]] = {}
        for timer in timers:
            by_kind.setdefault(timer.kind, []).append(timer)
        for kind, group in by_kind.items():
            prepare = self._handlers.prepare_for(kind)
            if prepare is not None:
                await prepare(session, group)

    async def handle_next(
        self, busy: set[int] | None = None, *, only: int | None = None
    ) -> TimerOutcome | None:
        """Claim the earliest due timer no one else holds (or timer `only`, if it is still due
        and free) and handle it, in one transaction. None when nothing is due. A timer whose
        handler finds a row it needs held elsewhere is left as it was and added to `busy`,
        which this call and later ones pass over."""
        busy = set() if busy is None else busy
        claimed: int | None = None
        try:
            async with self._session_factory() as session, session.begin():
                now = self._clock.now()
                query = self._due(now, busy).limit(1)
                if only is not None:
                    query = query.where(Timer.id == only)
                timer = await session.scalar(query)
                if timer is None:
                    return None
                claimed = timer.id
                return await self._handle(session, timer, now)
        except TimerBusy as held:  # rolled back: the timer is as it was, due
            assert claimed is not None
            busy.add(claimed)
            logger.info("timer %s left for the next sweep: %s", claimed, held)
            return TimerOutcome.BUSY
        except _HandlerFailed as failure:  # its transaction, and all the handler wrote, are gone
            return await self._record_failure(failure)

    async def _handle(
        self, session: AsyncSession, timer: Timer, now: datetime, *, flush: bool = True
    ) -> TimerOutcome:
        """Run the timer's handler and mark the timer. `flush=False` (a group) leaves what it
        wrote to be written with the rest of the group, whose failure is then the group's."""
        handler = self._handlers.get(timer.kind)
        if handler is None:
            reason = f"no handler for timer kind {timer.kind!r}"
            logger.error("timer %s (%s) cancelled: %s", timer.id, timer.key, reason)
            self._stamp(timer, now)
            timer.cancelled_at = now
            timer.payload = _with_notes(timer.payload, gave_up=reason)
            return TimerOutcome.UNKNOWN_KIND
        claim = _Claim(timer.id, timer.key, timer.attempts, timer.due_at, first_due_at(timer))
        try:
            await handler(session, timer, now, now - claim.first_due > self._settings.late_after)
            if flush:  # what the handler wrote fails here, as the handler's failure
                await session.flush()
        except TimerBusy:
            raise
        except Exception as exc:  # a handler bug must not stop the sweep
            raise _HandlerFailed(claim, exc) from exc
        self._stamp(timer, now)
        if timer.due_at != claim.due_at and timer.done_at is None and timer.cancelled_at is None:
            return TimerOutcome.RESCHEDULED
        timer.done_at = now
        # A handler that cancels its ticket's timers (auto-close) cancels its own too; it ran.
        timer.cancelled_at = None
        return TimerOutcome.DONE

    async def _record_failure(self, failure: _HandlerFailed) -> TimerOutcome:
        """Count the failed attempt and put the timer off, or give it up.

        A fresh transaction: the handler's was rolled back whole (no savepoint on the happy
        path). Between the two another sweeper may have taken the timer; if it is no longer as
        we claimed it (done, cancelled, rescheduled, or its failure already counted), that
        sweeper's record stands.
        """
        claim, exc = failure.claim, failure.error
        error = f"{type(exc).__name__}: {exc}"[:MAX_ERROR_LENGTH]
        async with self._session_factory() as session, session.begin():
            now = self._clock.now()
            timer = await session.get(
                Timer, claim.id, with_for_update={"key_share": True}, populate_existing=True
            )
            if (
                timer is None
                or timer.done_at is not None
                or timer.cancelled_at is not None
                or (timer.attempts, timer.due_at) != (claim.attempts, claim.due_at)
            ):
                logger.warning(
                    "timer %s (%s) failed (%s) but changed meanwhile; not counted",
                    claim.id,
                    claim.key,
                    error,
                )
                return TimerOutcome.RETRY
            timer.attempts += 1
            self._stamp(timer, now)
            notes: dict[str, Any] = {
                "first_due_at": claim.first_due.isoformat(),
                "last_error": error,
            }
            if timer.attempts >= self._settings.max_attempts:
                timer.cancelled_at = now
                notes["gave_up"] = f"handler failed {timer.attempts} times"
                timer.payload = _with_notes(timer.payload, **notes)
                logger.error(
                    "timer %s (%s) given up after %d failed attempt(s): %s",
                    timer.id,
                    timer.key,
                    timer.attempts,
                    error,
                    exc_info=exc,
                )
                return TimerOutcome.GAVE_UP
            timer.due_at = now + self._retry_delay(timer.attempts)
            timer.payload = _with_notes(timer.payload, **notes)
            logger.warning(
                "timer %s (%s) attempt %d failed, next at %s: %s",
                timer.id,
                timer.key,
                timer.attempts,
                timer.due_at.isoformat(),
                error,
                exc_info=exc,
            )
            return TimerOutcome.RETRY

    def _retry_delay(self, attempts: int) -> timedelta:
        """Exponential from the base, capped, with jitter so failures do not return together."""
        ceiling = min(self._settings.retry_cap, self._settings.retry_base * 2 ** (attempts - 1))
        return ceiling * self._rng.uniform(0.75, 1.0)

    def _stamp(self, timer: Timer, now: datetime) -> None:
        timer.claimed_at = now
        timer.claimed_by = self.identity


def _with_notes(payload: dict[str, Any] | None, **notes: Any) -> dict[str, Any]:
    """A new dict (the JSON column does not see in-place changes) with the sweep's notes."""
    payload = dict(payload or {})
    payload[SWEEP_NOTES] = {**(payload.get(SWEEP_NOTES) or {}), **notes}
    return payload
