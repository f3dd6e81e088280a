"""The FastAPI application: `create_app(settings)` wires everything; the lifespan runs it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app.api import accounts, connectors, health, inbound, slack, testimonials, tickets, webhooks
from app.api import metrics as metrics_api
from app.api import sla as sla_api
from app.api.body_limit import BodyLimitMiddleware
from app.api.errors import register_error_handlers
from app.api.request_metrics import RequestMetricsMiddleware
from app.clock import Clock, SystemClock
from app.config import Settings
from app.metrics import Metrics
from app.runtime import start_runtime
from app.scheduler import build_scheduler
from app.web import mount_dashboard

VERSION = "0.1.0"


def create_app(settings: Settings, *, clock: Clock | None = None) -> FastAPI:
    """Build the app. Nothing connects until the lifespan starts (uvicorn or a test)."""
    metrics = Metrics()
    clock = clock or SystemClock()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = await start_runtime(settings, clock, metrics)
        scheduler = build_scheduler(runtime)
        scheduler.start()
        app.state.runtime = runtime
        try:
            yield
        finally:
            scheduler.shutdown(wait=False)
            await runtime.close()

    app = FastAPI(
        title="ticketbot",
        version=VERSION,
        summary="Self-hosted, Slack-native support ticketing",
        lifespan=lifespan,
    )
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        limits={"/slack/": settings.slack_max_body_bytes},
    )
    app.add_middleware(RequestMetricsMiddleware, metrics=metrics)
    register_error_handlers(app)
    app.include_router(health.router)
    app.include_router(slack.router)
    app.include_router(tickets.router)
    app.include_router(accounts.router)
    app.include_router(testimonials.router)
    app.include_router(sla_api.router)
    app.include_router(metrics_api.router)
    app.include_router(webhooks.router)
    app.include_router(connectors.router)
    app.include_router(connectors.webhooks)
    app.include_router(inbound.router)
    mount_dashboard(app, settings)
    return app
