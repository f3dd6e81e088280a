"""A running ticketbot with its web dashboard, signed in with Slack against the emulator's
OpenID Connect side, and a browser-like HTTP client that keeps cookies."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import select

from app.accounts.scoring import HealthPolicy, recompute_health
from app.accounts.service import create_account
from app.slack_emulator import SlackEmulator
from app.team.enums import Role
from app.workspaces.models import Workspace
from tests.conftest import TEAM_ID, make_settings
from tests.support.server import RunningApp
from tests.tickets.helpers import CUSTOMER, add_member, open_tickets, watch

CLIENT_ID = "1111.2222"
CLIENT_SECRET = "web-client-secret"
LEAD, AGENT, OUTSIDER = "ULEAD1", "UAGENT", "UOUTSIDER"
CALLBACK = "/web/signin/callback"


@pytest.fixture
async def dashboard(database_url, clock, emulator: SlackEmulator) -> AsyncIterator[RunningApp]:
    emulator.enable_oauth(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, redirect_urls=[])
    for user, name in (
        (LEAD, "Lena Lead"),
        (AGENT, "Aki Agent"),
        (CUSTOMER, "Cora"),
        (OUTSIDER, "Otto"),
    ):
        emulator.add_user(user, name=name.split()[0].lower(), real_name=name)
    settings = make_settings(
        database_url,
        emulator,
        slack_client_id=CLIENT_ID,
        slack_client_secret=CLIENT_SECRET,
        slack_openid_authorize_url=emulator.openid_authorize_url,
    )
    app = await RunningApp(settings, clock).start()
    assert emulator.oauth is not None
    emulator.oauth.redirect_urls.append(app.url + CALLBACK)
    await watch(app, "CSUPPORT")
    await add_member(app, AGENT, Role.AGENT)
    yield app
    await app.stop()


async def scored_account(app: RunningApp, name: str, now) -> int:
    """An account made as a lead makes one, scored as the morning scoring does; its id."""
    async with app.runtime.session_factory() as session, session.begin():
        workspace_id = await session.scalar(select(Workspace.id))
        account = await create_account(
            session=session, workspace_id=workspace_id, name=name, now=now
        )
        await recompute_health(
            session=session,
            workspace_id=workspace_id,
            now=now,
            zone="UTC",
            policy=HealthPolicy.from_settings(app.runtime.settings),
        )
        return account.id


class Browser:
    """Cookies kept, redirects followed by hand where a test looks at them."""

    def __init__(self, app: RunningApp, emulator: SlackEmulator) -> None:
        self.app = app
        self.emulator = emulator
        self.http = httpx.AsyncClient(base_url=app.url, timeout=15)

    async def sign_in(self, user_id: str, next_path: str = "/web/queue") -> httpx.Response:
        """Sign in as `user_id` (who the emulator's "browser" is signed in to Slack as), the
        way a person clicks through; returns the last answer."""
        assert self.emulator.oauth is not None
        self.emulator.oauth.sign_in(TEAM_ID, user_id)
        return await self.http.get(
            f"/web/signin/slack?next={quote(next_path, safe='')}", follow_redirects=True
        )

    async def csrf(self, path: str = "/web/queue") -> str:
        page = await self.http.get(path)
        assert page.status_code == 200, page.text
        found = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert found, "every signed-in page carries the form token"
        return found.group(1)

    async def aclose(self) -> None:
        await self.http.aclose()


@pytest.fixture
async def browser(dashboard: RunningApp, emulator: SlackEmulator) -> AsyncIterator[Browser]:
    browser = Browser(dashboard, emulator)
    yield browser
    await browser.aclose()


__all__ = ["CUSTOMER", "open_tickets"]
