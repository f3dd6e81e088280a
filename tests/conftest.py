"""Fixtures shared by the whole suite: both databases, the Slack emulator, the running app."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.clock import SettableClock
from app.config import Settings
from app.db import create_engine, create_session_factory
from app.slack_emulator import SlackEmulator, SlackSender
from tests.support.databases import (
    PostgresTestDatabase,
    SqliteTestDatabase,
    check_postgres,
    postgres_admin_url,
    postgres_required,
)
from tests.support.server import RunningApp

SIGNING_SECRET = "test-signing-secret-8f2c"
BOT_TOKEN = "xoxb-test-token"
TEAM_ID = "T0001"


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_backend(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """A migrated database of each kind, for the whole session."""
    if request.param == "sqlite":
        database = SqliteTestDatabase(tmp_path_factory.mktemp("sqlite-template"))
        database.create()
        yield database
        return
    problem = check_postgres()
    if problem is not None:
        message = f"PostgreSQL at {postgres_admin_url()} unreachable ({problem})"
        if postgres_required():
            pytest.fail(message)
        pytest.skip(message)
    database = PostgresTestDatabase(postgres_admin_url())
    database.create()
    yield database
    database.drop()


@pytest.fixture
def database_url(database_backend: Any, tmp_path: Path) -> str:
    """An empty, migrated database for one test."""
    if isinstance(database_backend, SqliteTestDatabase):
        return database_backend.copy_to(tmp_path)
    return database_backend.empty()


@pytest.fixture
def is_postgres(database_url: str) -> bool:
    return database_url.startswith("postgresql")


@pytest.fixture
async def session_factory(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(database_url)
    yield create_session_factory(engine)
    await engine.dispose()


@pytest.fixture
def clock() -> SettableClock:
    return SettableClock()


@pytest.fixture
async def emulator() -> AsyncIterator[SlackEmulator]:
    emulator = SlackEmulator(bot_token=BOT_TOKEN, team_id=TEAM_ID)
    await emulator.start()
    yield emulator
    await emulator.stop()


def make_settings(database_url: str, emulator: SlackEmulator, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "slack_bot_token": BOT_TOKEN,
        "slack_signing_secret": SIGNING_SECRET,
        "slack_api_url": emulator.api_url,
        "support_leads": ["ULEAD1"],
        "triage_channel_id": "CTRIAGE",
        # Long polls: deliveries in tests must come from the commit wake-up, not a poll.
        "outbox_poll_seconds": 60.0,
        # Generous: a call that times out is retried at a backoff on the test clock, which
        # stands still, so a slow answer on a loaded machine must not become a timeout. Tests
        # of timeouts set their own.
        "slack_http_timeout_seconds": 10.0,
        "log_format": "console",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def settings(database_url: str, emulator: SlackEmulator) -> Settings:
    return make_settings(database_url, emulator)


@pytest.fixture
async def running_app(settings: Settings, clock: SettableClock) -> AsyncIterator[RunningApp]:
    app = await RunningApp(settings, clock).start()
    yield app
    await app.stop()


@pytest.fixture
async def sender(running_app: RunningApp) -> AsyncIterator[SlackSender]:
    sender = SlackSender(running_app.url, SIGNING_SECRET, team_id=TEAM_ID)
    yield sender
    await sender.aclose()


@pytest.fixture(autouse=True)
def _no_dotenv(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Settings built in tests never read a developer's environment."""
    for name in ("DATABASE_URL", "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_API_URL"):
        monkeypatch.delenv(name, raising=False)
    yield
