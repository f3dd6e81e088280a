"""What the REST API speaks about support metrics (see app/reports/metrics.py for what counts)."""

from __future__ import annotations

from datetime import datetime
from typing import Self

from pydantic import BaseModel, ConfigDict, Field

from app.csat.stats import CsatNumbers
from app.reports.metrics import Durations, GroupBy, GroupMetrics, MetricsReport, SlaOutcomes


def _seconds(value: float | None) -> float | None:
    return round(value, 3) if value is not None else None


def _percent(value: float | None) -> float | None:
    return round(value, 2) if value is not None else None


class DurationStats(BaseModel):
    """How long it took, in seconds (linear interpolation between ranks, as percentile_cont)."""

    count: int = Field(description="How many tickets.", examples=[412])
    median_seconds: float | None = Field(examples=[2712.5])
    p90_seconds: float | None = Field(examples=[14880.0])

    @classmethod
    def of(cls, durations: Durations) -> Self:
        return cls(
            count=durations.count,
            median_seconds=_seconds(durations.median),
            p90_seconds=_seconds(durations.p90),
        )


class SlaStats(BaseModel):
    """SLA targets decided in the period, from the SLA ledger."""

    met: int = Field(description="Targets met in time.", examples=[380])
    met_late: int = Field(description="Targets met after their due time.", examples=[20])
    breaches: int = Field(description="Breach alerts raised in the period.", examples=[22])
    attainment_percent: float | None = Field(
        description="met / (met + met_late); null when no target was decided.", examples=[95.0]
    )

    @classmethod
    def of(cls, sla: SlaOutcomes) -> Self:
        return cls(
            met=sla.met,
            met_late=sla.met_late,
            breaches=sla.breaches,
            attainment_percent=_percent(sla.attainment),
        )


class CsatStats(BaseModel):
    """CSAT surveys sent in the period."""

    sent: int = Field(examples=[120])
    rated: int = Field(examples=[78])
    score_percent: float | None = Field(
        description="Share of 4 and 5 ratings among the rated.", examples=[91.03]
    )
    response_rate_percent: float | None = Field(
        description="Share of the sent surveys that were rated.", examples=[65.0]
    )

    @classmethod
    def of(cls, csat: CsatNumbers) -> Self:
        return cls(
            sent=csat.sent,
            rated=csat.rated,
            score_percent=_percent(csat.score),
            response_rate_percent=_percent(csat.response_rate),
        )


class MetricsGroup(BaseModel):
    """The numbers of one group, or (in `totals`) of the whole period."""

    key: str | None = Field(
        description="The day (YYYY-MM-DD, in the workspace's time zone), channel id, agent's"
        " Slack user id or account name; null: no channel, unassigned, no account (and in"
        " totals).",
        examples=["2026-01-05"],
    )
    opened: int = Field(description="Tickets opened in the period.", examples=[431])
    resolved: int = Field(description="Tickets resolved in the period.", examples=[417])
    first_response: DurationStats = Field(
        description="From opening to the first agent reply, for tickets first answered in the"
        " period."
    )
    resolution: DurationStats = Field(
        description="From opening to resolution, for tickets resolved in the period."
    )
    sla: SlaStats
    csat: CsatStats

    @classmethod
    def of(cls, group: GroupMetrics) -> Self:
        return cls(
            key=group.key,
            opened=group.opened,
            resolved=group.resolved,
            first_response=DurationStats.of(group.first_response),
            resolution=DurationStats.of(group.resolution),
            sla=SlaStats.of(group.sla),
            csat=CsatStats.of(group.csat),
        )


class MetricsRead(BaseModel):
    """Support metrics for a period, overall and by group. "Not a request" tickets are left
    out; tickets group by their channel, assignee and account as they stand, SLA outcomes and
    CSAT surveys by those at the time."""

    model_config = ConfigDict(populate_by_name=True)

    from_: datetime = Field(
        alias="from", description="Start (inclusive).", examples=["2026-01-01T00:00:00Z"]
    )
    to: datetime = Field(description="End (exclusive).", examples=["2026-01-31T00:00:00Z"])
    group_by: GroupBy = Field(examples=[GroupBy.DAY])
    time_zone: str = Field(description="The zone whose days `day` groups by.", examples=["UTC"])
    totals: MetricsGroup
    groups: list[MetricsGroup] = Field(
        description="By day: every day of the period, in order. Otherwise the groups with any"
        " number, most tickets opened first."
    )

    @classmethod
    def of(cls, report: MetricsReport) -> Self:
        return cls(
            from_=report.start,
            to=report.end,
            group_by=report.group_by,
            time_zone=report.time_zone,
            totals=MetricsGroup.of(report.totals),
            groups=[MetricsGroup.of(group) for group in report.groups],
        )
