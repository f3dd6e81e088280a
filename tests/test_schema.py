"""Migrations: they build the schema the models describe, round-trip, and tolerate a stampede."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from app.db import create_null_pool_engine
from app.models import Base
from app.schema import (
    current_revisions,
    downgrade_to_base,
    head_revisions,
    migrations_directory,
    upgrade_to_head,
)


async def schema_drift(database_url: str) -> list:
    engine = create_null_pool_engine(database_url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(
                lambda sync: compare_metadata(
                    MigrationContext.configure(sync, opts={"compare_type": True}), Base.metadata
                )
            )
    finally:
        await engine.dispose()


async def table_names(database_url: str) -> set[str]:
    engine = create_null_pool_engine(database_url)
    try:
        async with engine.connect() as connection:
            return set(await connection.run_sync(lambda sync: inspect(sync).get_table_names()))
    finally:
        await engine.dispose()


async def revisions(database_url: str) -> frozenset[str]:
    engine = create_null_pool_engine(database_url)
    try:
        async with engine.connect() as connection:
            return await current_revisions(connection)
    finally:
        await engine.dispose()


async def test_migrated_schema_matches_the_models(database_url):
    """What `alembic check` checks: no difference between models and migrated database."""
    assert await schema_drift(database_url) == []
    assert await revisions(database_url) == head_revisions()


async def test_migrations_round_trip(database_url):
    await downgrade_to_base(database_url)
    assert await table_names(database_url) <= {"alembic_version"}
    assert await revisions(database_url) == frozenset()

    await upgrade_to_head(database_url)
    assert {"tickets", "outbox", "timers", "slack_events"} <= await table_names(database_url)
    assert await schema_drift(database_url) == []


async def test_upgrading_an_up_to_date_database_changes_nothing(database_url):
    await upgrade_to_head(database_url)
    assert await revisions(database_url) == head_revisions()


async def test_replicas_migrating_at_once_are_safe(database_url):
    await downgrade_to_base(database_url)

    await asyncio.gather(*(upgrade_to_head(database_url) for _ in range(4)))

    assert await revisions(database_url) == head_revisions()
    assert await schema_drift(database_url) == []


def test_migration_files_follow_the_naming_rule():
    for path in sorted(Path(migrations_directory(), "versions").glob("*.py")):
        date, _revision, _slug = path.stem.split("_", 2)
        assert len(date) == 10 and date[4] == "-" and date[7] == "-", path.name
        text = path.read_text()
        docstring = text.split('"""')[1].splitlines()[0]
        assert docstring.endswith("."), f"{path.name}: one-sentence docstring"


@pytest.mark.parametrize("pragma,expected", [("journal_mode", "wal"), ("foreign_keys", 1)])
async def test_sqlite_runs_with_wal_and_foreign_keys(tmp_path, pragma, expected):
    from sqlalchemy import text

    from app.db import SQLITE_BUSY_TIMEOUT_MS, create_engine

    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'pragma.db'}")
    try:
        async with engine.connect() as connection:
            value = (await connection.execute(text(f"PRAGMA {pragma}"))).scalar()
            timeout = (await connection.execute(text("PRAGMA busy_timeout"))).scalar()
    finally:
        await engine.dispose()
    assert value == expected
    assert timeout == SQLITE_BUSY_TIMEOUT_MS
