"""Several workspaces installed through Slack's OAuth flow, end to end, on both databases.

Each workspace is installed as an admin would: `/slack/install` in the running app, Slack's
consent page (the emulator's, which approves at once), the redirect back with a code, Bolt's
`oauth.v2.access` and `auth.test`. The two workspaces below share channel and user ids on
purpose (ids are unique only within a workspace in Slack): nothing one does may show in, or
change, the other's data, and each is sent to with its own token.
"""

from __future__ import annotations

import asyncio
import html
import json
import re
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select, text

from app.apikeys.scopes import Scope
from app.apikeys.service import create_api_key
from app.cli import main as cli_main
from app.clock import SystemClock
from app.config import SettingsError, load_settings
from app.db import create_engine, create_session_factory
from app.outbox.enums import OutboxStatus
from app.outbox.models import OutboxMessage, PacedKey
from app.slack.client import build_outbox_client
from app.slack.ids import ActionId
from app.slack.installations import Installations
from app.slack_emulator import (
    SlackEmulator,
    SlackSender,
    app_home_opened_event,
    message_event,
    next_ts,
)
from app.tickets.models import Ticket
from app.token_cipher import TokenCipher
from app.workspaces.installations import NewInstallation, find_installed_bot, save_installation
from app.workspaces.models import SlackInstallation, Workspace
from tests.conftest import SIGNING_SECRET, make_settings
from tests.sla.test_sla_flow import sweep
from tests.support.server import RunningApp, wait_until
from tests.tickets.test_triage_card import click

CLIENT_ID = "1111.2222"
CLIENT_SECRET = "oauth-client-secret-3c1e"
KEY = TokenCipher.new_key()
ACME, GLOBEX = "T0001", "T0002"
LEAD = "ULEAD1"  # the installer in both workspaces: the same id, two different people
CUSTOMER = "UCUSTOMER"


@pytest.fixture
async def emulator() -> AsyncIterator[SlackEmulator]:
    """Two workspaces that have not installed the app yet (no bot token is live)."""
    emulator = SlackEmulator(bot_token="xoxb-never-issued", team_id=ACME, team_name="Acme")
    emulator.revoke_tokens(ACME)
    emulator.add_workspace(GLOBEX, team_name="Globex", bot_user_id="UBOT2", bot_id="BBOT2")
    await emulator.start()
    yield emulator
    await emulator.stop()


def oauth_settings(database_url: str, emulator: SlackEmulator, **overrides: object):
    return make_settings(
        database_url,
        emulator,
        slack_bot_token=None,
        slack_client_id=CLIENT_ID,
        slack_client_secret=CLIENT_SECRET,
        token_encryption_keys=KEY,
        slack_authorize_url=emulator.authorize_url,
        support_leads=[],
        **overrides,
    )


@pytest.fixture
def rotation() -> bool:
    return False


@pytest.fixture
async def app(database_url, emulator, clock, rotation) -> AsyncIterator[RunningApp]:
    running = await RunningApp(oauth_settings(database_url, emulator), clock).start()
    emulator.enable_oauth(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        redirect_urls=[f"{running.url}/slack/oauth_redirect"],
        token_rotation=rotation,
    )
    yield running
    await running.stop()


async def install(app: RunningApp, emulator: SlackEmulator, team_id: str, user_id: str) -> str:
    """An admin of `team_id` installs the app; returns the success page."""
    emulator.oauth.sign_in(team_id, user_id)  # type: ignore[union-attr]
    async with httpx.AsyncClient(timeout=10) as browser:
        page = await browser.get(f"{app.url}/slack/install")
        assert page.status_code == 200, page.text
        [link] = [
            found
            for found in re.findall(r'href="([^"]+)"', page.text)
            if "/oauth/v2/authorize" in found
        ]
        # Bolt's state cookie is `Secure`; a browser sends it to localhost, httpx does not.
        state_cookie = page.headers["set-cookie"].split(";", 1)[0]
        consent = await browser.get(html.unescape(link))
        assert consent.status_code == 302, consent.text
        back = await browser.get(consent.headers["location"], headers={"cookie": state_cookie})
    assert back.status_code == 200, back.text
    return back.text


async def install_both(app: RunningApp, emulator: SlackEmulator) -> dict[str, int]:
    """Both workspaces install the app; their workspace ids by team id."""
    await install(app, emulator, ACME, LEAD)
    await install(app, emulator, GLOBEX, LEAD)
    ids = await workspace_ids(app)
    assert set(ids) == {ACME, GLOBEX}
    return ids


async def both_ask(to_acme: SlackSender, to_globex: SlackSender) -> None:
    """Each workspace watches CSUPPORT, and a customer asks in each."""
    await command(to_acme, "watch")
    await command(to_globex, "watch")
    await to_acme.send_event(message_event("CSUPPORT", CUSTOMER, "Acme asks", ts=next_ts()))
    await to_globex.send_event(message_event("CSUPPORT", CUSTOMER, "Globex asks", ts=next_ts()))


def sender_for(app: RunningApp, team_id: str, bot_user_id: str) -> SlackSender:
    return SlackSender(app.url, SIGNING_SECRET, team_id=team_id, bot_user_id=bot_user_id)


async def command(sender: SlackSender, line: str, channel: str = "CSUPPORT") -> str:
    answer = await sender.send_command(line, user_id=LEAD, channel_id=channel)
    assert answer.status_code == 200, answer.text
    return answer.text  # the reply's text and blocks


async def workspace_ids(app: RunningApp) -> dict[str, int]:
    async with app.runtime.session_factory() as session:
        rows = await session.execute(select(Workspace.slack_team_id, Workspace.id))
        return {key: value for key, value in rows}


async def test_two_workspaces_install_and_never_see_each_other(app, emulator):
    acme, globex = emulator, emulator.workspace(GLOBEX)
    assert "slack://app?team=T0001" in await install(app, emulator, ACME, LEAD)
    await install(app, emulator, GLOBEX, LEAD)
    ids = await workspace_ids(app)
    assert set(ids) == {ACME, GLOBEX}

    # Tokens are stored encrypted: no issued token appears anywhere in the table.
    issued = emulator.bot_tokens(ACME) + emulator.bot_tokens(GLOBEX)
    assert len(issued) == 2
    async with app.runtime.session_factory() as session:
        stored = (await session.execute(text("SELECT * FROM slack_installations"))).all()
    assert len(stored) == 2
    assert not any(token in str(row) for row in stored for token in issued)

    # Each installer is told, in a direct message from that workspace's bot, what to do next.
    def welcomes() -> list[str]:
        return [
            call.token
            for call in emulator.delivered("chat.postMessage")
            if call.args.get("channel") == LEAD and "/ticket watch" in str(call.args["text"])
        ]

    await wait_until(lambda: len(welcomes()) == 2, message="two welcomes")
    assert sorted(welcomes()) == sorted(issued)

    # The installer leads each workspace's team; both watch CSUPPORT (same id, two channels).
    to_acme, to_globex = sender_for(app, ACME, "UBOT"), sender_for(app, GLOBEX, "UBOT2")
    async with to_acme, to_globex:
        assert "Watching" in await command(to_acme, "watch")
        assert "Watching" in await command(to_globex, "watch")
        acme_ts, globex_ts = next_ts(), next_ts()
        await to_acme.send_event(
            message_event("CSUPPORT", CUSTOMER, "Acme exports fail", ts=acme_ts)
        )
        await to_globex.send_event(
            message_event("CSUPPORT", CUSTOMER, "Globex cannot log in", ts=globex_ts)
        )

        # Each workspace's ticket is its own T-1, and its card goes to its own triage channel,
        # posted with its own token.
        async with app.runtime.session_factory() as session:
            tickets = {
                (t.workspace_id, t.number): t.subject for t in await session.scalars(select(Ticket))
            }
        assert tickets == {
            (ids[ACME], 1): "Acme exports fail",
            (ids[GLOBEX], 1): "Globex cannot log in",
        }
        async with asyncio.timeout(10):  # a view waits on the calls of the whole emulator
            await globex.wait_for_calls("chat.postMessage", count=4)
        acme_cards = await wait_until(lambda: acme.messages("CTRIAGE"), message="Acme's card")
        globex_cards = await wait_until(lambda: globex.messages("CTRIAGE"), message="Globex card")
        assert "Acme exports fail" in str(acme_cards[0]["blocks"])
        assert "Globex cannot log in" in str(globex_cards[0]["blocks"])
        assert "Globex" not in str(acme_cards) and "Acme" not in str(globex_cards)
        for call in emulator.delivered("chat.postMessage"):
            channel_team = ACME if call.token in emulator.bot_tokens(ACME) else GLOBEX
            assert call.token in emulator.bot_tokens(channel_team)

        # Commands see their own workspace only.
        assert "Acme exports fail" in await command(to_acme, "show T-1")
        assert "Globex cannot log in" in await command(to_globex, "show T-1")
        acme_list = await command(to_acme, "list")
        assert "Acme exports fail" in acme_list and "Globex" not in acme_list
        globex_list = await command(to_globex, "list")
        assert "Globex cannot log in" in globex_list and "Acme" not in globex_list

        # A change in one leaves the other as it was.
        await command(to_globex, "resolve T-1")
        async with app.runtime.session_factory() as session:
            statuses = {
                t.workspace_id: t.status.value for t in await session.scalars(select(Ticket))
            }
        assert statuses == {ids[ACME]: "new", ids[GLOBEX]: "resolved"}


async def test_a_workspace_that_never_installed_is_told_so_and_nothing_is_stored(app, emulator):
    await install(app, emulator, ACME, LEAD)
    async with sender_for(app, GLOBEX, "UBOT2") as stranger:
        answer = await stranger.send_command(
            "list", user_id=LEAD, channel_id="CSUPPORT", response_url=emulator.new_response_url()
        )
        assert answer.status_code == 200
        # Bolt tells the person, through the command's response_url, to install the app.
        [told] = emulator.calls("response_url")
        assert "reinstall this app" in told.args["text"]
        await stranger.send_event(message_event("CSUPPORT", CUSTOMER, "hello?", ts=next_ts()))
    assert set(await workspace_ids(app)) == {ACME}
    async with app.runtime.session_factory() as session:
        assert list(await session.scalars(select(Ticket))) == []


async def test_uninstall_fails_only_that_workspaces_waiting_slack_calls(app, emulator, clock):
    ids = await install_both(app, emulator)
    to_acme, to_globex = sender_for(app, ACME, "UBOT"), sender_for(app, GLOBEX, "UBOT2")
    async with to_acme, to_globex:
        await command(to_acme, "watch")
        await command(to_globex, "watch")
        # Globex's card and auto-reply meet a Slack outage and wait for their retry.
        emulator.fail_next("chat.postMessage", status=503, times=2)
        await to_globex.send_event(message_event("CSUPPORT", CUSTOMER, "Help", ts=next_ts()))
        waiting = await wait_until(
            lambda: _rows(app, ids[GLOBEX], attempted=True), message="Globex's calls tried once"
        )
        assert {row.status for row in waiting} == {OutboxStatus.PENDING}

        emulator.revoke_tokens(GLOBEX)
        # Slack sends app_uninstalled and tokens_revoked, in either order, with no
        # `authorizations` (nothing is installed any more).
        revoked = {"type": "tokens_revoked", "tokens": {"oauth": [], "bot": ["UBOT2"]}}
        assert (await to_globex.send_event(revoked, bare=True)).status_code == 200
        uninstalled = {"type": "app_uninstalled"}
        assert (await to_globex.send_event(uninstalled, bare=True)).status_code == 200

        rows = await _rows(app, ids[GLOBEX])
        assert {row.status for row in rows} == {OutboxStatus.FAILED}
        assert all("bot token was revoked" in (row.last_error or "") for row in rows)
        async with app.runtime.session_factory() as session:
            left = list(await session.scalars(select(SlackInstallation.workspace_id)))
        assert left == [ids[ACME]]

        # Acme goes on as before.
        await to_acme.send_event(message_event("CSUPPORT", CUSTOMER, "Still fine", ts=next_ts()))
        await wait_until(lambda: emulator.messages("CTRIAGE"), message="Acme's card")
        # A Globex row written after the uninstall (a timer, say) is refused, not retried.
        clock.advance(timedelta(minutes=30))
        app.runtime.dispatcher.wake()
        await wait_until(
            lambda: _all_settled(app, ids[GLOBEX]), message="Globex rows settled as failed"
        )


def cards(view: SlackEmulator) -> list[dict[str, object]]:
    """The triage cards of a workspace (not the replies in their threads)."""
    return [m for m in view.messages("CTRIAGE") if m.get("thread_ts") in (None, m["ts"])]


async def _rows(app, workspace_id: int, *, attempted: bool = False) -> list[OutboxMessage]:
    async with app.runtime.session_factory() as session:
        rows = list(
            await session.scalars(
                select(OutboxMessage).where(
                    OutboxMessage.workspace_id == workspace_id,
                    OutboxMessage.target == "chat.postMessage",
                )
            )
        )
    # The card and the auto-reply (not the installer's welcome, delivered at the install).
    rows = [row for row in rows if row.payload.get("channel") != LEAD]
    if attempted and not (rows and all(row.attempts >= 1 for row in rows)):
        return []
    return rows


async def _all_settled(app, workspace_id: int) -> bool:
    rows = await _rows(app, workspace_id)
    return bool(rows) and all(row.status is OutboxStatus.FAILED for row in rows)


@pytest.mark.parametrize("rotation", [True])
async def test_an_expiring_token_is_refreshed_once_across_replicas(app, emulator, clock):
    await install(app, emulator, ACME, LEAD)
    [first] = emulator.bot_tokens(ACME)
    assert first.startswith("xoxe.xoxb-")
    runtime = app.runtime
    settings = runtime.settings
    cipher = settings.token_cipher()
    assert cipher is not None
    ids = await workspace_ids(app)

    # Ten hours and a half on, the token has 90 minutes left: under the 120 asked for.
    clock.advance(timedelta(hours=10, minutes=30))

    def replica() -> Installations:
        return Installations(
            session_factory=runtime.session_factory,
            cipher=cipher,
            clock=clock,
            client=build_outbox_client(settings, runtime.http_session),
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            refresh_before=timedelta(minutes=120),
        )

    bots = await asyncio.gather(*(replica().bot(workspace_id=ids[ACME]) for _ in range(3)))
    refreshes = [c for c in emulator.calls("oauth.v2.access") if c.args.get("grant_type")]
    assert len(refreshes) == 1
    async with runtime.session_factory() as session:
        stored = await find_installed_bot(session=session, cipher=cipher, workspace_id=ids[ACME])
    assert stored is not None and stored.bot_token != first
    # The one that refreshed has the new token; the others went on with the old, still valid.
    assert {bot.bot_token for bot in bots if bot is not None} <= {first, stored.bot_token}
    assert stored.bot_token in {bot.bot_token for bot in bots if bot is not None}
    assert stored.bot_token_expires_at == clock.now() + timedelta(hours=12)


@pytest.mark.parametrize("rotation", [True])
async def test_a_slack_request_is_not_held_back_by_a_token_refresh(app, emulator, clock):
    """Within the refresh window the token is still valid: a command is answered with it at
    once (Slack waits for the ack) while the refresh runs in the background."""
    await install(app, emulator, ACME, LEAD)
    [first] = emulator.bot_tokens(ACME)
    ids = await workspace_ids(app)
    cipher = app.runtime.settings.token_cipher()
    clock.advance(timedelta(hours=10, minutes=30))
    emulator.slow_next("oauth.v2.access", seconds=5.0)  # Slack refreshes, answers late

    async def stored_token() -> str | None:
        async with app.runtime.session_factory() as session:
            bot = await find_installed_bot(session=session, cipher=cipher, workspace_id=ids[ACME])
        return bot.bot_token if bot else None

    async with sender_for(app, ACME, "UBOT") as to_acme:
        assert "Watching" in await command(to_acme, "watch")
    # Answered before the refresh (which waits 5 s for Slack's answer) was stored.
    assert await stored_token() == first
    refreshed = await wait_until(
        lambda: _changed(stored_token, first), within=15, message="the background refresh"
    )
    assert refreshed and len(emulator.bot_tokens(ACME)) == 2


async def _changed(read, old: str) -> bool:
    return (await read()) not in (None, old)


def test_settings_say_in_one_line_what_an_install_needs(database_url, emulator):
    def refused(**values: object) -> str:
        with pytest.raises(SettingsError) as raised:
            load_settings(
                _env_file=None,
                database_url=database_url,
                slack_signing_secret="s",
                **values,
            )
        return str(raised.value)

    assert "SLACK_BOT_TOKEN is not set" in refused()
    assert "go together" in refused(slack_bot_token="xoxb-1", slack_client_id="1.2")
    # A bot token with the client's credentials: one workspace, and Sign in with Slack.
    one = load_settings(
        _env_file=None,
        database_url=database_url,
        slack_signing_secret="s",
        slack_bot_token="xoxb-1",
        slack_client_id="1.2",
        slack_client_secret="x",
    )
    assert (one.installs_with_oauth, one.web_sign_in) == (False, True)
    assert "go together" in refused(slack_client_id="1.2")
    assert "TOKEN_ENCRYPTION_KEYS" in refused(slack_client_id="1.2", slack_client_secret="x")
    assert "ticketbot new-token-key" in refused(
        slack_client_id="1.2", slack_client_secret="x", token_encryption_keys="not-a-key"
    )
    assert "/ticket team add" in refused(
        slack_client_id="1.2",
        slack_client_secret="x",
        token_encryption_keys=KEY,
        support_agents_usergroup_id="S0123",
    )
    settings = load_settings(
        _env_file=None,
        database_url=database_url,
        slack_signing_secret="s",
        slack_client_id="1.2",
        slack_client_secret="x",
        token_encryption_keys=f"{TokenCipher.new_key()},{KEY}",
    )
    assert settings.installs_with_oauth and len(settings.token_encryption_keys) == 2


def test_rotating_the_key_re_encrypts_every_stored_token(database_url, monkeypatch, capsys):
    """`ticketbot rotate-token-key`: the tokens stored under the old key are read with the new
    one alone afterwards; a key list that cannot read them changes nothing, in one line."""
    old, new = KEY, TokenCipher.new_key()

    async def with_session(work):
        engine = create_engine(database_url)
        try:
            async with create_session_factory(engine)() as session, session.begin():
                return await work(session)
        finally:
            await engine.dispose()

    async def install_one(session) -> int:
        return await save_installation(
            session=session,
            cipher=TokenCipher([old]),
            installation=NewInstallation(
                team_id="T0009",
                team_name="Initech",
                enterprise_id=None,
                enterprise_name=None,
                is_enterprise_install=False,
                app_id="A0001",
                bot_id="B9",
                bot_user_id="UBOT9",
                bot_scopes="chat:write",
                bot_token="xoxb-initech-secret",
                bot_refresh_token="xoxe-1-initech",
                bot_token_expires_at=None,
                installer_user_id="UADMIN",
            ),
            now=SystemClock().now(),
        )

    workspace_id = asyncio.run(with_session(install_one))
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("TOKEN_ENCRYPTION_KEYS", f"{TokenCipher.new_key()}")
    assert cli_main(["rotate-token-key"]) == 1
    assert "cannot be decrypted" in capsys.readouterr().err

    monkeypatch.setenv("TOKEN_ENCRYPTION_KEYS", f"{new},{old}")
    assert cli_main(["rotate-token-key"]) == 0
    assert "1 installation(s)" in capsys.readouterr().out

    async def read_with_new_key_only(session):
        return await find_installed_bot(
            session=session, cipher=TokenCipher([new]), workspace_id=workspace_id
        )

    bot = asyncio.run(with_session(read_with_new_key_only))
    assert bot is not None
    assert (bot.bot_token, bot.bot_refresh_token) == ("xoxb-initech-secret", "xoxe-1-initech")


async def test_each_api_key_reads_its_own_workspace_only(app, emulator):
    ids = await install_both(app, emulator)
    to_acme, to_globex = sender_for(app, ACME, "UBOT"), sender_for(app, GLOBEX, "UBOT2")
    async with to_acme, to_globex:
        await both_ask(to_acme, to_globex)

    async def key_for(workspace_id: int | None) -> str:
        async with app.runtime.session_factory() as session, session.begin():
            created = await create_api_key(
                session=session,
                name=f"reports {workspace_id}",
                scopes=[Scope.TICKETS_READ],
                now=SystemClock().now(),
                workspace_id=workspace_id,
            )
            return created.token

    async with httpx.AsyncClient(base_url=app.url, timeout=10) as api:
        for team, subject in ((ACME, "Acme asks"), (GLOBEX, "Globex asks")):
            key = await key_for(ids[team])
            answer = await api.get("/api/tickets", headers={"Authorization": f"Bearer {key}"})
            assert answer.status_code == 200, answer.text
            assert subject in answer.text
            assert ("Globex" if team == ACME else "Acme") not in answer.text
            # Both workspaces have a T-1: each key gets its own.
            one = await api.get("/api/tickets/T-1", headers={"Authorization": f"Bearer {key}"})
            assert one.status_code == 200 and subject in one.text
        unscoped = await key_for(None)
        answer = await api.get("/api/tickets", headers={"Authorization": f"Bearer {unscoped}"})
        assert answer.status_code == 403
        assert "--workspace" in answer.text


async def test_a_click_in_one_workspace_never_changes_the_others_ticket(app, emulator):
    """Card buttons carry ticket ids; a click (or a forged one) from one workspace naming the
    other's ticket is refused, and that ticket stays as it was."""
    ids = await install_both(app, emulator)
    to_acme, to_globex = sender_for(app, ACME, "UBOT"), sender_for(app, GLOBEX, "UBOT2")
    async with to_acme, to_globex:
        await both_ask(to_acme, to_globex)
        globex_card = (
            await wait_until(
                lambda: emulator.workspace(GLOBEX).messages("CTRIAGE"), message="Globex card"
            )
        )[0]
        async with app.runtime.session_factory() as session:
            acme_ticket = await session.scalar(
                select(Ticket).where(Ticket.workspace_id == ids[ACME])
            )
        assert acme_ticket is not None

        forged = json.loads(json.dumps(globex_card))
        for block in forged["blocks"]:
            for element in block.get("elements") or []:
                if element.get("action_id") == ActionId.RESOLVE:
                    element["value"] = str(acme_ticket.id)
        answer = await click(to_globex, forged, ActionId.RESOLVE, LEAD)
        assert answer.status_code == 200
        # The same lead's click on their own card does resolve their own ticket.
        await click(to_globex, globex_card, ActionId.RESOLVE, LEAD)

    async with app.runtime.session_factory() as session:
        statuses = {t.workspace_id: t.status.value for t in await session.scalars(select(Ticket))}
    assert statuses == {ids[ACME]: "new", ids[GLOBEX]: "resolved"}


async def test_a_redirect_without_its_install_state_installs_nothing(app, emulator):
    """Slack's redirect back must bring the state this ticketbot issued, with its cookie, once
    (CSRF); a forged or replayed one gets an error page and nothing is stored."""
    emulator.oauth.sign_in(ACME, LEAD)  # type: ignore[union-attr]
    async with httpx.AsyncClient(timeout=10) as browser:
        forged = await browser.get(f"{app.url}/slack/oauth_redirect?code=123.abc&state=forged")
        page = await browser.get(f"{app.url}/slack/install")
        state_cookie = page.headers["set-cookie"].split(";", 1)[0]
        [link] = [u for u in re.findall(r'href="([^"]+)"', page.text) if "/oauth/" in u]
        consent = await browser.get(html.unescape(link))
        back = consent.headers["location"]
        no_cookie = await browser.get(back)
        used = await browser.get(back, headers={"cookie": state_cookie})
        replayed = await browser.get(back, headers={"cookie": state_cookie})
    assert forged.status_code == 400 and no_cookie.status_code == 400
    assert used.status_code == 200  # the real one, once
    assert 400 <= replayed.status_code < 500  # Bolt answers a used-up state with 401
    assert set(await workspace_ids(app)) == {ACME}
    assert len(emulator.bot_tokens(ACME)) == 1


async def test_timers_reports_and_home_tabs_stay_in_their_own_workspace(app, emulator, clock):
    """Same channel, customer and lead ids in both workspaces; Acme has two tickets, Globex
    one. SLA alerts fire into each workspace's own card thread with its own token; `/ticket
    stats` and the Home tab count and list each workspace's own tickets only."""
    ids = await install_both(app, emulator)
    acme, globex = emulator, emulator.workspace(GLOBEX)
    to_acme, to_globex = sender_for(app, ACME, "UBOT"), sender_for(app, GLOBEX, "UBOT2")
    async with to_acme, to_globex:
        await both_ask(to_acme, to_globex)
        await to_acme.send_event(message_event("CSUPPORT", "UOTHER", "Acme again", ts=next_ts()))
        await wait_until(lambda: len(cards(acme)) == 2, message="Acme's cards")
        await wait_until(lambda: len(cards(globex)) == 1, message="Globex card")
        # Slack's rate limits are per workspace: each paces its own posts into its CTRIAGE.
        async with app.runtime.session_factory() as session:
            paced = set(await session.scalars(select(PacedKey.key)))
        assert {
            f"ws{ids[ACME]}:slack:chat.postMessage:CTRIAGE",
            f"ws{ids[GLOBEX]}:slack:chat.postMessage:CTRIAGE",
        } <= paced

        # Five hours on, every first response target (4 h) is breached: each workspace's
        # alerts go to its own cards, with its own token.
        clock.advance(timedelta(hours=5))
        await sweep(app)

        def breaches(view: SlackEmulator) -> list[dict[str, object]]:
            return [
                reply
                for reply in view.messages("CTRIAGE")
                if "breached its first response target" in str(reply.get("text"))
            ]

        await wait_until(lambda: len(breaches(acme)) == 2, message="Acme's 2 breaches")
        await wait_until(lambda: len(breaches(globex)) == 1, message="Globex's breach")
        for call in emulator.delivered("chat.postMessage"):
            if "breached" in str(call.args.get("text")):
                card_team = ACME if call.token in emulator.bot_tokens(ACME) else GLOBEX
                assert call.token in emulator.bot_tokens(card_team)
        async with app.runtime.session_factory() as session:
            breached = {
                (t.workspace_id, t.subject)
                for t in await session.scalars(select(Ticket).where(Ticket.sla_state == "breached"))
            }
        assert breached == {
            (ids[ACME], "Acme asks"),
            (ids[ACME], "Acme again"),
            (ids[GLOBEX], "Globex asks"),
        }

        # Reports count their own workspace.
        assert "*Tickets*: 2 opened" in await command(to_acme, "stats")
        assert "*Tickets*: 1 opened" in await command(to_globex, "stats")

        # The same lead id opens the Home tab in each: each lists its own tickets.
        for sender, view, mine, theirs in (
            (to_acme, acme, "Acme asks", "Globex asks"),
            (to_globex, globex, "Globex asks", "Acme asks"),
        ):
            before = len(view.delivered("views.publish"))
            await sender.send_event(app_home_opened_event(LEAD))
            published = await wait_until(
                lambda view=view, before=before: [
                    call
                    for call in view.delivered("views.publish")[before:]
                    if call.token in emulator.bot_tokens(ACME if view is acme else GLOBEX)
                ],
                message="Home tab published",
            )
            home = json.dumps(published[-1].args["view"])
            assert mine in home and theirs not in home
