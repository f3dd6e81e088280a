"""Several workspaces, each installed through Slack's OAuth flow (SLACK_CLIENT_ID set).

- Installing: Bolt's own OAuth flow serves `/slack/install` and `/slack/oauth_redirect`
  (its state cookie, `oauth.v2.access`, `auth.test` for the bot id); `DatabaseStateStore`
  keeps each install's one-time `state` in the database (so any replica can finish an install
  another began), and `DatabaseInstallationStore` saves what Slack answered, tokens encrypted.
- Using: `InstallationAuthorize` gives Bolt each request's bot token from the installation the
  request names; `BotTokens` gives the outbox a client for a workspace. Both refresh a token
  Slack set to expire (token rotation) before it does, once across replicas (a short claim on
  the installation's row; the call to Slack holds no transaction), a Slack request never
  waiting for it while its token is still valid.

Sources: Bolt for Python's OAuth guide (docs.slack.dev/tools/bolt-python/concepts/
authenticating-oauth) and its `AsyncOAuthFlow.run_installation`; `oauth.v2.access` and token
rotation (docs.slack.dev/reference/methods/oauth.v2.access, docs.slack.dev/authentication/
using-token-rotation: tokens live 12 hours, refreshed with `grant_type=refresh_token`, each
refresh token used once).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from logging import Logger
from typing import Any

import aiohttp
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.authorization.async_authorize import AsyncAuthorize
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.errors import SlackApiError
from slack_sdk.oauth.installation_store import Bot
from slack_sdk.oauth.installation_store import Installation as SdkInstallation
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.state_store.async_state_store import AsyncOAuthStateStore
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.clock import Clock
from app.slack.authorize import domain_from_url
from app.token_cipher import TokenCipher
from app.workspaces.installations import (
    InstalledBot,
    NewInstallation,
    claim_refresh,
    consume_state,
    delete_installation,
    find_installed_bot,
    issue_state,
    save_installation,
    store_refreshed_token,
)
from app.workspaces.service import find_workspace_id

logger = logging.getLogger(__name__)

# How long an install may take between /slack/install and Slack's redirect back.
STATE_LIFETIME = timedelta(minutes=10)
# How long a replica trusts the installation it read; a re-install or a refresh elsewhere is
# seen after at most this (a refreshed token's predecessor stays valid until it expires).
CACHE_SECONDS = 60.0
# How long a replica's claim to refresh a token holds off the others: longer than its call to
# Slack; if the replica dies, another refreshes once it lapses.
REFRESH_LEASE = timedelta(minutes=2)

# What a new install sets up in its workspace (its leads, CSAT delay, digest), given the
# transaction that stored it: one place for it, shared with single-workspace start-up.
OnInstalled = Callable[[AsyncSession, int, "str | None"], Awaitable[None]]


class NotInstalled(Exception):
    """The workspace has no installation (never installed, uninstalled, or its token revoked)."""


class Installations:
    """Reads installations (cached briefly per replica) and refreshes expiring tokens."""

    def __init__(
        self,
        *,
        session_factory: async_sessionmaker[AsyncSession],
        cipher: TokenCipher,
        clock: Clock,
        client: AsyncWebClient,
        client_id: str,
        client_secret: str,
        refresh_before: timedelta,
    ) -> None:
        self._session_factory = session_factory
        self._cipher = cipher
        self._clock = clock
        self._client = client  # no token: oauth.v2.access authenticates with the client's id
        self._client_id = client_id
        self._client_secret = client_secret
        self._refresh_before = refresh_before
        self._by_workspace: dict[int, tuple[float, InstalledBot]] = {}
        self._by_key: dict[str, int] = {}
        self._refreshing: dict[int, asyncio.Task[InstalledBot]] = {}

    @property
    def cipher(self) -> TokenCipher:
        return self._cipher

    def forget(self, workspace_id: int) -> None:
        self._by_workspace.pop(workspace_id, None)

    async def bot(
        self,
        *,
        workspace_id: int | None = None,
        installation_key: str | None = None,
        wait_for_refresh: bool = True,
    ) -> InstalledBot | None:
        """The installation, its token fresh: refreshed first if it expires soon. Without
        `wait_for_refresh` (a Slack request waiting for its ack), a token still valid is
        returned at once and refreshed in the background; only an expired one is waited for."""
        if workspace_id is None and installation_key is not None:
            workspace_id = self._by_key.get(installation_key)
        cached = self._by_workspace.get(workspace_id) if workspace_id is not None else None
        bot: InstalledBot | None
        if cached is not None and time.monotonic() - cached[0] < CACHE_SECONDS:
            bot = cached[1]
        else:
            async with self._session_factory() as session:
                bot = await find_installed_bot(
                    session=session,
                    cipher=self._cipher,
                    workspace_id=workspace_id,
                    installation_key=None if workspace_id is not None else installation_key,
                )
            if bot is None:
                if workspace_id is not None:
                    self.forget(workspace_id)
                return None
            self._remember(bot)
        if not self._expires_soon(bot):
            return bot
        if wait_for_refresh or self._expired(bot):
            return await self._refresh(bot)
        self._refresh_later(bot)
        return bot

    def _refresh_later(self, bot: InstalledBot) -> None:
        """One background refresh per workspace at a time (its errors are logged)."""
        if bot.workspace_id in self._refreshing:
            return
        task = asyncio.create_task(self._refresh(bot), name=f"refresh-{bot.workspace_id}")
        self._refreshing[bot.workspace_id] = task

        def done(finished: asyncio.Task[InstalledBot]) -> None:
            self._refreshing.pop(bot.workspace_id, None)
            if not finished.cancelled() and finished.exception() is not None:
                logger.warning(
                    "refreshing the bot token of workspace %s failed: %r",
                    bot.workspace_id,
                    finished.exception(),
                )

        task.add_done_callback(done)

    def _expired(self, bot: InstalledBot) -> bool:
        expires = bot.bot_token_expires_at
        return expires is not None and expires <= self._clock.now()

    def _remember(self, bot: InstalledBot) -> None:
        self._by_workspace[bot.workspace_id] = (time.monotonic(), bot)
        self._by_key[bot.installation_key] = bot.workspace_id

    def _expires_soon(self, bot: InstalledBot) -> bool:
        expires = bot.bot_token_expires_at
        return (
            expires is not None
            and bot.bot_refresh_token is not None
            and expires - self._clock.now() <= self._refresh_before
        )

    async def _refresh(self, bot: InstalledBot) -> InstalledBot:
        """Refresh the token once across replicas: the one whose short transaction claims the
        installation's refresh (a lease on its row, REFRESH_LEASE) calls Slack, with no
        transaction open, and stores the new token; the others go on with the current one,
        still valid (a refresh token works once, so two refreshes would break one)."""
        now = self._clock.now()
        async with self._session_factory() as session, session.begin():
            claimed = await claim_refresh(
                session=session,
                workspace_id=bot.workspace_id,
                due_by=now + self._refresh_before,
                now=now,
                until=now + REFRESH_LEASE,
            )
            current = await find_installed_bot(
                session=session, cipher=self._cipher, workspace_id=bot.workspace_id
            )
        if current is None:
            self.forget(bot.workspace_id)
            raise NotInstalled(f"workspace {bot.workspace_id} is no longer installed")
        if not claimed or current.bot_refresh_token is None:
            self._remember(current)  # refreshed, or being refreshed, elsewhere
            return current
        try:
            answer = await self._client.oauth_v2_access(
                client_id=self._client_id,
                client_secret=self._client_secret,
                grant_type="refresh_token",
                refresh_token=current.bot_refresh_token,
            )
        except (SlackApiError, aiohttp.ClientError, TimeoutError, OSError) as exc:
            reason = exc.response.get("error") if isinstance(exc, SlackApiError) else repr(exc)
            logger.warning(
                "could not refresh the bot token of workspace %s (%s); using the current one"
                " and trying again when the claim lapses",
                current.workspace_id,
                reason,
            )
            return current
        now = self._clock.now()
        async with self._session_factory() as session, session.begin():
            await store_refreshed_token(
                session=session,
                cipher=self._cipher,
                workspace_id=current.workspace_id,
                bot_token=str(answer["access_token"]),
                bot_refresh_token=str(answer["refresh_token"]),
                expires_at=now + timedelta(seconds=int(answer.get("expires_in") or 0)),
                now=now,
            )
            refreshed = await find_installed_bot(
                session=session, cipher=self._cipher, workspace_id=current.workspace_id
            )
        if refreshed is None:  # uninstalled while Slack answered
            self.forget(current.workspace_id)
            raise NotInstalled(f"workspace {current.workspace_id} is no longer installed")
        logger.info("refreshed the bot token of workspace %s", refreshed.workspace_id)
        self._remember(refreshed)
        return refreshed


class InstallationAuthorize(AsyncAuthorize):
    """Bolt's authorize step: the bot token of the installation a request names, or None
    (Bolt then tells the user the app is not installed there)."""

    def __init__(self, installations: Installations) -> None:
        super().__init__()
        self._installations = installations

    async def __call__(
        self,
        *,
        context: AsyncBoltContext,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None,
        actor_enterprise_id: str | None = None,
        actor_team_id: str | None = None,
        actor_user_id: str | None = None,
    ) -> AuthorizeResult | None:
        key = enterprise_id if context.is_enterprise_install else team_id
        if key is None:
            return None
        try:
            # Slack waits for this request's ack: never for a refresh the token can outlive.
            bot = await self._installations.bot(installation_key=key, wait_for_refresh=False)
        except NotInstalled:
            return None
        if bot is None:
            return None
        return AuthorizeResult(
            enterprise_id=enterprise_id,
            team_id=team_id,
            bot_token=bot.bot_token,
            bot_user_id=bot.bot_user_id,
            bot_id=bot.bot_id,
            bot_scopes=bot.bot_scopes,
            user_id=user_id,
        )


class BotTokens:
    """A Web API client per installed workspace, for the outbox (one shared HTTP session)."""

    def __init__(self, installations: Installations, make_client: Callable[[str], AsyncWebClient]):
        self._installations = installations
        self._make_client = make_client
        self._clients: dict[str, AsyncWebClient] = {}

    async def client_for(self, workspace_id: int | None) -> AsyncWebClient:
        """Raises NotInstalled when the workspace has no installation (any more)."""
        if workspace_id is None:
            raise NotInstalled("the row names no workspace")
        bot = await self._installations.bot(workspace_id=workspace_id)
        if bot is None:
            raise NotInstalled(f"workspace {workspace_id} is not installed")
        client = self._clients.get(bot.bot_token)
        if client is None:
            if len(self._clients) > 1000:  # tokens refreshed or gone: start afresh
                self._clients.clear()
            client = self._clients[bot.bot_token] = self._make_client(bot.bot_token)
        return client


class DatabaseStateStore(AsyncOAuthStateStore):
    """One-time OAuth states in the database, good for STATE_LIFETIME."""

    def __init__(self, session_factory: async_sessionmaker[AsyncSession], clock: Clock) -> None:
        self._session_factory = session_factory
        self._clock = clock

    @property
    def logger(self) -> Logger:
        return logger

    async def async_issue(self, *args: Any, **kwargs: Any) -> str:
        state = secrets.token_urlsafe(32)
        async with self._session_factory() as session, session.begin():
            await issue_state(
                session=session, state=state, expires_at=self._clock.now() + STATE_LIFETIME
            )
        return state

    async def async_consume(self, state: str) -> bool:
        async with self._session_factory() as session, session.begin():
            return await consume_state(session=session, state=state[:64], now=self._clock.now())


class DatabaseInstallationStore(AsyncInstallationStore):
    """Where Bolt's OAuth flow saves an install. Bot tokens only: ticketbot asks for no user
    scopes, so an installer's own token is never stored."""

    def __init__(
        self,
        *,
        session_factory: async_sessionmaker[AsyncSession],
        installations: Installations,
        clock: Clock,
        on_installed: OnInstalled,
        default_triage_channel_id: str | None,
    ) -> None:
        self._session_factory = session_factory
        self._installations = installations
        self._clock = clock
        self._on_installed = on_installed
        self._default_triage_channel_id = default_triage_channel_id

    @property
    def logger(self) -> Logger:
        return logger

    async def async_save(self, installation: SdkInstallation) -> None:
        if not installation.bot_token or not installation.bot_user_id:
            raise ValueError("an install without a bot token: the app asks for bot scopes")
        now = self._clock.now()
        # slack_sdk turned Slack's `expires_in` into a time on the wall clock; kept as the
        # same lifetime from now on ours (the one every refresh is decided by).
        expires_at = (
            now + timedelta(seconds=installation.bot_token_expires_at - time.time())
            if installation.bot_token_expires_at
            else None
        )
        new = NewInstallation(
            team_id=installation.team_id,
            team_name=installation.team_name,
            enterprise_id=installation.enterprise_id,
            enterprise_name=installation.enterprise_name,
            is_enterprise_install=bool(installation.is_enterprise_install),
            app_id=installation.app_id,
            bot_id=installation.bot_id,
            bot_user_id=installation.bot_user_id,
            bot_scopes=",".join(installation.bot_scopes or []),
            bot_token=installation.bot_token,
            bot_refresh_token=installation.bot_refresh_token,
            bot_token_expires_at=expires_at,
            installer_user_id=installation.user_id,
            domain=domain_from_url(installation.enterprise_url),
        )
        async with self._session_factory() as session, session.begin():
            workspace_id = await save_installation(
                session=session,
                cipher=self._installations.cipher,
                installation=new,
                now=now,
                default_triage_channel_id=self._default_triage_channel_id,
            )
            await self._on_installed(session, workspace_id, installation.user_id)
        self._installations.forget(workspace_id)
        logger.info(
            "installed into %s (%s) by %s", new.key, new.team_name or "", new.installer_user_id
        )

    async def async_save_bot(self, bot: Bot) -> None:
        raise NotImplementedError("installs are saved whole (async_save)")

    async def async_find_bot(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        is_enterprise_install: bool | None = False,
    ) -> Bot | None:
        key = enterprise_id if is_enterprise_install else team_id
        found = await self._installations.bot(installation_key=key) if key else None
        if found is None:
            return None
        return Bot(
            app_id=found.app_id,
            enterprise_id=found.enterprise_id,
            enterprise_name=found.enterprise_name,
            team_id=found.team_id,
            team_name=found.team_name,
            bot_token=found.bot_token,
            bot_id=found.bot_id or "",
            bot_user_id=found.bot_user_id,
            bot_scopes=found.bot_scopes,
            bot_refresh_token=found.bot_refresh_token,
            bot_token_expires_at=(
                int(found.bot_token_expires_at.timestamp()) if found.bot_token_expires_at else None
            ),
            is_enterprise_install=found.is_enterprise_install,
            installed_at=found.installed_at.timestamp(),
        )

    async def async_find_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> SdkInstallation | None:
        return None  # no user tokens are kept; Bolt is given InstallationAuthorize instead

    async def async_delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        await self.async_delete_all(enterprise_id=enterprise_id, team_id=team_id)

    async def async_delete_installation(
        self, *, enterprise_id: str | None, team_id: str | None, user_id: str | None = None
    ) -> None:
        if user_id is None:
            await self.async_delete_all(enterprise_id=enterprise_id, team_id=team_id)

    async def async_delete_all(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        for key in {k for k in (team_id, enterprise_id) if k}:
            async with self._session_factory() as session, session.begin():
                workspace_id = await find_workspace_id(session=session, slack_team_id=key)
                if workspace_id is not None:
                    await delete_installation(session=session, workspace_id=workspace_id)
            if workspace_id is not None:
                self._installations.forget(workspace_id)
