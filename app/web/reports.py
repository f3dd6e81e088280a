"""Reports: volume, first-response and resolution times (median and p90), SLA attainment and
CSAT, by day and by channel, agent or account, each beside the previous period's."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse

from app.accounts.nps import NpsNumbers, nps_numbers
from app.charts import png, svgs
from app.reports.charts import attainment_chart, csat_chart, response_chart, volume_chart
from app.reports.exports import CsvLines
from app.reports.metrics import GroupBy, GroupMetrics, MetricsReport, reporting_time_zone
from app.reports.rollups import rolled_up_report
from app.web.deps import Page, WebContext
from app.web.templating import render

router = APIRouter(prefix="/web", include_in_schema=False)

PERIODS = (7, 30, 90, 365)
Days = Annotated[int, Query()]
By = Annotated[Literal["channel", "agent", "account"], Query()]
CHARTS = {"volume", "response", "attainment", "csat"}
REPORT_COLUMNS = (
    "group",
    "opened",
    "opened_before",
    "first_response_median_s",
    "first_response_p90_s",
    "resolution_median_s",
    "resolution_p90_s",
    "sla_attainment_pct",
    "sla_breaches",
    "csat_pct",
    "csat_ratings",
)


@dataclass(frozen=True)
class Comparison:
    """A group's numbers this period and in the one before."""

    key: str | None
    now: GroupMetrics
    before: GroupMetrics


@dataclass(frozen=True)
class Reports:
    days: int
    by: str
    daily: MetricsReport
    daily_before: MetricsReport
    grouped: list[Comparison]
    totals: Comparison
    nps: NpsNumbers
    nps_before: NpsNumbers


async def _reports(page: WebContext, days: int, by: str) -> Reports:
    """The last `days` calendar days (today so far included) and the `days` before them, read
    from the daily rollups (app/reports/rollups.py: counts exact, medians and 90th
    percentiles within 1%)."""
    now = page.clock.now()

    async def report(
        first: date, last: date, group_by: GroupBy, group_percentiles: bool = True
    ) -> MetricsReport:
        return await rolled_up_report(
            session=page.db,
            workspace_id=page.workspace_id,
            first_day=first,
            last_day=last,
            group_by=group_by,
            now=now,
            group_percentiles=group_percentiles,
        )

    async with page.db.begin():
        zone = await reporting_time_zone(session=page.db, workspace_id=page.workspace_id)
        today = now.astimezone(ZoneInfo(zone)).date()
        first = today - timedelta(days=days - 1)
        before_first, before_last = first - timedelta(days=days), first - timedelta(days=1)
        daily = await report(first, today, GroupBy.DAY)
        # the previous period's days are drawn as counts (volume, attainment, CSAT) only
        daily_before = await report(before_first, before_last, GroupBy.DAY, False)
        grouped = await report(first, today, GroupBy(by))
        grouped_before = await report(before_first, before_last, GroupBy(by))
        start, before_start = daily.start, daily_before.start
        [nps] = await nps_numbers(
            session=page.db, workspace_id=page.workspace_id, since=start, until=now
        )
        [nps_before] = await nps_numbers(
            session=page.db, workspace_id=page.workspace_id, since=before_start, until=start
        )
    earlier = {group.key: group for group in grouped_before.groups}
    keys = [group.key for group in grouped.groups] + [
        key for key in earlier if key not in {g.key for g in grouped.groups}
    ]
    current = {group.key: group for group in grouped.groups}
    return Reports(
        days=days,
        by=by,
        daily=daily,
        daily_before=daily_before,
        grouped=[
            Comparison(
                key, current.get(key) or GroupMetrics(key), earlier.get(key) or GroupMetrics(key)
            )
            for key in keys
        ],
        totals=Comparison(None, daily.totals, daily_before.totals),
        nps=nps,
        nps_before=nps_before,
    )


@router.get("/reports")
async def reports_page(
    request: Request, page: Page, days: Days = 30, by: By = "channel"
) -> Response:
    if days not in PERIODS:
        return _no_such_period(days)
    found = await _reports(page, days, by)
    charts = [
        volume_chart(found.daily, found.daily_before),
        response_chart(found.daily),
        attainment_chart(found.daily, found.daily_before),
        csat_chart(found.daily, found.daily_before),
    ]
    return render(
        request,
        "reports.html",
        page,
        reports=found,
        periods=PERIODS,
        charts=list(zip(charts, await svgs(charts), strict=True)),
        csv_url=f"/web/reports.csv?days={days}&by={by}",
    )


@router.get("/reports.csv")
async def reports_csv(page: Page, days: Days = 30, by: By = "channel") -> Response:
    if days not in PERIODS:
        return _no_such_period(days)
    found = await _reports(page, days, by)
    lines = CsvLines(REPORT_COLUMNS)

    def row(item: Comparison) -> tuple[object, ...]:
        now = item.now
        return (
            item.key if item.key is not None else ("all" if item is found.totals else "none"),
            now.opened,
            item.before.opened,
            now.first_response.median,
            now.first_response.p90,
            now.resolution.median,
            now.resolution.p90,
            None if now.sla.attainment is None else round(now.sla.attainment, 1),
            now.sla.breaches,
            None if now.csat.score is None else round(now.csat.score, 1),
            now.csat.rated,
        )

    body = lines.header + lines.rows([row(found.totals), *map(row, found.grouped)])
    return StreamingResponse(
        iter([body]),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="report-{days}d-by-{by}.csv"'},
    )


@router.get("/reports/{name}.png")
async def chart_png(page: Page, name: str, days: Days = 30) -> Response:
    """A chart of the page as an image (what the weekly message in Slack shows)."""
    if name not in CHARTS:
        return Response("No such chart.", status_code=404, media_type="text/plain")
    if days not in PERIODS:
        return _no_such_period(days)
    found = await _reports(page, days, "channel")
    chart = {
        "volume": lambda: volume_chart(found.daily, found.daily_before),
        "response": lambda: response_chart(found.daily),
        "attainment": lambda: attainment_chart(found.daily, found.daily_before),
        "csat": lambda: csat_chart(found.daily, found.daily_before),
    }[name]()
    return Response(await png(chart), media_type="image/png")


def _no_such_period(days: int) -> Response:
    choices = ", ".join(str(p) for p in PERIODS)
    return Response(
        f"A report covers the last {choices} days, not {days}.",
        status_code=422,
        media_type="text/plain",
    )
