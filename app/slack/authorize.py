"""Single-workspace authorization that never makes intake depend on Slack being reachable.

Bolt's built-in single-team authorizer calls `auth.test` on the first request and fails the
request if Slack cannot be reached. We learn the bot's identity at start-up (and retry lazily),
but an event that arrives while Slack is unreachable is still authorised with the configured
token, stored and acknowledged. Its signature has been verified by then.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.authorization import AuthorizeResult
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from app.slack.installation import Installation

logger = logging.getLogger(__name__)

# While Slack is unreachable, ask at most this often, and never wait long inside a request.
REFRESH_GAP_SECONDS = 30.0
REFRESH_TIMEOUT_SECONDS = 2.0


class BotIdentity:
    def __init__(self, client: AsyncWebClient, token: str) -> None:
        self._client = client
        self._token = token
        self.team_id: str | None = None
        self.team_name: str | None = None
        self.bot_user_id: str | None = None
        self.bot_id: str | None = None
        self.domain: str | None = None
        self.enterprise_id: str | None = None
        self.is_enterprise_install = False
        self._last_attempt = float("-inf")

    @property
    def known(self) -> bool:
        return self.bot_user_id is not None

    async def refresh(self) -> None:
        """Ask Slack who we are. Raises SlackApiError on a bad token, or connection errors."""
        response = await self._client.auth_test()
        self.team_id = response.get("team_id")
        self.team_name = response.get("team")
        self.bot_user_id = response.get("user_id")
        self.bot_id = response.get("bot_id")
        self.domain = domain_from_url(response.get("url"))
        self.enterprise_id = response.get("enterprise_id") or None
        self.is_enterprise_install = bool(response.get("is_enterprise_install"))

    @property
    def installation_key(self) -> str | None:
        """The key of our installation's workspace row (see `Installation.key`)."""
        installation = self.installation
        return installation.key if installation is not None else None

    @property
    def installation(self) -> Installation | None:
        """The installation our bot token belongs to, once Slack has told us."""
        if self.team_id is None and self.enterprise_id is None:
            return None
        return Installation(
            team_id=self.team_id,
            enterprise_id=self.enterprise_id,
            is_enterprise_install=self.is_enterprise_install and self.enterprise_id is not None,
        )

    def authorizer(self) -> Callable[..., Awaitable[AuthorizeResult]]:
        """A plain function for Bolt, which passes arguments by the names in its signature."""

        async def authorize(
            enterprise_id: str | None, team_id: str | None, user_id: str | None
        ) -> AuthorizeResult:
            return await self.authorize(
                enterprise_id=enterprise_id, team_id=team_id, user_id=user_id
            )

        return authorize

    async def authorize(self, **kwargs: Any) -> AuthorizeResult:
        if not self.known and time.monotonic() - self._last_attempt > REFRESH_GAP_SECONDS:
            self._last_attempt = time.monotonic()
            try:
                await asyncio.wait_for(self.refresh(), timeout=REFRESH_TIMEOUT_SECONDS)
            except SlackApiError as exc:
                logger.error("auth.test failed: %s", exc.response.get("error"))
            except Exception as exc:
                logger.warning("Slack unreachable for auth.test (%s); authorising anyway", exc)
        return AuthorizeResult(
            enterprise_id=kwargs.get("enterprise_id"),
            team_id=self.team_id or kwargs.get("team_id"),
            bot_token=self._token,
            bot_user_id=self.bot_user_id,
            bot_id=self.bot_id,
            user_id=kwargs.get("user_id"),
        )


def domain_from_url(url: object) -> str | None:
    """`https://acme.slack.com/` -> `acme` (used to build message permalinks)."""
    if not isinstance(url, str) or "://" not in url:
        return None
    host = url.split("://", 1)[1].split("/", 1)[0]
    return host.split(".", 1)[0] or None
