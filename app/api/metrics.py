"""`/api/metrics`: support metrics for a period, overall and by day, channel, agent or account."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from app.api.deps import ApiContext, require_scope
from app.api.errors import error_responses
from app.apikeys.scopes import Scope
from app.reports.metrics import DEFAULT_PERIOD, MAX_PERIOD, GroupBy, support_metrics
from app.reports.schemas import MetricsRead

router = APIRouter(prefix="/api/metrics", tags=["metrics"])

MetricsReader = Annotated[ApiContext, Depends(require_scope(Scope.METRICS_READ))]


@router.get(
    "",
    summary="Tickets opened and resolved, first response and resolution times, SLA attainment"
    " and CSAT for a period",
    response_model=MetricsRead,
    responses=error_responses(401, 403, 422, 503),
    operation_id="getMetrics",
)
async def read_metrics(
    api: MetricsReader,
    from_: Annotated[
        datetime | None,
        Query(
            alias="from",
            description="Start, inclusive (ISO 8601; UTC if no zone). Default:"
            f" {DEFAULT_PERIOD.days} days before `to`.",
        ),
    ] = None,
    to: Annotated[
        datetime | None,
        Query(
            description=f"End, exclusive; at most {MAX_PERIOD.days} days after `from`."
            " Default: now."
        ),
    ] = None,
    group_by: Annotated[GroupBy, Query(description="How to break the numbers down.")] = GroupBy.DAY,
) -> MetricsRead:
    end = to or api.clock.now()
    start = from_ or end - DEFAULT_PERIOD
    async with api.session.begin():
        report = await support_metrics(
            session=api.session,
            workspace_id=api.workspace_id,
            start=start,
            end=end,
            group_by=group_by,
        )
    return MetricsRead.of(report)
