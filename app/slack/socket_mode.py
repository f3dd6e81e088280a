"""Socket Mode: Slack's events, commands and clicks over a WebSocket that ticketbot opens.

No public address is needed: ticketbot calls `apps.connections.open` with the app-level token
and Slack sends every request over the link it returns. The requests go to the same Bolt app
as the HTTP endpoint (`process_before_response=True`), and Bolt acknowledges an envelope only
after its listener returned: once its effects are committed. A listener that failed (the
database unreachable, a lost race) sends no acknowledgement, so Slack sends the event again
(slack_bolt's adapter/socket_mode/async_internals.send_async_response acknowledges only a 200).
Several replicas may each hold a connection (Slack allows 10 per app); each request goes to one
of them, and retries are recognised by the event's id as over HTTP.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

logger = logging.getLogger(__name__)

# What apps.connections.open answers for a token that will never work
# (https://docs.slack.dev/reference/methods/apps.connections.open#errors).
FATAL_LINK_ERRORS = frozenset(
    {"invalid_auth", "not_authed", "not_allowed_token_type", "token_revoked", "account_inactive"}
)


class SocketModeRefused(RuntimeError):
    """Slack refused the app-level token; the message says why in one line."""


async def check_app_token(client: AsyncWebClient, app_token: str) -> None:
    """Ask Slack for a link once: raise SocketModeRefused if it refuses the token. A Slack that
    cannot be reached is not fatal: the connection keeps trying in the background."""
    try:
        await client.apps_connections_open(app_token=app_token)
    except SlackApiError as exc:
        error = str(exc.response.get("error"))
        if error in FATAL_LINK_ERRORS:
            raise SocketModeRefused(
                f"SLACK_APP_TOKEN was refused by Slack ({error}); it must be an app-level"
                " token (xapp-...) with the connections:write scope"
            ) from None
        logger.warning("apps.connections.open failed (%s); trying again", error)
    except Exception as exc:
        logger.warning(
            "Socket Mode: Slack unreachable (%s); connecting in the background",
            type(exc).__name__,
        )


class SocketModeLink:
    def __init__(self, bolt_app: AsyncApp, app_token: str, client: AsyncWebClient) -> None:
        self._app_token = app_token
        self._client = client
        self._handler = AsyncSocketModeHandler(bolt_app, app_token, web_client=client)
        self._connecting: asyncio.Task[None] | None = None

    async def check_token(self) -> None:
        """Fail at start-up on an app-level token Slack refuses (see `check_app_token`)."""
        await check_app_token(self._client, self._app_token)

    def start(self) -> None:
        """Connect in the background (slack_sdk retries until it is connected, then keeps the
        link up: reconnecting when Slack asks it to, or when pings go unanswered)."""
        if self._connecting is None:
            self._connecting = asyncio.create_task(self._handler.connect_async())

    async def is_connected(self) -> bool:
        return bool(await self._handler.client.is_connected())

    async def close(self) -> None:
        if self._connecting is not None and not self._connecting.done():
            self._connecting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._connecting
        await self._handler.close_async()
