"""The report's charts, from its numbers: the same Chart for the dashboard (SVG) and for the
weekly message in Slack (PNG)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from app.charts import CURRENT, PREVIOUS, WARNING, Chart, Series
from app.reports.metrics import GroupMetrics, MetricsReport

WEEKLY_AFTER_DAYS = 92  # longer periods are drawn a week a point


def trend(report: MetricsReport) -> list[tuple[str, list[GroupMetrics]]]:
    """The report's days (a day-grouped report), every day of the period present, as
    (label, days) points: one day each, or one ISO week each for a long period."""
    by_day = {group.key: group for group in report.groups}
    zone = ZoneInfo(report.time_zone)
    first = report.start.astimezone(zone).date()
    last = (report.end - timedelta(microseconds=1)).astimezone(zone).date()
    days = (last - first).days + 1  # every calendar day the period touches
    labels = [first + timedelta(days=offset) for offset in range(days)]
    points: list[tuple[str, list[GroupMetrics]]] = []
    for day in labels:
        group = by_day.get(day.isoformat()) or GroupMetrics(key=day.isoformat())
        if days > WEEKLY_AFTER_DAYS:
            label = _week_label(day)
            if points and points[-1][0] == label:
                points[-1][1].append(group)
                continue
            points.append((label, [group]))
        else:
            points.append((day.strftime("%m-%d"), [group]))
    return points


def volume_chart(current: MetricsReport, previous: MetricsReport) -> Chart:
    now = trend(current)
    before = trend(previous)
    return Chart(
        title="Tickets opened",
        labels=[label for label, _ in now],
        series=[
            Series("This period", [sum(g.opened for g in days) for _, days in now], "bar", CURRENT),
            Series(
                "Previous period",
                _aligned([sum(g.opened for g in days) for _, days in before], len(now)),
                "line",
                PREVIOUS,
                dashed=True,
            ),
        ],
        y_label="tickets",
        whole_numbers=True,
    )


def response_chart(current: MetricsReport) -> Chart:
    """First response, median and 90th percentile, in hours (a day's own; a week's busiest day's
    for long periods, as medians do not add up)."""
    points = trend(current)

    def hours(days: Sequence[GroupMetrics], pick: str) -> float | None:
        values = [getattr(g.first_response, pick) for g in days]
        known = [v for v in values if v is not None]
        return round(max(known) / 3600, 2) if known else None

    return Chart(
        title="First response time",
        labels=[label for label, _ in points],
        series=[
            Series("Median", [hours(days, "median") for _, days in points], "line", CURRENT),
            Series("90th percentile", [hours(days, "p90") for _, days in points], "line", WARNING),
        ],
        y_label="hours",
    )


def attainment_chart(current: MetricsReport, previous: MetricsReport) -> Chart:
    """Share of the SLA targets decided each day (or week) that were met in time."""
    return _share_chart(
        "SLA targets met in time",
        current,
        previous,
        lambda days: (sum(g.sla.met for g in days), sum(g.sla.decided for g in days)),
    )


def csat_chart(current: MetricsReport, previous: MetricsReport) -> Chart:
    """Share of 4 and 5 among the ratings of the surveys sent each day (or week)."""
    return _share_chart(
        "CSAT: ratings of 4 or 5",
        current,
        previous,
        lambda days: (sum(g.csat.satisfied for g in days), sum(g.csat.rated for g in days)),
    )


def _share_chart(
    title: str,
    current: MetricsReport,
    previous: MetricsReport,
    counts: Callable[[Sequence[GroupMetrics]], tuple[int, int]],
) -> Chart:
    """A percentage per point, this period beside the previous: `counts` gives (part, whole)."""

    def percent(days: Sequence[GroupMetrics]) -> float | None:
        part, whole = counts(days)
        return round(100.0 * part / whole, 1) if whole else None

    now = trend(current)
    before = trend(previous)
    return Chart(
        title=title,
        labels=[label for label, _ in now],
        series=[
            Series("This period", [percent(days) for _, days in now], "line", CURRENT),
            Series(
                "Previous period",
                _aligned([percent(days) for _, days in before], len(now)),
                "line",
                PREVIOUS,
                dashed=True,
            ),
        ],
        y_label="%",
        y_range=(0, 100),
    )


def _aligned(values: list[float | None], length: int) -> list[float | None]:
    return (values + [None] * length)[:length]


def _week_label(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"
