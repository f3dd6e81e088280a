"""Test databases: one migrated database per backend per test session, emptied between tests.

SQLite: the migrated file is a template copied for each test. PostgreSQL: a database of its own
(created in the server named by TEST_DATABASE_URL, dropped at the end), truncated between tests.
Either way the schema is built by running the real migrations.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from app.schema import upgrade_to_head

DEFAULT_POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


def postgres_admin_url() -> str:
    return os.environ.get("TEST_DATABASE_URL", DEFAULT_POSTGRES_URL)


def postgres_required() -> bool:
    return os.environ.get("TICKETBOT_REQUIRE_POSTGRES", "") not in ("", "0", "false")


def _asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _postgres_reachable(url: str) -> str | None:
    try:
        connection = await asyncpg.connect(_asyncpg_dsn(url), timeout=5)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    await connection.close()
    return None


class PostgresTestDatabase:
    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self.name = f"ticketbot_test_{uuid.uuid4().hex[:12]}"
        self.url = make_url(admin_url).set(database=self.name).render_as_string(hide_password=False)
        self._tables: list[str] = []

    def create(self) -> None:
        asyncio.run(self._create())

    async def _create(self) -> None:
        connection = await asyncpg.connect(_asyncpg_dsn(self.admin_url))
        try:
            await connection.execute(f'CREATE DATABASE "{self.name}"')
        finally:
            await connection.close()
        await upgrade_to_head(self.url)
        connection = await asyncpg.connect(_asyncpg_dsn(self.url))
        try:
            rows = await connection.fetch(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                "AND tablename <> 'alembic_version'"
            )
        finally:
            await connection.close()
        self._tables = [row["tablename"] for row in rows]

    def empty(self) -> str:
        """Empty every table; re-migrate first if an earlier test downgraded the schema."""
        try:
            asyncio.run(self._truncate())
        except asyncpg.UndefinedTableError:
            asyncio.run(upgrade_to_head(self.url))
            asyncio.run(self._truncate())
        return self.url

    async def _truncate(self) -> None:
        connection = await asyncpg.connect(_asyncpg_dsn(self.url))
        try:
            tables = ", ".join(f'"{table}"' for table in self._tables)
            await connection.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
        finally:
            await connection.close()

    def drop(self) -> None:
        asyncio.run(self._drop())

    async def _drop(self) -> None:
        connection = await asyncpg.connect(_asyncpg_dsn(self.admin_url))
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        finally:
            await connection.close()


class SqliteTestDatabase:
    def __init__(self, directory: Path) -> None:
        self.template = directory / "template.db"

    def create(self) -> None:
        asyncio.run(upgrade_to_head(self.url_for(self.template)))

    def copy_to(self, directory: Path) -> str:
        target = directory / "ticketbot.db"
        shutil.copyfile(self.template, target)
        return self.url_for(target)

    @staticmethod
    def url_for(path: Path) -> str:
        return f"sqlite+aiosqlite:///{path}"


def check_postgres() -> str | None:
    """None if the test PostgreSQL answers, else why not."""
    return asyncio.run(_postgres_reachable(postgres_admin_url()))
