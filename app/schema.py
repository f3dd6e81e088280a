"""Schema migrations, run from the application: upgrade to head and report where a database is.

Several replicas may start at once against one PostgreSQL; the upgrade runs under a
transaction-scoped advisory lock so exactly one of them migrates and the others wait, then find
nothing to do. On SQLite the `BEGIN IMMEDIATE` of our engine serialises migrating processes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db import create_null_pool_engine

# Arbitrary but fixed: the key of the advisory lock every replica takes to migrate.
MIGRATION_LOCK_KEY = 7_281_142_003


class MigrationsNotFound(RuntimeError):
    pass


@dataclass(frozen=True)
class SchemaUpgrade:
    """The revisions a database was at before `upgrade_to_head` and after it (empty: none)."""

    before: frozenset[str]
    after: frozenset[str]


def migrations_directory() -> Path:
    """Where the alembic scripts are: TICKETBOT_MIGRATIONS_DIR, else the source checkout's."""
    configured = os.environ.get("TICKETBOT_MIGRATIONS_DIR")
    candidates = [Path(configured)] if configured else []
    candidates.append(Path(__file__).resolve().parent.parent / "migrations")
    for candidate in candidates:
        if (candidate / "env.py").is_file():
            return candidate
    raise MigrationsNotFound(
        "migrations folder not found; set TICKETBOT_MIGRATIONS_DIR to the project's migrations/"
    )


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_directory()))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


@lru_cache(maxsize=1)
def head_revisions() -> frozenset[str]:
    script = ScriptDirectory.from_config(alembic_config("sqlite+aiosqlite://"))
    return frozenset(script.get_heads())


async def upgrade_to_head(database_url: str) -> SchemaUpgrade:
    """Bring the database to the newest schema; safe to call from many processes at once."""
    engine = create_null_pool_engine(database_url, foreign_keys=False)
    config = alembic_config(database_url)
    try:
        async with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                await connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
                )
            upgrade = await connection.run_sync(_upgrade, config)
            if connection.dialect.name == "sqlite":
                await _check_foreign_keys(connection)
    finally:
        await engine.dispose()
    return upgrade


class ForeignKeyViolation(RuntimeError):
    pass


async def _check_foreign_keys(connection: AsyncConnection) -> None:
    """Foreign keys were off while migrating SQLite: prove the data still honours them."""
    problems = (await connection.execute(text("PRAGMA foreign_key_check"))).all()
    if problems:
        raise ForeignKeyViolation(f"migration left rows violating foreign keys: {problems[:5]}")


async def downgrade_to_base(database_url: str) -> None:
    """Undo every migration (used by the migration round-trip test)."""
    engine = create_null_pool_engine(database_url, foreign_keys=False)
    config = alembic_config(database_url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_downgrade, config)
    finally:
        await engine.dispose()


def _upgrade(connection: Connection, config: Config) -> SchemaUpgrade:
    before = _recorded_revisions(connection)
    config.attributes["connection"] = connection
    command.upgrade(config, "head")
    return SchemaUpgrade(before=before, after=_recorded_revisions(connection))


def _recorded_revisions(connection: Connection) -> frozenset[str]:
    """Read without a failing statement: on PostgreSQL one would abort the transaction."""
    if not inspect(connection).has_table("alembic_version"):
        return frozenset()
    return frozenset(connection.scalars(text("SELECT version_num FROM alembic_version")))


def _downgrade(connection: Connection, config: Config) -> None:
    config.attributes["connection"] = connection
    command.downgrade(config, "base")


async def current_revisions(connection: AsyncConnection) -> frozenset[str]:
    """The revisions recorded in the database; empty when it was never migrated."""
    try:
        result = await connection.execute(text("SELECT version_num FROM alembic_version"))
    except DBAPIError:
        return frozenset()
    return frozenset(row[0] for row in result)
