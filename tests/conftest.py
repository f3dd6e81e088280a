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


HTTP = "http"
SOCKET_MODE = "socket_mode"


@pytest.fixture
def transport(request: pytest.FixtureRequest) -> str:
    """How Slack reaches the app: signed HTTP requests (the default), or Socket Mode envelopes
    over the app's own connection (tests/slack/test_over_socket_mode.py runs flows both ways
    by parametrizing this fixture)."""
    return str(getattr(request, "param", HTTP))


@pytest.fixture
def settings(database_url: str, emulator: SlackEmulator, transport: str) -> Settings:
    if transport == SOCKET_MODE:
        return make_settings(database_url, emulator, slack_app_token=emulator.socket_mode.app_token)
    return make_settings(database_url, emulator)


@pytest.fixture
async def running_app(
    settings: Settings, clock: SettableClock, emulator: SlackEmulator
) -> AsyncIterator[RunningApp]:
    app = await RunningApp(settings, clock).start()
    if settings.uses_socket_mode:
        await emulator.socket_mode.wait_for_connections(1)
    yield app
    await app.stop()


@pytest.fixture
async def sender(
    running_app: RunningApp, emulator: SlackEmulator, transport: str
) -> AsyncIterator[SlackSender]:
    over_socket = emulator.socket_mode if transport == SOCKET_MODE else None
    sender = SlackSender(running_app.url, SIGNING_SECRET, team_id=TEAM_ID, socket_mode=over_socket)
    yield sender
    await sender.aclose()


@pytest.fixture(autouse=True)
def _no_dotenv(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Settings built in tests never read a developer's environment."""
    for name in (
        "DATABASE_URL",
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
        "SLACK_API_URL",
        "SLACK_APP_TOKEN",
        "SLACK_SOCKET_MODE",
    ):
        monkeypatch.delenv(name, raising=False)
    yield
