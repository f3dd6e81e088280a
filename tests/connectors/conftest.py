"""A running ticketbot with a token encryption key (connector credentials are stored
encrypted), and the local fakes of the connected services."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from app.token_cipher import TokenCipher
from tests.conftest import make_settings
from tests.fakes.hubspot import FakeHubSpot
from tests.fakes.jira import FakeJira
from tests.fakes.linear import FakeLinear
from tests.fakes.salesforce import FakeSalesforce
from tests.fakes.zendesk import FakeZendesk
from tests.support.server import RunningApp

KEY = TokenCipher.new_key()


@pytest.fixture
async def app(database_url, emulator, clock) -> AsyncIterator[RunningApp]:
    settings = make_settings(database_url, emulator, token_encryption_keys=KEY)
    running = await RunningApp(settings, clock).start()
    yield running
    await running.stop()


@pytest.fixture
async def zendesk() -> AsyncIterator[FakeZendesk]:
    fake = FakeZendesk()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def hubspot() -> AsyncIterator[FakeHubSpot]:
    fake = FakeHubSpot()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def salesforce() -> AsyncIterator[FakeSalesforce]:
    fake = FakeSalesforce()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def jira() -> AsyncIterator[FakeJira]:
    fake = FakeJira(projects=("ENG",))
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def linear() -> AsyncIterator[FakeLinear]:
    fake = FakeLinear(teams=("ENG",))
    await fake.start()
    yield fake
    await fake.stop()
