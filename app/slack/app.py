"""Builds the Bolt app: signature verification on, answers only after our commit."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_bolt.response import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.exc import IntegrityError

from app.db import is_database_unavailable
from app.slack.context import SlackContext
from app.slack.installations import (
    DatabaseInstallationStore,
    DatabaseStateStore,
    InstallationAuthorize,
    OnInstalled,
)
from app.slack.interaction import SLACK_CONTEXT
from app.slack.listeners import (
    actions,
    commands,
    csat,
    events,
    interactivity,
    list_pages,
    new_ticket,
    nps,
    testimonials,
)

# Bolt copies this logger's level to each of its own. Its INFO lines include request bodies
# (customer messages) and its start-up WARNINGs complain about SLACK_BOT_TOKEN being set while
# we hand it a client: both are kept out of the log unless LOG_LEVEL is DEBUG.
BOLT_LOGGER = "app.slack.bolt"

# Where an admin starts an install, and where Slack sends them back (Bolt serves both).
INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"

logger = logging.getLogger(__name__)


def build_bolt_app(
    ctx: SlackContext, client: AsyncWebClient, *, on_installed: OnInstalled | None = None
) -> AsyncApp:
    """With one workspace, every request is authorised with SLACK_BOT_TOKEN; with several
    (OAuth), with the token of the installation it names, and Bolt's OAuth flow serves
    `/slack/install` and `/slack/oauth_redirect` (app/slack/installations.py)."""
    installations = ctx.installations
    oauth_settings = None
    authorize: Any = ctx.identity.authorizer()
    if installations is not None:
        settings = ctx.settings
        assert settings.slack_client_id is not None and settings.slack_client_secret is not None
        authorize = InstallationAuthorize(installations)
        oauth_settings = AsyncOAuthSettings(
            client_id=settings.slack_client_id,
            client_secret=settings.slack_client_secret.get_secret_value(),
            scopes=settings.slack_scopes,
            redirect_uri=settings.slack_redirect_uri,
            install_path=INSTALL_PATH,
            redirect_uri_path=REDIRECT_PATH,
            authorization_url=settings.slack_authorize_url,
            state_store=DatabaseStateStore(ctx.session_factory, ctx.clock),
            installation_store=DatabaseInstallationStore(
                session_factory=ctx.session_factory,
                installations=installations,
                clock=ctx.clock,
                on_installed=on_installed or _nothing_to_set_up,
                default_triage_channel_id=settings.triage_channel_id,
            ),
            installation_store_bot_only=True,
            token_rotation_expiration_minutes=settings.slack_token_refresh_minutes,
        )
    app = AsyncApp(
        client=client,
        signing_secret=ctx.settings.slack_signing_secret.get_secret_value(),
        authorize=authorize,
        oauth_settings=oauth_settings,
        process_before_response=True,
        request_verification_enabled=True,
        raise_error_for_unhandled_request=False,
        logger=logging.getLogger(BOLT_LOGGER),
    )
    register_listeners(app, ctx)
    app.error(answer_failure)
    return app


async def _nothing_to_set_up(*_: object) -> None:
    return None


async def answer_failure(error: Exception, body: dict[str, Any]) -> BoltResponse:
    """What Slack is answered when a listener or middleware raised.

    A database that cannot be reached (a failover, a cut connection, SQLite busy), or a write
    that lost a race to a unique constraint, is answered 503 with one log line: nothing was
    stored, and Slack retries an event it got no 200 for.
    Anything else is a bug: logged with its traceback, answered 500 (Slack retries that too).
    """
    request_type = slack_request_type(body)
    if is_database_unavailable(error):
        logger.warning(
            "Slack %s answered 503: the database is unavailable (%s); Slack will retry",
            request_type,
            type(error).__name__,
        )
        return BoltResponse(status=503, body="")
    if isinstance(error, IntegrityError):
        # Two writers raced for one message (its event and catch-up, or two replicas): the
        # loser is turned away by a unique constraint. Slack's retry finds the message stored.
        reason = str(error.orig).splitlines()[0] if error.orig else type(error).__name__
        logger.warning(
            "Slack %s answered 503: a concurrent write won (%s); Slack will retry",
            request_type,
            reason[:200],
        )
        return BoltResponse(status=503, body="")
    logger.error("Slack %s failed", request_type, exc_info=error)
    return BoltResponse(status=500, body="")


def register_listeners(app: AsyncApp, ctx: SlackContext) -> None:
    @app.middleware
    async def provide_context(
        body: dict[str, Any],
        context: AsyncBoltContext,
        next: Callable[[], Awaitable[BoltResponse]],
    ) -> BoltResponse:
        """Every listener finds the running app's SlackContext in Bolt's context."""
        context[SLACK_CONTEXT] = ctx
        ctx.metrics.slack_requests.labels(type=slack_request_type(body)).inc()
        return await next()

    events.register(app)
    commands.register(app)
    actions.register(app)
    csat.register(app)
    nps.register(app)
    testimonials.register(app)
    list_pages.register(app)
    new_ticket.register(app)
    interactivity.register(app)  # catch-alls: registered last


def slack_request_type(body: dict[str, Any]) -> str:
    """A low-cardinality label: `event:message`, `command:/ticket`, `block_actions`, ..."""
    if body.get("type") == "event_callback":
        event = body.get("event") or {}
        return f"event:{str(event.get('type', 'unknown'))[:40]}"
    if "command" in body:
        return f"command:{str(body['command'])[:40]}"
    return str(body.get("type", "unknown"))[:40]
