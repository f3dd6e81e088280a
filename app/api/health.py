"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import func, select, text

from app.outbox.enums import OutboxStatus
from app.outbox.models import OutboxMessage
from app.schema import current_revisions, head_revisions

router = APIRouter(tags=["operations"])

if TYPE_CHECKING:  # the composition root's container; imported for its type only
    from app.runtime import Runtime


def _runtime(request: Request) -> Runtime:
    return request.app.state.runtime


@router.get("/healthz", summary="Liveness: the process is up")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Readiness: the database answers and its schema is at head",
    responses={503: {"description": "Not ready; `reason` says why"}},
)
async def readyz(request: Request) -> JSONResponse:
    runtime = _runtime(request)
    try:
        async with runtime.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
            current = await current_revisions(connection)
    except Exception as exc:
        return JSONResponse(
            {"status": "unavailable", "reason": f"database unreachable: {type(exc).__name__}"},
            status_code=503,
        )
    expected = head_revisions()
    if current != expected:
        return JSONResponse(
            {
                "status": "unavailable",
                "reason": "database schema is not at head; run `ticketbot migrate`",
                "current": sorted(current),
                "head": sorted(expected),
            },
            status_code=503,
        )
    if runtime.socket_mode is not None and not await runtime.socket_mode.is_connected():
        return JSONResponse(
            {"status": "unavailable", "reason": "Socket Mode is not connected to Slack yet"},
            status_code=503,
        )
    return JSONResponse({"status": "ready", "schema": sorted(current)})


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(request: Request) -> Response:
    runtime = _runtime(request)
    await _refresh_outbox_gauges(runtime)
    return Response(runtime.metrics.render(), media_type=CONTENT_TYPE_LATEST)


async def _refresh_outbox_gauges(runtime: Runtime) -> None:
    """Outbox depth is read from the database: it is shared by every replica."""
    async with runtime.session_factory() as session:
        for status in (OutboxStatus.PENDING, OutboxStatus.FAILED):
            count = await session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.status == status)
            )
            runtime.metrics.outbox_depth.labels(status=status.value).set(count or 0)
        oldest = await session.scalar(
            select(func.min(OutboxMessage.created_at)).where(
                OutboxMessage.status == OutboxStatus.PENDING
            )
        )
    age = (runtime.clock.now() - oldest).total_seconds() if oldest is not None else 0.0
    runtime.metrics.outbox_oldest_pending_seconds.set(max(age, 0.0))
