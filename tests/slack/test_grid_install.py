"""An org-wide install across an Enterprise Grid org, through Slack's OAuth flow, on both
databases.

An org admin installs ticketbot once for the whole org (`is_enterprise_install`): Slack answers
`oauth.v2.access` with `team: null` and the org in `enterprise`
(api.slack.com/enterprise/apps/reference). One token then serves every workspace of the org;
events name the installation in `authorizations[0]` (`team_id: null`,
`is_enterprise_install: true`) and the workspace where they happened in the envelope's
`team_id`/`context_team_id` (bolt-python tests/scenario_tests/test_events_org_apps.py). Channel
and user ids are unique across a Grid org, so one person may act from any of its workspaces.

The org is the installation: one queue, one team, one numbering. Each ticket records which of
the org's workspaces its channel belongs to.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import select, text

from app.apikeys.scopes import Scope
from app.apikeys.service import create_api_key
from app.clock import SystemClock
from app.slack_emulator import SlackEmulator, SlackSender, message_event, next_ts
from app.tickets.enums import TicketStatus
from app.tickets.models import Ticket
from app.workspaces.models import SlackInstallation, Workspace
from tests.conftest import SIGNING_SECRET
from tests.slack.test_multi_workspace import CLIENT_ID, CLIENT_SECRET, install, oauth_settings
from tests.support.server import RunningApp, wait_until

ORG = "E0INITECH"
EMEA, AMERICAS = "T0EMEA", "T0AMER"  # two workspaces of the org
ADMIN = "W0ADMIN"  # the org admin who installs; a member of both workspaces
BOT = "W0BOT"
COLLEAGUE = "W0BILL"  # a person of the org asking for help (an internal customer)
CUSTOMER = "UCUST1"  # of another organisation, in a Slack Connect channel of the org
OTHER_ORG_TEAM = "T0GLOBEX"


@pytest.fixture
async def emulator() -> AsyncIterator[SlackEmulator]:
    """A Grid org that has not installed the app yet."""
    emulator = SlackEmulator(
        bot_token="xoxb-never-issued",
        team_id=ORG,
        team_name="Initech",
        bot_user_id=BOT,
        bot_id="B0BOT",
        enterprise_id=ORG,
        is_enterprise_install=True,
    )
    emulator.revoke_tokens(ORG)
    emulator.add_team(OTHER_ORG_TEAM, name="Globex")  # the Slack Connect customer's side
    await emulator.start()
    yield emulator
    await emulator.stop()


@pytest.fixture
async def app(database_url, emulator, clock) -> AsyncIterator[RunningApp]:
    running = await RunningApp(oauth_settings(database_url, emulator), clock).start()
    emulator.enable_oauth(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        redirect_urls=[f"{running.url}/slack/oauth_redirect"],
    )
    yield running
    await running.stop()


def in_workspace(app: RunningApp, team_id: str) -> SlackSender:
    """Requests as Slack sends them from one of the org's workspaces to the org-wide install."""
    return SlackSender(app.url, SIGNING_SECRET, team_id=team_id, bot_user_id=BOT)


async def command(sender: SlackSender, line: str, *, team: str, channel: str) -> str:
    answer = await sender.send_command(
        line,
        user_id=ADMIN,
        channel_id=channel,
        team_id=team,
        enterprise_id=ORG,
        enterprise_name="Initech",
        is_enterprise_install=True,
    )
    assert answer.status_code == 200, answer.text
    return answer.text


async def ask(sender: SlackSender, channel: str, user: str, words: str, **envelope: object):
    answer = await sender.send_event(
        message_event(channel, user, words, ts=next_ts(), **_writer(envelope)),
        is_enterprise_install=True,
        **({"enterprise_id": ORG} | envelope),  # type: ignore[arg-type]
    )
    assert answer.status_code == 200, answer.text


def _writer(envelope: dict[str, object]) -> dict[str, object]:
    return {"user_team": OTHER_ORG_TEAM} if envelope.get("is_ext_shared_channel") else {}


async def tickets(app: RunningApp) -> dict[int, Ticket]:
    async with app.runtime.session_factory() as session:
        return {t.number: t for t in await session.scalars(select(Ticket))}


async def test_an_org_wide_install_serves_every_workspace_of_the_org(app, emulator):
    page = await install(app, emulator, ORG, ADMIN)
    # Bolt sends an org admin on to add the app to the org's workspaces.
    assert "workspaces/add" in page

    async with app.runtime.session_factory() as session:
        [workspace] = list(await session.scalars(select(Workspace)))
        [installed] = list(await session.scalars(select(SlackInstallation)))
        stored = str((await session.execute(text("SELECT * FROM slack_installations"))).all())
    assert (workspace.slack_team_id, workspace.is_enterprise_install) == (ORG, True)
    assert workspace.name == "Initech"
    assert (installed.team_id, installed.enterprise_id) == (None, ORG)
    [token] = emulator.bot_tokens(ORG)
    assert token not in stored

    emea, americas = in_workspace(app, EMEA), in_workspace(app, AMERICAS)
    async with emea, americas:
        # The admin (the installer, so a lead) watches a channel in each workspace.
        assert "Watching" in await command(emea, "watch", team=EMEA, channel="CEMEAHELP")
        assert "Watching" in await command(americas, "watch", team=AMERICAS, channel="CAMERHELP")
        await ask(emea, "CEMEAHELP", COLLEAGUE, "The Paris printer is jammed")
        await ask(americas, "CAMERHELP", COLLEAGUE, "VPN drops in Austin")
        # A customer of another organisation writes in the org's Slack Connect channel, hosted
        # by the Americas workspace: the envelope names the customer's side, the context ours.
        assert "Watching" in await command(americas, "watch", team=AMERICAS, channel="CSHARED")
        await ask(
            americas,
            "CSHARED",
            CUSTOMER,
            "Our invoices are wrong",
            team_id=OTHER_ORG_TEAM,
            enterprise_id=None,  # not a Grid org
            is_ext_shared_channel=True,
            installation_enterprise_id=ORG,
            context_team_id=AMERICAS,
            context_enterprise_id=ORG,
        )

        opened = await tickets(app)
        assert {n: (t.subject, t.channel_team_id) for n, t in opened.items()} == {
            1: ("The Paris printer is jammed", EMEA),
            2: ("VPN drops in Austin", AMERICAS),
            3: ("Our invoices are wrong", AMERICAS),
        }
        assert {t.workspace_id for t in opened.values()} == {workspace.id}
        # People of the org are inside it; the Slack Connect customer is an account.
        assert [opened[n].is_external for n in (1, 2, 3)] == [False, False, True]
        assert opened[3].requester_team_id == OTHER_ORG_TEAM

        # Every card is posted with the org's one token.
        await wait_until(lambda: len(emulator.messages("CTRIAGE")) >= 3, message="3 cards")
        assert {call.token for call in emulator.delivered("chat.postMessage")} == {token}

        # The admin belongs to both workspaces: from EMEA they see and resolve an Americas
        # ticket (one installation, one queue).
        assert "VPN drops in Austin" in await command(
            emea, "show T-2", team=EMEA, channel="CEMEAHELP"
        )
        listed = await command(americas, "list", team=AMERICAS, channel="CAMERHELP")
        assert "Paris printer" in listed and "VPN drops" in listed
        await command(emea, "resolve T-2", team=EMEA, channel="CEMEAHELP")
        assert (await tickets(app))[2].status is TicketStatus.RESOLVED

    # The API reports the workspace each ticket came from.
    async with app.runtime.session_factory() as session, session.begin():
        key = await create_api_key(
            session=session,
            name="reports",
            scopes=[Scope.TICKETS_READ],
            now=SystemClock().now(),
            workspace_id=workspace.id,
        )
    async with httpx.AsyncClient(base_url=app.url, timeout=10) as api:
        answer = await api.get("/api/tickets/T-3", headers={"Authorization": f"Bearer {key.token}"})
    assert answer.status_code == 200, answer.text
    assert (answer.json()["channel_team"], answer.json()["requester_team"]) == (
        AMERICAS,
        OTHER_ORG_TEAM,
    )


async def test_uninstalling_the_org_wide_install_removes_its_token(app, emulator):
    await install(app, emulator, ORG, ADMIN)
    emea = in_workspace(app, EMEA)
    async with emea:
        emulator.revoke_tokens(ORG)
        # `app_uninstalled` has no `authorizations`; the envelope names a workspace of the org
        # and the org (docs.slack.dev/reference/events/app_uninstalled).
        answer = await emea.send_event({"type": "app_uninstalled"}, bare=True, enterprise_id=ORG)
        assert answer.status_code == 200
    async with app.runtime.session_factory() as session:
        assert list(await session.scalars(select(SlackInstallation))) == []
        workspaces = list(await session.scalars(select(Workspace.slack_team_id)))
    # No workspace row was made up from the payload's team.
    assert workspaces == [ORG]
