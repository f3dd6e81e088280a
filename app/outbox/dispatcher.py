"""The outbox dispatcher: claims ready rows, hands them to their sender, records what happened.

Delivery is at-least-once with a lease. A row is claimed (in a short transaction, `FOR UPDATE
SKIP LOCKED` on PostgreSQL so replicas never claim the same row), sent with no transaction open,
and then marked. If the process dies in between, the lease runs out and another dispatcher (or
this one after a restart) sends it again. Only a timeout leaves it unknown whether the far side
acted; everything else (429, 5xx, refused connections) is known not to have been delivered.

Under a backlog a dispatcher has up to `workers` rounds (claim, send, record) under way at
once, sharing `concurrency` sends in flight: after a full claim the next is claimed at once,
while the first's rows are on their way, so Slack is kept busy rather than waiting on the
database. Otherwise one round at a time: it claims when woken (a commit that wrote outbox rows)
or polled, once the round before has landed, so what one conversation is sent goes out in order.

The lease always outlives the sends it covers: each send is cut off after `send_timeout`; a
claim of n rows waits at most for the other workers' claims ahead of it, so its rows are sent
within ceil((n + (workers - 1) * batch_size) / concurrency) of those; the lease is that long
plus a margin (or the configured lease, if longer). So a second dispatcher can only take a row
over once its first send has surely ended.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar, cast

from sqlalchemy import Row, Select, Table, and_, bindparam, case, exists, func, or_, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from app.clock import Clock
from app.db import UTCDateTime, is_database_unavailable
from app.metrics import Metrics
from app.outbox.delivery import (
    Attempt,
    DeliveryOutcome,
    Ordered,
    Preparing,
    RetryPolicy,
    Sender,
    Verdict,
)
from app.outbox.enums import OutboxKind, OutboxStatus
from app.outbox.handlers import DeliveryHandlers
from app.outbox.models import OutboxMessage
from app.outbox.service import OUTBOX_WRITTEN

logger = logging.getLogger(__name__)

MAX_ERROR_LENGTH = 2000
RECORD_ATTEMPTS = 5
# PostgreSQL's deadlock_detected and serialization_failure.
TRANSIENT_SQLSTATES = frozenset({"40P01", "40001"})


_T = TypeVar("_T")

LEASE_MARGIN = timedelta(seconds=5)
MIN_IDLE_WAIT = 0.05


@dataclass(frozen=True)
class DispatcherSettings:
    max_attempts: int = 24
    batch_size: int = 20
    # Sends in flight at once, over all workers.
    concurrency: int = 4
    # Rounds (claim, send, record) under way at once under a backlog (see the module's doc).
    workers: int = 2
    lease: timedelta = timedelta(seconds=60)
    poll_interval: float = 2.0
    # The longest one send may take, its client's own timeouts and retries included; a send
    # still running then is cut off and counted as an unknown outcome.
    send_timeout: timedelta = timedelta(seconds=25)
    # A claim's outcomes are recorded together, in one transaction, once every send of the
    # claim has ended; an outcome waits at most this long for slower sends of its claim.
    record_within: timedelta = timedelta(seconds=1)
    # Kinds retried by their own rules; any other kind gets `max_attempts` and the default cap.
    policies: Mapping[OutboxKind, RetryPolicy] = field(default_factory=dict)

    def policy_for(self, kind: OutboxKind) -> RetryPolicy:
        return self.policies.get(kind) or RetryPolicy(max_attempts=self.max_attempts)

    def lease_for(self, rows: int) -> timedelta:
        """A claim's lease: longer than sending `rows` rows can take, `concurrency` at a time,
        behind every other worker's claim."""
        rounds = math.ceil((rows + (self.workers - 1) * self.batch_size) / self.concurrency)
        return max(self.lease, rounds * self.send_timeout + LEASE_MARGIN)


@dataclass(frozen=True)
class ClaimedDelivery:
    id: int
    kind: OutboxKind
    target: str
    payload: dict[str, Any]
    attempts: int
    maybe_sent_since: datetime | None = None
    paced_slot_at: datetime | None = None
    workspace_id: int | None = None


class OutboxDispatcher:
    def __init__(
        self,
        *,
        session_factory: async_sessionmaker[AsyncSession],
        senders: dict[OutboxKind, Sender],
        clock: Clock,
        handlers: DeliveryHandlers | None = None,
        metrics: Metrics | None = None,
        settings: DispatcherSettings | None = None,
    ) -> None:
        self._session_factory = session_factory
        self._senders = senders
        self._clock = clock
        self._handlers = handlers or DeliveryHandlers()
        self._metrics = metrics
        self._settings = settings or DispatcherSettings()
        self._identity = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        # The earliest paced slot a row was deferred to since the last round: the loop wakes
        # for it rather than waiting a whole poll interval.
        self._next_slot: datetime | None = None
        self._ready = _ready_rows(self._settings.batch_size)
        self._sends = asyncio.Semaphore(self._settings.concurrency)
        self._in_order = _Turns()

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        if self._task is None:
            self._stopping = False
            self._task = asyncio.create_task(self._run(), name="outbox-dispatcher")

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            task, self._task = self._task, None
            try:
                await asyncio.wait_for(task, timeout=10)
            except TimeoutError:
                task.cancel()

    def wake(self) -> None:
        """Deliver now rather than at the next poll (called right after a commit)."""
        self._wake.set()

    async def _run(self) -> None:
        """Claim, and hand each claim to a round of its own that sends and records it. After a
        full claim (more is likely ready) the next is claimed at once, while the first is on
        its way, up to `workers` rounds at once; otherwise the loop lets the rounds under way
        finish, then waits for a wake-up."""
        rounds: set[asyncio.Task[None]] = set()
        try:
            while not self._stopping:
                if len(rounds) >= self._settings.workers:
                    await asyncio.wait(rounds, return_when=asyncio.FIRST_COMPLETED)
                    continue
                self._wake.clear()
                claimed = await self._logged(self._claim(), default=[])
                if claimed:
                    sending = asyncio.create_task(
                        self._logged(self._deliver_and_record(claimed), default=None)
                    )
                    rounds.add(sending)
                    sending.add_done_callback(rounds.discard)
                if len(claimed) >= self._settings.batch_size or self._stopping:
                    continue
                # No backlog: what is under way lands before anything newer is claimed, so the
                # posts of one conversation go out in the order they were written.
                if rounds:
                    await asyncio.wait(rounds)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=self._idle_wait())
            if rounds:  # stopping: the rounds under way record what they sent
                await asyncio.wait(rounds)
        except asyncio.CancelledError:
            for sending in rounds:  # their rows are taken up again when their lease runs out
                sending.cancel()
            raise

    async def _logged(self, work: Awaitable[_T], *, default: _T) -> _T:
        """`work`'s result; `default` if it raised (logged: the loop must outlive a database
        hiccup or a bug, and try again at the next wake-up or poll)."""
        try:
            return await work
        except Exception as exc:
            if is_database_unavailable(exc):
                logger.warning(
                    "outbox dispatch put off: the database is unavailable (%s)",
                    type(exc).__name__,
                )
            else:
                logger.exception("outbox dispatch failed; retrying at the next poll")
            return default

    def _idle_wait(self) -> float:
        """Seconds to wait for a wake-up: the poll interval, or less if a slot comes sooner."""
        wait = self._settings.poll_interval
        if self._next_slot is not None:
            until_slot = (self._next_slot - self._clock.now()).total_seconds()
            wait = min(wait, max(until_slot, MIN_IDLE_WAIT))
            self._next_slot = None
        return wait

    def _note_deferral(self, slot: datetime) -> None:
        if self._next_slot is None or slot < self._next_slot:
            self._next_slot = slot

    # -- one round -----------------------------------------------------------------------------

    async def dispatch_once(self) -> int:
        """Claim what is ready, deliver it, record the outcomes. Returns how many were handled."""
        claimed = await self._claim()
        if claimed:
            await self._deliver_and_record(claimed)
        return len(claimed)

    async def _deliver_and_record(self, claimed: list[ClaimedDelivery]) -> None:
        """Send a claim's rows, `concurrency` at a time over all rounds, and record the
        outcomes, in one transaction when its last send ends. A send that takes longer does
        not hold the others back for more than `record_within`: what has ended by then is
        recorded, and the rest when they end. Raises what recording raised, if anything."""

        prepared = await self._prepare(claimed)

        async def deliver(delivery: ClaimedDelivery) -> tuple[ClaimedDelivery, DeliveryOutcome]:
            # Its conversation's turn first (claim order, over every round), then a send slot:
            # a row waiting for its turn holds no slot.
            async with self._in_order.turn(self._order_key(delivery)), self._sends:
                return delivery, await self._deliver(delivery, prepared.get(delivery.id))

        pending = {asyncio.ensure_future(deliver(delivery)) for delivery in claimed}
        problems: list[BaseException] = []
        try:
            while pending:
                ended, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                if pending:
                    more, pending = await asyncio.wait(
                        pending, timeout=self._settings.record_within.total_seconds()
                    )
                    ended |= more
                outcomes = sorted((task.result() for task in ended), key=lambda o: o[0].id)
                try:
                    raised = await self._record_many(outcomes)
                except Exception as exc:  # e.g. the database is unreachable
                    raised = [exc]
                problems.extend(problem for problem in raised if problem is not None)
        finally:
            for task in pending:  # cancelled (the dispatcher is stopping): left to the lease
                task.cancel()
        if problems:
            raise problems[0]

    async def _claim(self) -> list[ClaimedDelivery]:
        now = self._clock.now()
        async with self._session_factory() as session, session.begin():
            ready = await session.execute(self._ready, {"now": now})
            rows = list(ready.all())  # at most one row of a coalesce key (see _ready_rows)
            if not rows:
                return []
            lease = self._settings.lease_for(len(rows))
            await session.execute(
                _CLAIM,
                {
                    "ids": [row.id for row in rows],
                    "until": now + lease,
                    "by": self._identity,
                    "now": now,
                },
            )
            dependencies = await self._dependency_results(session, rows)
            return [
                ClaimedDelivery(
                    id=row.id,
                    kind=row.kind,
                    target=row.target,
                    payload=_fill_from_dependency(row, dependencies),
                    attempts=row.attempts,
                    # A row still claimed was taken over from a dispatcher that died before
                    # recording it: that attempt may have reached the far side (see _CLAIM).
                    maybe_sent_since=(
                        row.maybe_sent_at or row.claimed_at
                        if row.claimed_by is not None
                        else row.maybe_sent_at
                    ),
                    paced_slot_at=row.paced_slot_at,
                    workspace_id=row.workspace_id,
                )
                for row in rows
            ]

    async def _dependency_results(
        self, session: AsyncSession, rows: list[Row[Any]]
    ) -> dict[int, dict[str, Any]]:
        ids = {row.depends_on_id for row in rows if row.depends_on_id is not None}
        if not ids:
            return {}
        result = await session.execute(_RESULTS, {"ids": sorted(ids)})
        return {row_id: row_result or {} for row_id, row_result in result}

    def _order_key(self, delivery: ClaimedDelivery) -> Hashable | None:
        sender = self._senders.get(delivery.kind)
        if not isinstance(sender, Ordered):
            return None
        key = sender.order_key(delivery.target, delivery.payload)
        return None if key is None else (delivery.kind, key)

    async def _prepare(self, claimed: list[ClaimedDelivery]) -> dict[int, Any]:
        """What each kind's sender loads at once for the rows of this claim (`Preparing`). If
        that fails, each row is sent as if nothing were prepared: it loads what it needs."""
        prepared: dict[int, Any] = {}
        for kind, sender in self._senders.items():
            rows = [(d.id, d.target, d.payload) for d in claimed if d.kind == kind]
            if not rows or not isinstance(sender, Preparing):
                continue
            try:
                prepared.update(await sender.prepare(rows))
            except Exception as exc:
                logger.warning(
                    "preparing %d %s rows together failed (%s); each loads its own",
                    len(rows),
                    kind,
                    type(exc).__name__,
                )
        return prepared

    async def _deliver(self, delivery: ClaimedDelivery, prepared: Any = None) -> DeliveryOutcome:
        """The outcome of sending one claimed row. Never raises."""
        sender = self._senders.get(delivery.kind)
        if sender is None:
            outcome = DeliveryOutcome.rejected(f"no sender for outbox kind {delivery.kind}")
        else:
            try:
                async with asyncio.timeout(self._settings.send_timeout.total_seconds()):
                    outcome = await sender.send(
                        delivery.target,
                        delivery.payload,
                        Attempt(
                            delivery.id,
                            delivery.maybe_sent_since,
                            delivery.paced_slot_at,
                            prepared,
                            delivery.workspace_id,
                        ),
                    )
            except TimeoutError:
                outcome = DeliveryOutcome.retry(
                    f"no answer within {self._settings.send_timeout.total_seconds():g} s;"
                    " the far side may have acted",
                    unknown=True,
                )
            except Exception as exc:  # a sender bug must not strand the row
                if is_database_unavailable(exc):  # e.g. while rendering, before any call
                    logger.warning(
                        "outbox row %s put off: the database is unavailable (%s)",
                        delivery.id,
                        type(exc).__name__,
                    )
                else:
                    logger.exception("outbox sender raised for row %s", delivery.id)
                outcome = DeliveryOutcome.retry(f"sender raised {type(exc).__name__}: {exc}")
        return outcome

    async def _record_many(
        self, outcomes: list[tuple[ClaimedDelivery, DeliveryOutcome]]
    ) -> list[BaseException | None]:
        """Record outcomes that came in together in one transaction; if that fails, each in a
        transaction of its own, so one row's trouble never holds back the others'. Returns
        what recording each one raised, if anything."""
        if len(outcomes) > 1:
            try:
                await self._retrying(lambda: self._record_batch(outcomes), "a batch")
                return [None] * len(outcomes)
            except DBAPIError as exc:
                logger.warning(
                    "recording %d outbox rows together failed (%s); recording each alone",
                    len(outcomes),
                    type(exc).__name__,
                )
        raised: list[BaseException | None] = []
        for delivery, outcome in outcomes:
            try:
                await self._record(delivery, outcome)
            except Exception as exc:
                raised.append(exc)
            else:
                raised.append(None)
        return raised

    async def _record(self, delivery: ClaimedDelivery, outcome: DeliveryOutcome) -> None:
        await self._retrying(
            lambda: self._record_batch([(delivery, outcome)]), f"row {delivery.id}"
        )

    async def _retrying(self, record: Callable[[], Awaitable[None]], what: str) -> None:
        """Run `record`; again if PostgreSQL picks its transaction as a deadlock victim, because
        a delivery left unrecorded would be sent again when its lease runs out."""
        for attempt in range(1, RECORD_ATTEMPTS + 1):
            try:
                await record()
                return
            except DBAPIError as exc:
                if attempt == RECORD_ATTEMPTS or not _is_transient(exc):
                    raise
                logger.warning("recording outbox %s failed (%s); retrying", what, exc)

    async def _record_batch(self, outcomes: list[tuple[ClaimedDelivery, DeliveryOutcome]]) -> None:
        """One transaction: lock the rows (in id order, as every writer does), record each
        outcome. A row whose delivered-handler raises is left as it was (claimed: it is taken
        up again when its lease runs out), the others are recorded.

        Handlers run without a savepoint each (two round trips a row); if one raises, the
        transaction is rolled back and the batch recorded again with each handler inside a
        savepoint of its own."""
        try:
            await self._record_outcomes(outcomes, isolated=False)
        except _HandlerRaised:
            await self._record_outcomes(outcomes, isolated=True)

    async def _record_outcomes(
        self, outcomes: list[tuple[ClaimedDelivery, DeliveryOutcome]], *, isolated: bool
    ) -> None:
        now = self._clock.now()
        observed: list[tuple[OutboxKind, datetime | None, DeliveryOutcome]] = []
        by_id = dict((delivery.id, (delivery, outcome)) for delivery, outcome in outcomes)
        async with self._session_factory() as session, session.begin():
            locked = (await session.execute(_TO_RECORD, {"ids": sorted(by_id)})).all()
            plain = [row for row in locked if self._is_plain(row, by_id[row.id][1])]
            observed.extend(await self._record_plain(session, plain, by_id, now))
            plain_ids = {row.id for row in plain}
            # The rest as objects, for their handlers and hooks (already locked above). A row
            # no longer pending was recorded meanwhile (its claim taken over): nothing to do.
            others = [
                row.id
                for row in locked
                if row.id not in plain_ids and row.status == OutboxStatus.PENDING
            ]
            rows = (await session.scalars(_ROWS, {"ids": others})).all() if others else []
            handled = [
                row
                for row in rows
                if by_id[row.id][1].verdict is Verdict.DELIVERED
                and row.on_delivered is not None
                and row.status == OutboxStatus.PENDING
            ]
            handled_ids = {row.id for row in handled}
            loaded = await self._prepare_handlers(session, handled)  # kept until the commit
            for row in rows:
                delivery, outcome = by_id[row.id]
                if row.id not in handled_ids or not isolated:
                    try:
                        recorded = await self._record_row(session, row, outcome, now)
                    except DBAPIError:
                        raise  # the transaction is in doubt: the batch is retried or split
                    except Exception as exc:
                        if row.id not in handled_ids:
                            raise
                        raise _HandlerRaised(row.id) from exc
                    if recorded:
                        observed.append((row.kind, row.created_at, outcome))
                    continue
                handler_name = row.on_delivered  # the rollback below expires the row
                try:
                    async with session.begin_nested():
                        recorded = await self._record_row(session, row, outcome, now)
                except DBAPIError:
                    raise  # the transaction is in doubt: the batch is retried or split
                except Exception:
                    logger.exception(
                        "outbox row %s: its delivered-handler %s raised; left to be taken up again",
                        delivery.id,
                        handler_name,
                    )
                    continue
                if recorded:
                    observed.append((row.kind, row.created_at, outcome))
            del loaded
        if self._metrics is not None:
            for kind, created_at, outcome in observed:
                latency = (now - created_at).total_seconds() if created_at else None
                self._metrics.observe_delivery(kind.value, outcome.verdict.value, latency)

    def _is_plain(self, row: Row[Any], outcome: DeliveryOutcome) -> bool:
        """Whether recording this outcome is only writing the row: a delivery no handler or
        hook is told about, or a deferral to a paced slot (which tells nobody)."""
        if row.status != OutboxStatus.PENDING:
            return False
        if outcome.verdict is Verdict.DEFERRED:
            return outcome.not_before is not None
        return (
            outcome.verdict is Verdict.DELIVERED
            and row.on_delivered is None
            and self._handlers.attempt_hook(row.kind) is None
        )

    async def _record_plain(
        self,
        session: AsyncSession,
        rows: list[Row[Any]],
        by_id: dict[int, tuple[ClaimedDelivery, DeliveryOutcome]],
        now: datetime,
    ) -> list[tuple[OutboxKind, datetime | None, DeliveryOutcome]]:
        """Record plain outcomes (`_is_plain`) with one statement per kind of outcome, run for
        all their rows at once: what `_record_row` writes for them, without loading objects."""
        delivered: list[dict[str, Any]] = []
        deferred: list[dict[str, Any]] = []
        observed = []
        for row in rows:
            if row.claimed_by != self._identity:
                logger.warning("outbox row %s was re-claimed while we delivered it", row.id)
            if row.coalesce_key is not None:  # a row of its key may be waiting (see _record_row)
                session.info[OUTBOX_WRITTEN] = True
            outcome = by_id[row.id][1]
            if outcome.verdict is Verdict.DEFERRED:
                assert outcome.not_before is not None
                deferred.append({"row_id": row.id, "slot": outcome.not_before})
                self._note_deferral(outcome.not_before)
            else:
                delivered.append(
                    {
                        "row_id": row.id,
                        "result": outcome.result,
                        "status_code": outcome.status_code,
                        "now": now,
                    }
                )
                observed.append((row.kind, row.created_at, outcome))
        if delivered:
            await session.execute(_RECORD_DELIVERED, delivered)
            session.info[OUTBOX_WRITTEN] = True  # rows that depend on these are ready
        if deferred:
            await session.execute(_RECORD_DEFERRED, deferred)
        return observed

    async def _prepare_handlers(
        self, session: AsyncSession, rows: list[OutboxMessage]
    ) -> list[object]:
        """Each delivered-handler's prepare hook, once, with the args of all its rows."""
        args: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            assert row.on_delivered is not None
            args.setdefault(row.on_delivered, []).append(row.on_delivered_args or {})
        loaded = []
        for name, group in args.items():
            prepare = self._handlers.prepare_for(name)
            if prepare is not None:
                loaded.append(await prepare(session, group))
        return loaded

    async def _record_row(
        self, session: AsyncSession, row: OutboxMessage, outcome: DeliveryOutcome, now: datetime
    ) -> bool:
        """Record one outcome on its locked row; False if there was nothing to record."""
        if row.status != OutboxStatus.PENDING:
            return False
        if row.claimed_by != self._identity:
            logger.warning("outbox row %s was re-claimed while we delivered it", row.id)
        row.claimed_until = None
        row.claimed_by = None
        if row.coalesce_key is not None:
            # A row of the same key may be waiting for this one (see `_claim`): wake the
            # dispatcher after the commit rather than leave it for the next poll.
            session.info[OUTBOX_WRITTEN] = True
        if outcome.verdict is Verdict.DEFERRED and outcome.not_before is not None:
            # Not an attempt: nothing was sent. Back when its paced slot comes.
            row.paced_slot_at = row.next_attempt_at = outcome.not_before
            self._note_deferral(outcome.not_before)
            return False
        row.paced_slot_at = None
        row.attempts += 1
        if outcome.unknown:
            row.maybe_sent_at = row.maybe_sent_at or row.claimed_at
        row.last_status_code = outcome.status_code
        if outcome.verdict is Verdict.DELIVERED:
            row.status = OutboxStatus.DELIVERED
            row.delivered_at = now
            row.result = outcome.result
            row.last_error = None
            if row.on_delivered:
                handler = self._handlers.get(row.on_delivered)
                await handler(session, row.on_delivered_args or {}, outcome.result, now)
            session.info[OUTBOX_WRITTEN] = True  # rows that depend on this one are ready
        elif outcome.verdict is Verdict.CANCELLED:
            row.status = OutboxStatus.CANCELLED
            row.last_error = (outcome.error or "cancelled")[:MAX_ERROR_LENGTH]
            await _fail_dependents(session, row.id)
            logger.info("outbox row %s (%s) cancelled: %s", row.id, row.kind, row.last_error)
        else:
            row.last_error = (outcome.error or "unknown error")[:MAX_ERROR_LENGTH]
            policy = self._settings.policy_for(row.kind)
            exhausted = policy.exhausted(attempts=row.attempts, created_at=row.created_at, now=now)
            if outcome.verdict is Verdict.REJECTED or exhausted:
                row.status = OutboxStatus.FAILED
                await _fail_dependents(session, row.id)
                logger.error(
                    "outbox row %s (%s %s) failed after %d attempt(s): %s",
                    row.id,
                    row.kind,
                    row.target,
                    row.attempts,
                    row.last_error,
                )
            else:
                row.next_attempt_at = policy.next_attempt_at(
                    attempts=row.attempts,
                    retry_after_seconds=outcome.retry_after_seconds,
                    created_at=row.created_at,
                    now=now,
                )
                logger.info(
                    "outbox row %s (%s) attempt %d failed, next at %s: %s",
                    row.id,
                    row.target,
                    row.attempts,
                    row.next_attempt_at,
                    row.last_error,
                )
        attempt_hook = self._handlers.attempt_hook(row.kind)
        if attempt_hook is not None:
            await attempt_hook(session, row, now)
        if row.status is OutboxStatus.FAILED and row.on_delivered:
            failed_hook = self._handlers.failed_hook(row.on_delivered)
            if failed_hook is not None:
                await failed_hook(session, row, now)
        return True


# Statements built once, run with parameters: building one costs more CPU than running it.
# What recording reads of each row before it decides how to record it (`_is_plain`).
_RECORDING_READS: tuple[Any, ...] = (
    OutboxMessage.id,
    OutboxMessage.kind,
    OutboxMessage.status,
    OutboxMessage.claimed_by,
    OutboxMessage.on_delivered,
    OutboxMessage.coalesce_key,
    OutboxMessage.created_at,
)
_TO_RECORD = (  # locked in id order, as every writer locks them
    select(*_RECORDING_READS)
    .where(OutboxMessage.id.in_(bindparam("ids", expanding=True)))
    .order_by(OutboxMessage.id)
    .with_for_update(key_share=True)
)
_ROWS = (
    select(OutboxMessage)
    .where(OutboxMessage.id.in_(bindparam("ids", expanding=True)))
    .order_by(OutboxMessage.id)
)
_RESULTS = select(OutboxMessage.id, OutboxMessage.result).where(
    OutboxMessage.id.in_(bindparam("ids", expanding=True))
)
# Every column of the claimed rows the claim itself reads (at their values before the claim).
_CLAIMED_COLUMNS = (
    OutboxMessage.id,
    OutboxMessage.kind,
    OutboxMessage.target,
    OutboxMessage.payload,
    OutboxMessage.attempts,
    OutboxMessage.claimed_by,
    OutboxMessage.claimed_at,
    OutboxMessage.maybe_sent_at,
    OutboxMessage.paced_slot_at,
    OutboxMessage.coalesce_key,
    OutboxMessage.depends_on_id,
    OutboxMessage.payload_from_dependency,
    OutboxMessage.workspace_id,
)
_outbox = cast(Table, OutboxMessage.__table__)
# A plain delivery (`_is_plain`), as `_record_row` records one: run once for all such rows.
_RECORD_DELIVERED = (
    update(_outbox)
    .where(_outbox.c.id == bindparam("row_id"))
    .values(
        status=OutboxStatus.DELIVERED,
        delivered_at=bindparam("now", type_=UTCDateTime()),
        result=bindparam("result"),
        last_status_code=bindparam("status_code"),
        last_error=None,
        attempts=_outbox.c.attempts + 1,
        claimed_until=None,
        claimed_by=None,
        paced_slot_at=None,
    )
)
# A deferral to a paced slot: not an attempt; back when the slot comes, holding it.
_RECORD_DEFERRED = (
    update(_outbox)
    .where(_outbox.c.id == bindparam("row_id"))
    .values(
        paced_slot_at=bindparam("slot", type_=UTCDateTime()),
        next_attempt_at=bindparam("slot", type_=UTCDateTime()),
        claimed_until=None,
        claimed_by=None,
    )
)
# One statement claims the whole batch. A row still claimed when it is claimed again was left
# by a dispatcher that died before recording it; that attempt may have reached the far side,
# so it is marked as maybe sent (SQL reads the row's values before the update on the right).
_CLAIM = (
    update(_outbox)
    .where(_outbox.c.id.in_(bindparam("ids", expanding=True)))
    .values(
        maybe_sent_at=case(
            (
                _outbox.c.claimed_by.is_not(None),
                func.coalesce(_outbox.c.maybe_sent_at, _outbox.c.claimed_at),
            ),
            else_=_outbox.c.maybe_sent_at,
        ),
        claimed_until=bindparam("until", type_=UTCDateTime()),
        claimed_by=bindparam("by"),
        claimed_at=bindparam("now", type_=UTCDateTime()),
    )
)


def _ready_rows(batch_size: int) -> Select[Any]:
    """Up to `batch_size` rows ready to send at `:now`, locked, skipping rows another
    dispatcher holds."""
    now = bindparam("now", type_=UTCDateTime())
    dependency = aliased(OutboxMessage)
    dependency_delivered = exists().where(
        dependency.id == OutboxMessage.depends_on_id,
        dependency.status == OutboxStatus.DELIVERED,
    )
    # Rows of one coalesce key (a card, a Home tab) are rendered from the current state at
    # send time; two in flight at once could land out of order and leave the older state
    # showing. So a row waits while an earlier row of its key is claimed (until that claim is
    # recorded, or, if its dispatcher died, until that row is taken up again and recorded) or
    # is itself ready, and goes first. The second also covers a claim still being made: a
    # concurrent claimer skips the earlier row it has locked, but does not take the later one.
    # So a claim holds at most one row of a key. Only an earlier row: two rows can then never
    # hold each other back.
    sibling = aliased(OutboxMessage)
    sibling_ahead = exists().where(
        sibling.coalesce_key == OutboxMessage.coalesce_key,
        sibling.id < OutboxMessage.id,
        sibling.status == OutboxStatus.PENDING,
        or_(sibling.claimed_by.is_not(None), sibling.next_attempt_at <= now),
    )
    return (
        select(*_CLAIMED_COLUMNS)
        .where(
            OutboxMessage.status == OutboxStatus.PENDING,
            OutboxMessage.next_attempt_at <= now,
            or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now),
            or_(OutboxMessage.depends_on_id.is_(None), dependency_delivered),
            or_(OutboxMessage.coalesce_key.is_(None), ~sibling_ahead),
        )
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(batch_size)
        .with_for_update(skip_locked=True, of=OutboxMessage, key_share=True)
    )


class _Turns:
    """Rows of one key (a conversation) take turns: each waits for those of its key that
    asked before it (asyncio's locks let waiters in the order they came)."""

    def __init__(self) -> None:
        self._locks: dict[Hashable, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def turn(self, key: Hashable | None) -> AsyncIterator[None]:
        if key is None:
            yield
            return
        lock, waiting = self._locks.get(key) or (asyncio.Lock(), 0)
        self._locks[key] = (lock, waiting + 1)
        try:
            async with lock:
                yield
        finally:
            lock, waiting = self._locks[key]
            if waiting == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, waiting - 1)


class _HandlerRaised(Exception):
    """A delivered-handler raised in a batch recorded without savepoints: record it again,
    each handler in a savepoint of its own."""


async def _fail_dependents(session: AsyncSession, failed_id: int) -> None:
    """Rows waiting on a row that will never be delivered can never be delivered either."""
    pending = [failed_id]
    while pending:
        parent = pending.pop()
        result = await session.execute(
            update(OutboxMessage)
            .where(
                and_(
                    OutboxMessage.depends_on_id == parent,
                    OutboxMessage.status == OutboxStatus.PENDING,
                )
            )
            .values(status=OutboxStatus.FAILED, last_error=f"depends on failed row {parent}")
            .returning(OutboxMessage.id)
        )
        pending.extend(result.scalars().all())


def _fill_from_dependency(
    row: Row[Any], dependency_results: dict[int, dict[str, Any]]
) -> dict[str, Any]:
    payload = dict(row.payload)
    if row.depends_on_id is not None and row.payload_from_dependency:
        result = dependency_results.get(row.depends_on_id, {})
        for field_name, result_field in row.payload_from_dependency.items():
            if result_field in result:
                payload[field_name] = result[result_field]
    return payload


def _is_transient(exc: DBAPIError) -> bool:
    code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    return code in TRANSIENT_SQLSTATES or "deadlock" in str(exc).lower()
