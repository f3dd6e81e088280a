"""Slack Web API clients, pointed at SLACK_API_URL (Slack, GovSlack or a local emulator)."""

from __future__ import annotations

import aiohttp
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from app.config import Settings


def build_interactive_client(settings: Settings, session: aiohttp.ClientSession) -> AsyncWebClient:
    """The client Bolt uses inside requests (e.g. `views.open`, which must beat a 3 s trigger).

    Passing `retry_handlers` replaces slack-sdk's default, so the connection-error handler is
    listed again beside the 429 (sleeps `Retry-After`) and 5xx handlers.
    """
    handlers: list[AsyncRetryHandler] = [
        AsyncConnectionErrorRetryHandler(max_retry_count=1),
        AsyncRateLimitErrorRetryHandler(max_retry_count=1),
        AsyncServerErrorRetryHandler(max_retry_count=1),
    ]
    return _client(settings, session, handlers)


def build_outbox_client(
    settings: Settings, session: aiohttp.ClientSession, token: str | None = None
) -> AsyncWebClient:
    """The client the outbox dispatcher delivers with.

    It retries in place only a connection that could not be opened, when the request surely
    never reached Slack. slack-sdk's default also retries timeouts and dropped connections, where
    Slack may already have posted the message; those, 429s and 5xx come back to the dispatcher,
    which reschedules the row durably (honouring `Retry-After`) instead of sleeping in memory,
    where a restart would forget the wait and a long one would hold a delivery slot.
    """
    never_sent = AsyncConnectionErrorRetryHandler(
        max_retry_count=1, error_types=[aiohttp.ClientConnectorError]
    )
    return _client(settings, session, [never_sent], token)


def _client(
    settings: Settings,
    session: aiohttp.ClientSession,
    handlers: list[AsyncRetryHandler],
    token: str | None = None,
) -> AsyncWebClient:
    """With one workspace, SLACK_BOT_TOKEN's client; with several (OAuth), a client of
    `token`, or none (Bolt sets each request's token on a copy)."""
    if token is None and settings.slack_bot_token is not None:
        token = settings.slack_bot_token.get_secret_value()
    return AsyncWebClient(
        token=token,
        base_url=settings.slack_api_url,
        timeout=int(max(1, settings.slack_http_timeout_seconds)),
        session=session,
        retry_handlers=handlers,
    )
