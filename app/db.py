"""Database plumbing: the declarative base, portable column types, engine and session factory.

SQLite is the embedded default and PostgreSQL the production database; everything here works on
both. On SQLite we serialise writers through one connection and start every transaction with
`BEGIN IMMEDIATE`, so two writers never deadlock upgrading a read lock, and WAL lets readers in
other processes carry on.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Hashable
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

import orjson
from sqlalchemy import JSON, BigInteger, DateTime, Integer, MetaData, event
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, SessionTransaction, orm_insert_sentinel
from sqlalchemy.pool import NullPool, StaticPool
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

SQLITE_BUSY_TIMEOUT_MS = 10_000

logger = logging.getLogger(__name__)


_T = TypeVar("_T")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class BatchInserted:
    """A mixin for tables whose rows are often inserted several at once (a group of timers'
    alerts and ledger entries, a new ticket's timers). SQLite does not promise the order of the
    rows INSERT … RETURNING gives back, so SQLAlchemy cannot match ids generated there to the
    rows of one multi-row INSERT, and inserts such rows one statement each; this column (values
    SQLAlchemy numbers itself, nothing else reads them) orders them, so they go in one statement.
    On PostgreSQL it orders them the same way."""

    _sentinel: Mapped[int | None] = orm_insert_sentinel()


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC in Python.

    PostgreSQL stores `timestamptz`; SQLite stores naive UTC text, which sorts and compares
    correctly because every value is normalised to UTC before it is written.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; use an aware datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


BigIntegerId = BigInteger().with_variant(Integer(), "sqlite")
"""BIGINT ids on PostgreSQL; INTEGER on SQLite, where only INTEGER PRIMARY KEY autoincrements."""

JSONDocument = JSON().with_variant(JSONB(), "postgresql")
"""JSON on SQLite, JSONB on PostgreSQL."""


def is_sqlite_url(url: str) -> bool:
    return url.startswith("sqlite")


def create_engine(url: str, *, pool_size: int = 10, echo: bool = False) -> AsyncEngine:
    """An async engine tuned for the database behind `url`."""
    if is_sqlite_url(url):
        return _create_sqlite_engine(url, echo=echo)
    # No pre-ping: it is a round trip on every checkout (several per ticket). A connection that
    # died (a restart, a failover, a cut) fails its first statement instead; SQLAlchemy then
    # invalidates every connection the pool held, and that one unit of work is retried by whoever
    # asked for it: Slack (the event got a 503), the outbox and the sweep at their next round.
    return create_async_engine(
        url,
        echo=echo,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_recycle=1800,
        json_deserializer=orjson.loads,
    )


def _create_sqlite_engine(url: str, *, echo: bool) -> AsyncEngine:
    in_memory = url.endswith(":memory:") or url.rstrip("/").endswith("sqlite+aiosqlite:")
    # orjson reads JSON columns several times faster than the json module (a year's report
    # reads thousands of rollup histograms); written JSON stays the json module's.
    kwargs: dict[str, Any] = {"echo": echo, "json_deserializer": orjson.loads}
    if in_memory:
        kwargs["poolclass"] = StaticPool
    else:
        # One writer connection per process: a larger pool only adds lock waits on SQLite.
        kwargs.update(pool_size=1, max_overflow=0, pool_timeout=60)
    engine = create_async_engine(url, **kwargs)
    _configure_sqlite(engine)
    return engine


def create_null_pool_engine(url: str, *, foreign_keys: bool = True) -> AsyncEngine:
    """An engine that opens a fresh connection per use, for short-lived CLI and migration work.

    Migrations on SQLite run with `foreign_keys=False`: alembic's batch mode rebuilds a table by
    copying it and dropping the original, and with foreign keys on that drop would cascade into
    every table that references it.
    """
    engine = create_async_engine(url, poolclass=NullPool)
    if is_sqlite_url(url):
        _configure_sqlite(engine, foreign_keys=foreign_keys)
    return engine


def _configure_sqlite(engine: AsyncEngine, *, foreign_keys: bool = True) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the sqlite3 module so BEGIN is ours to emit.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute(f"PRAGMA foreign_keys = {'ON' if foreign_keys else 'OFF'}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


# `session.info` key of the factory's `VersionedCache`, shared by all its sessions.
SHARED_CACHE = "ticketbot.shared_cache"


class VersionedCache:
    """Answers kept across transactions, per owner (a workspace) and that owner's version:
    whoever changes what is cached bumps the version in the same transaction, and a reader
    that finds another version than the one kept starts afresh (app/workspaces/settings.py)."""

    def __init__(self) -> None:
        self._kept: dict[Hashable, tuple[int, dict[Hashable, Any]]] = {}

    def answers(self, owner: Hashable, version: int) -> dict[Hashable, Any]:
        """The answers kept for `owner` at `version` (a dict to look up and add to)."""
        kept = self._kept.get(owner)
        if kept is None or kept[0] != version:
            kept = (version, {})
            self._kept[owner] = kept
        return kept[1]


def create_session_factory(
    engine: AsyncEngine, *, after_commit: Callable[[Session], None] | None = None
) -> async_sessionmaker[AsyncSession]:
    """Sessions for one app instance. `after_commit` runs after every successful commit.

    Each factory gets its own Session subclass, so the hook of one app (or test) never fires
    for another's sessions, and its own `VersionedCache`.
    """
    session_class = type("TicketbotSession", (Session,), {})
    if after_commit is not None:
        event.listen(session_class, "after_commit", after_commit)
    return async_sessionmaker(
        engine,
        expire_on_commit=False,
        autoflush=False,
        sync_session_class=session_class,
        info={SHARED_CACHE: VersionedCache()},
    )


def is_database_unavailable(exc: BaseException) -> bool:
    """True when `exc` says the database could not be reached or could not take the work now
    (a cut connection, a refused connect, a full pool, SQLite's `database is locked`), as
    opposed to a query that is wrong. Such a request is answered 503: Slack and API clients
    retry it, and nothing was stored."""
    if isinstance(exc, (OperationalError, InterfaceError, PoolTimeout)):
        return True
    if is_connection_dropped(exc):
        return True
    return isinstance(exc, (ConnectionError, OSError, TimeoutError))


def is_connection_dropped(exc: BaseException) -> bool:
    """True when `exc` says the connection died under the statement (a PostgreSQL restart or
    failover, a cut): SQLAlchemy has then invalidated the pool's connections, and the same
    work on a fresh connection may well succeed."""
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


async def in_transaction(
    session_factory: async_sessionmaker[AsyncSession],
    work: Callable[[AsyncSession], Awaitable[_T]],
) -> _T:
    """`work(session)` in a transaction of its own, committed; run once more, in a fresh
    transaction, if its connection turned out to be dead. The pool does not ping a connection
    before lending it (a round trip on every checkout), so after a database restart a dead
    one shows at its first statement; this retry hides that from whoever asked. Only for work
    that is all in the database, which the rollback undoes, and that is idempotent when the
    commit itself was cut (its outcome unknown)."""
    try:
        async with session_factory() as session, session.begin():
            return await work(session)
    except DBAPIError as exc:
        if not is_connection_dropped(exc):
            raise
        logger.warning("database connection lost (%s); trying once more", type(exc).__name__)
    async with session_factory() as session, session.begin():
        return await work(session)


# A session's per-transaction read cache, present only where its owner turned it on
# (`cache_reads`): the timer sweep, whose groups of handlers ask the same questions (the
# workspace's leads, its webhook subscriptions, who opened a Home tab) once per timer.
READ_CACHE = "ticketbot.read_cache"


_TRANSACTION_SCOPED: set[str] = {READ_CACHE}


def scoped_to_transaction(key: str) -> str:
    """Declare a `session.info` key whose value holds only for the current transaction (rows it
    locked, answers it read): it is dropped when the outermost transaction ends."""
    _TRANSACTION_SCOPED.add(key)
    return key


@event.listens_for(Session, "after_transaction_end")
def _forget_transaction_scoped(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # the outermost: its locks are gone, its reads may be stale
        for key in _TRANSACTION_SCOPED:
            session.info.pop(key, None)


def cache_reads(session: AsyncSession) -> None:
    """Let `cached_read` keep answers for the rest of this session's one transaction. Only for
    a transaction that does not itself change what is cached (the sweep's handlers and intake
    read policies, leads, subscriptions and Home tabs; they never write them). Answers already
    kept stay."""
    session.info.setdefault(READ_CACHE, {})


def read_cache(session: AsyncSession) -> dict[Hashable, Any] | None:
    """The answers kept so far in this transaction, for a reader that keeps or looks up
    several at once; None where reads are not cached."""
    return cast("dict[Hashable, Any] | None", session.info.get(READ_CACHE))


async def cached_read(
    session: AsyncSession, key: Hashable, load: Callable[[], Awaitable[_T]]
) -> _T:
    """`load()`, or its earlier answer in this transaction if `cache_reads` turned caching on."""
    cache: dict[Hashable, Any] | None = session.info.get(READ_CACHE)
    if cache is None:
        return await load()
    if key not in cache:
        cache[key] = await load()
    return cast(_T, cache[key])
