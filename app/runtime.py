"""The running app's parts, built in the lifespan and torn down with it.

Nothing here is authoritative state: any replica can die at any time and another carries on
from the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from datetime import timedelta

import aiohttp
import httpx
from slack_bolt.adapter.fastapi.async_handler import AsyncSlackRequestHandler
from slack_sdk.errors import SlackApiError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from app.accounts.daily import ensure_daily_health, register_health_handler
from app.accounts.nps import register_nps_delivery_handlers, register_nps_timers
from app.accounts.scoring import HealthPolicy
from app.accounts.testimonials import register_testimonial_delivery_handlers
from app.clock import Clock
from app.config import Settings
from app.connectors.sender import RETRY_POLICY as CONNECTOR_RETRY_POLICY
from app.connectors.sender import ConnectorSender
from app.connectors.sender import build_http_client as build_connector_client
from app.csat.notifications import register_csat_delivery_handlers
from app.csat.preferences import record_default_delay
from app.csat.surveys import CsatTimers
from app.db import create_engine, create_session_factory, is_sqlite_url
from app.flows.catch_up import CatchUp
from app.flows.connectors import register_connector_delivery_handlers
from app.flows.delivery import register_delivery_handlers
from app.flows.installs import welcome_installer
from app.flows.lifecycle import register_auto_close_handler
from app.flows.sla_alerts import register_sla_handlers
from app.flows.syncs import accounts_scored
from app.metrics import Metrics
from app.outbox.dispatcher import DispatcherSettings, OutboxDispatcher
from app.outbox.enums import OutboxKind
from app.outbox.handlers import DeliveryHandlers
from app.outbox.pacing import Pacer
from app.outbox.service import OUTBOX_WRITTEN
from app.reports.rollups import ensure_rollups, register_rollup_handler
from app.reports.weekly import ensure_weekly_report, register_weekly_handler
from app.sla.digest import ensure_daily_digest, register_digest_handler
from app.slack.app import build_bolt_app
from app.slack.authorize import BotIdentity
from app.slack.client import build_interactive_client, build_outbox_client
from app.slack.context import SlackContext, intake_rules
from app.slack.delivery import SlackApiSender
from app.slack.installations import BotTokens, Installations
from app.slack.rendering import Renderer
from app.slack.socket_mode import SocketModeLink, SocketModeRefused
from app.team.service import bootstrap_leads
from app.timers.handlers import TimerHandlers
from app.timers.sweeper import TimerSweeper, TimerSweeperSettings
from app.webhooks.delivery import (
    WebhookSender,
    build_http_client,
    register_webhook_delivery_handlers,
    webhook_retry_policy,
)
from app.workspaces.cache import WorkspaceIds
from app.workspaces.service import ensure_workspace

logger = logging.getLogger(__name__)

# Start-up's auth.test, when Slack cannot be reached, is tried again after these seconds (doubling
# up to the last), in the background: the workspace's row, leads and digest follow it.
IDENTITY_RETRY_FIRST_SECONDS = 0.5
IDENTITY_RETRY_MAX_SECONDS = 60.0

# Slack's answers to auth.test that mean the token itself is wrong: no point starting.
FATAL_AUTH_ERRORS = frozenset(
    {"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired"}
)


class StartupError(RuntimeError):
    """The app cannot start; the message says why in one line."""


@dataclass
class Runtime:
    settings: Settings
    clock: Clock
    metrics: Metrics
    engine: AsyncEngine
    session_factory: async_sessionmaker[AsyncSession]
    http_session: aiohttp.ClientSession
    identity: BotIdentity
    slack_handler: AsyncSlackRequestHandler
    dispatcher: OutboxDispatcher
    timer_sweeper: TimerSweeper
    delivery_handlers: DeliveryHandlers = field(default_factory=DeliveryHandlers)
    timer_handlers: TimerHandlers = field(default_factory=TimerHandlers)
    # Outbound webhook POSTs (httpx); Slack calls use `http_session` (aiohttp, for slack-sdk).
    webhook_client: httpx.AsyncClient | None = None
    connector_client: httpx.AsyncClient | None = None
    # Reads back what Slack holds and no event brought (on start, then from the scheduler).
    catch_up: CatchUp | None = None
    # Retries start-up's auth.test in the background while Slack or the database is unreachable.
    identity_retry: asyncio.Task[None] | None = None
    # Slack's requests over Socket Mode, when SLACK_APP_TOKEN is set.
    socket_mode: SocketModeLink | None = None

    async def close(self) -> None:
        if self.socket_mode is not None:  # no new requests while the rest stops
            await self.socket_mode.close()
        if self.identity_retry is not None:
            self.identity_retry.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.identity_retry
        await self.dispatcher.stop()
        await self.http_session.close()
        if self.webhook_client is not None:
            await self.webhook_client.aclose()
        if self.connector_client is not None:
            await self.connector_client.aclose()
        await self.engine.dispose()


async def start_runtime(settings: Settings, clock: Clock, metrics: Metrics) -> Runtime:
    engine = create_engine(settings.database_url, pool_size=settings.database_pool_size)
    dispatcher_ref: list[OutboxDispatcher] = []

    def wake_dispatcher_after_commit(session: Session) -> None:
        if session.info.pop(OUTBOX_WRITTEN, False) and dispatcher_ref:
            dispatcher_ref[0].wake()

    session_factory = create_session_factory(engine, after_commit=wake_dispatcher_after_commit)
    # slack-sdk takes its timeout from a session it is given, not from its own `timeout`.
    http_session = aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=settings.slack_http_timeout_seconds)
    )
    interactive_client = build_interactive_client(settings, http_session)
    bot_token = settings.slack_bot_token
    identity = BotIdentity(interactive_client, bot_token.get_secret_value() if bot_token else "")
    installations = _installations(settings, session_factory, clock, http_session)
    handlers = DeliveryHandlers()
    catch_up = CatchUp(
        rules=intake_rules(settings),
        metrics=metrics,
        max_age=timedelta(hours=settings.catch_up_max_age_hours),
        page_size=settings.catch_up_page_size,
    )
    register_delivery_handlers(handlers, catch_up=catch_up)
    register_csat_delivery_handlers(handlers)
    register_nps_delivery_handlers(handlers)
    register_testimonial_delivery_handlers(handlers)
    register_webhook_delivery_handlers(handlers)
    register_connector_delivery_handlers(handlers)
    webhook_client = build_http_client(settings.webhook_timeout_seconds)
    connector_client = build_connector_client(settings.webhook_timeout_seconds)
    dispatcher = OutboxDispatcher(
        session_factory=session_factory,
        senders={
            OutboxKind.SLACK_API: SlackApiSender(
                build_outbox_client(settings, http_session),
                Renderer(session_factory, clock),
                pacer=Pacer(session_factory, clock) if settings.slack_pacing else None,
                tokens=(
                    BotTokens(
                        installations,
                        lambda token: build_outbox_client(settings, http_session, token),
                    )
                    if installations is not None
                    else None
                ),
            ),
            OutboxKind.WEBHOOK: WebhookSender(webhook_client, session_factory, clock),
            OutboxKind.CONNECTOR: ConnectorSender(
                connector_client,
                session_factory,
                clock,
                settings.token_cipher(),
                pacer=Pacer(session_factory, clock),
            ),
        },
        clock=clock,
        handlers=handlers,
        metrics=metrics,
        settings=DispatcherSettings(
            max_attempts=settings.outbox_max_attempts,
            batch_size=settings.outbox_batch_size,
            concurrency=settings.outbox_concurrency,
            workers=settings.outbox_workers,
            lease=timedelta(seconds=settings.outbox_lease_seconds),
            send_timeout=send_timeout(settings),
            poll_interval=settings.outbox_poll_seconds,
            policies={
                OutboxKind.WEBHOOK: webhook_retry_policy(
                    window=timedelta(seconds=settings.webhook_retry_window_seconds),
                    backoff_cap_seconds=settings.webhook_backoff_cap_seconds,
                    max_attempts=settings.webhook_max_attempts,
                ),
                OutboxKind.CONNECTOR: CONNECTOR_RETRY_POLICY,
            },
        ),
    )
    dispatcher_ref.append(dispatcher)
    timer_handlers = TimerHandlers()
    register_sla_handlers(timer_handlers)
    register_auto_close_handler(timer_handlers)
    register_digest_handler(timer_handlers)
    register_weekly_handler(timer_handlers, HealthPolicy.from_settings(settings))
    register_rollup_handler(timer_handlers)
    register_health_handler(
        timer_handlers, HealthPolicy.from_settings(settings), after_scoring=accounts_scored
    )
    register_nps_timers(timer_handlers)
    CsatTimers(
        reminder_after=timedelta(seconds=settings.csat_reminder_after_seconds) or None,
        expire_after=timedelta(seconds=settings.csat_expire_after_seconds),
    ).register(timer_handlers)
    timer_sweeper = TimerSweeper(
        session_factory=session_factory,
        clock=clock,
        handlers=timer_handlers,
        settings=TimerSweeperSettings.for_interval(
            timedelta(seconds=settings.scheduler_interval_seconds),
            sqlite=is_sqlite_url(settings.database_url),
        ),
    )
    ctx = SlackContext(
        settings=settings,
        session_factory=session_factory,
        clock=clock,
        metrics=metrics,
        identity=identity,
        workspace_ids=WorkspaceIds(settings.triage_channel_id),
        rules=intake_rules(settings),
        installations=installations,
    )

    async def on_installed(
        session: AsyncSession, workspace_id: int, installer_user_id: str | None
    ) -> None:
        # The person who installed it leads its support team (they can add others).
        leads = [installer_user_id] if installer_user_id else []
        await set_up_workspace(session, settings, clock, workspace_id, leads)
        if installer_user_id:
            await welcome_installer(
                session=session,
                workspace_id=workspace_id,
                installer_user_id=installer_user_id,
                now=clock.now(),
            )

    bolt_app = build_bolt_app(ctx, interactive_client, on_installed=on_installed)
    runtime = Runtime(
        settings=settings,
        clock=clock,
        metrics=metrics,
        engine=engine,
        session_factory=session_factory,
        http_session=http_session,
        identity=identity,
        slack_handler=AsyncSlackRequestHandler(bolt_app),
        dispatcher=dispatcher,
        timer_sweeper=timer_sweeper,
        delivery_handlers=handlers,
        timer_handlers=timer_handlers,
        webhook_client=webhook_client,
        connector_client=connector_client,
        catch_up=catch_up,
    )
    if installations is None:  # one workspace: learn which, as the token says
        try:
            learned = await _learn_identity(runtime)
        except BaseException:
            await runtime.close()
            raise
        if not learned:
            runtime.identity_retry = asyncio.create_task(_keep_learning_identity(runtime))
    if settings.slack_app_token is not None:
        runtime.socket_mode = SocketModeLink(
            bolt_app, settings.slack_app_token.get_secret_value(), interactive_client
        )
        try:
            await runtime.socket_mode.check_token()
        except SocketModeRefused as exc:
            await runtime.close()
            raise StartupError(str(exc)) from None
        runtime.socket_mode.start()
    dispatcher.start()
    await catch_up_now(runtime)
    return runtime


async def catch_up_now(runtime: Runtime) -> None:
    """Start reading back, in every watched channel, what Slack holds and no event brought
    (messages of a downtime Slack gave up retrying); the outbox does the reading."""
    if runtime.catch_up is None:
        return
    try:
        async with runtime.session_factory() as session, session.begin():
            started = await runtime.catch_up.start(session=session, now=runtime.clock.now())
    except (SQLAlchemyError, OSError) as exc:
        logger.error("catch-up could not start: %s", type(exc).__name__)
        return
    if started:
        logger.info("catch-up: reading back %d watched channel(s)", started)


def send_timeout(settings: Settings) -> timedelta:
    """The longest one outbox send may take: its client's timeout twice (the Slack client
    retries once a connection that could not be opened), plus rendering and a margin."""
    longest = max(settings.slack_http_timeout_seconds, settings.webhook_timeout_seconds)
    return timedelta(seconds=2 * longest + 5)


async def _keep_learning_identity(runtime: Runtime) -> None:
    """Try start-up's auth.test and workspace set-up again, backing off, until they succeed."""
    delay = IDENTITY_RETRY_FIRST_SECONDS
    while True:
        await asyncio.sleep(delay)
        try:
            if await _learn_identity(runtime):
                return
        except StartupError as exc:  # the token was revoked while we waited: say so, stop
            logger.error("%s", exc)
            return
        delay = min(delay * 2, IDENTITY_RETRY_MAX_SECONDS)


async def set_up_workspace(
    session: AsyncSession,
    settings: Settings,
    clock: Clock,
    workspace_id: int,
    lead_user_ids: list[str],
) -> list[str]:
    """What a workspace gets when ticketbot is connected to it (at start-up with one
    workspace, at each install with several): its first leads, its CSAT delay and its daily
    digest, account health and weekly report. Returns the leads added."""
    added = await bootstrap_leads(
        session=session, workspace_id=workspace_id, lead_user_ids=lead_user_ids
    )
    await record_default_delay(
        session=session,
        workspace_id=workspace_id,
        delay=timedelta(seconds=settings.csat_delay_seconds),
        now=clock.now(),
    )
    if settings.digest_hour >= 0:
        await ensure_daily_digest(
            session=session, workspace_id=workspace_id, hour=settings.digest_hour, now=clock.now()
        )
    await ensure_daily_health(
        session=session,
        workspace_id=workspace_id,
        hour=settings.account_health_hour,
        now=clock.now(),
    )
    await ensure_rollups(session=session, workspace_id=workspace_id, now=clock.now())
    if settings.weekly_report_hour >= 0:
        await ensure_weekly_report(
            session=session,
            workspace_id=workspace_id,
            hour=settings.weekly_report_hour,
            now=clock.now(),
        )
    return list(added)


def _installations(
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
    clock: Clock,
    http_session: aiohttp.ClientSession,
) -> Installations | None:
    """With several workspaces (SLACK_CLIENT_ID), their installations; else None."""
    cipher = settings.token_cipher()
    if not settings.installs_with_oauth or cipher is None:
        return None
    assert settings.slack_client_id is not None and settings.slack_client_secret is not None
    return Installations(
        session_factory=session_factory,
        cipher=cipher,
        clock=clock,
        client=build_outbox_client(settings, http_session),
        client_id=settings.slack_client_id,
        client_secret=settings.slack_client_secret.get_secret_value(),
        refresh_before=timedelta(minutes=settings.slack_token_refresh_minutes),
    )


async def _learn_identity(runtime: Runtime) -> bool:
    """Call auth.test now (AsyncApp would only do it on the first request) to fail fast on a
    refused token, and set up the workspace's row. False if Slack or the database could not
    be reached: the caller tries again later (events are stored meanwhile)."""
    try:
        await runtime.identity.refresh()
    except SlackApiError as exc:
        error = exc.response.get("error")
        if error in FATAL_AUTH_ERRORS:
            raise StartupError(f"SLACK_BOT_TOKEN was refused by Slack ({error})") from None
        logger.warning("auth.test failed (%s); trying again in the background", error)
        return False
    except Exception as exc:
        logger.warning(
            "Slack API at %s unreachable (%s); starting anyway, events are still stored",
            runtime.settings.slack_api_url,
            type(exc).__name__,
        )
        return False
    identity = runtime.identity
    installation = identity.installation
    if installation is None or installation.key is None:
        return True
    try:
        async with runtime.session_factory() as session, session.begin():
            workspace = await ensure_workspace(
                session=session,
                slack_team_id=installation.key,
                name=identity.team_name,
                bot_user_id=identity.bot_user_id,
                default_triage_channel_id=runtime.settings.triage_channel_id,
                enterprise_id=installation.enterprise_id,
                is_enterprise_install=installation.is_enterprise_install,
            )
            added = await set_up_workspace(
                session,
                runtime.settings,
                runtime.clock,
                workspace.id,
                runtime.settings.support_leads,
            )
    except (SQLAlchemyError, OSError) as exc:
        # Serve anyway: /readyz reports the database problem, and events are refused with a
        # 503 (so Slack retries them) until it is fixed; this set-up is tried again meanwhile.
        logger.error("database not usable at start-up: %s", type(exc).__name__)
        return False
    logger.info(
        "connected to Slack workspace %s as %s; %d lead(s) added from SUPPORT_LEADS",
        installation.key,
        identity.bot_user_id,
        len(added),
    )
    return True
