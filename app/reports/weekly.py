"""The weekly report in Slack: every Monday at the workspace's morning, the triage channel gets
last week's numbers beside the week before's, what changed, and the volume chart as an image
(uploaded with Slack's upload flow through the outbox: app/slack/uploads.py). Account owners
get their accounts' week in a direct message the same morning (app/accounts/daily.py).

A self-rescheduling timer per workspace, like the daily digest: the report's rows are written
and the timer moved to the next Monday in one transaction, so each report goes out once across
replicas, and one missed while ticketbot was down goes out at the next sweep.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.scoring import HealthPolicy, at_risk_accounts
from app.outbox.service import enqueue_slack_call
from app.reports.charts import volume_chart
from app.reports.metrics import GroupBy, GroupMetrics, MetricsReport, support_metrics
from app.sla.digest import workspace_time_zone
from app.sla.durations import format_duration
from app.timers.handlers import TimerHandlers
from app.timers.models import Timer
from app.timers.service import is_armed, schedule_timer
from app.workspaces.models import Workspace

WEEKLY = "reports.weekly"
MONDAY = 0
# The outbox rows' Slack methods (app/slack/uploads.py sends them; one definition, here).
UPLOAD_CHART = "files.getUploadURLExternal"
COMPLETE_UPLOAD = "files.completeUploadExternal"
NOTABLE_CHANGE = 0.2  # a fifth up or down is worth a line under "What changed"


def _key(workspace_id: int) -> str:
    return f"weekly:{workspace_id}"


def next_monday_at(now: datetime, hour: int, time_zone: str) -> datetime:
    """The next Monday `hour`:00 in the workspace's zone, strictly after now."""
    zone = ZoneInfo(time_zone)
    local = now.astimezone(zone)
    days = (MONDAY - local.weekday()) % 7
    candidate = datetime.combine(local.date() + timedelta(days=days), time(hour), tzinfo=zone)
    if candidate <= local:
        candidate += timedelta(days=7)
    return candidate


async def ensure_weekly_report(
    *, session: AsyncSession, workspace_id: int, hour: int, now: datetime
) -> None:
    """At start-up and install: arm the weekly report unless it is armed."""
    if not await is_armed(session=session, key=_key(workspace_id)):
        await _schedule(session, workspace_id, hour, now)


async def _schedule(session: AsyncSession, workspace_id: int, hour: int, now: datetime) -> None:
    zone = await workspace_time_zone(session, workspace_id)
    await schedule_timer(
        session=session,
        kind=WEEKLY,
        key=_key(workspace_id),
        workspace_id=workspace_id,
        due_at=next_monday_at(now, hour, zone),
        now=now,
        payload={"hour": hour},
    )


def register_weekly_handler(handlers: TimerHandlers, policy: HealthPolicy) -> None:
    async def on_weekly(session: AsyncSession, timer: Timer, now: datetime, late: bool) -> None:
        workspace = await session.get(Workspace, timer.workspace_id)
        if workspace is not None and workspace.triage_channel_id:
            await send_weekly_report(
                session=session,
                workspace=workspace,
                channel_id=workspace.triage_channel_id,
                policy=policy,
                now=now,
            )
        await _schedule(session, timer.workspace_id, int(timer.payload.get("hour", 8)), now)

    handlers.register(WEEKLY, on_weekly)


async def send_weekly_report(
    *,
    session: AsyncSession,
    workspace: Workspace,
    channel_id: str,
    policy: HealthPolicy,
    now: datetime,
) -> None:
    """Owe Slack the report of the last whole week (Monday to Sunday in the workspace's
    zone): the chart's upload, and its share in the channel with the numbers."""
    zone = ZoneInfo(await workspace_time_zone(session, workspace.id))
    local = now.astimezone(zone)
    monday = datetime.combine(local.date() - timedelta(days=local.weekday()), time(), zone)
    start, before = monday - timedelta(days=7), monday - timedelta(days=14)

    async def report(first: datetime, last: datetime) -> MetricsReport:
        return await support_metrics(
            session=session,
            workspace_id=workspace.id,
            start=first,
            end=last,
            group_by=GroupBy.DAY,
        )

    week, week_before = await report(start, monday), await report(before, start)
    at_risk = await at_risk_accounts(session=session, workspace_id=workspace.id, policy=policy)
    chart = volume_chart(week, week_before)
    label = f"{start:%b %-d} to {(monday - timedelta(days=1)):%b %-d}"
    upload = await enqueue_slack_call(
        session=session,
        method=UPLOAD_CHART,
        payload={"filename": f"support-week-{start:%Y-%m-%d}.png", "chart": chart.to_data()},
        now=now,
        workspace_id=workspace.id,
    )
    await enqueue_slack_call(
        session=session,
        method=COMPLETE_UPLOAD,
        payload={
            "channel_id": channel_id,
            "title": f"Tickets opened, {label}",
            "initial_comment": weekly_text(label, week.totals, week_before.totals, len(at_risk)),
        },
        now=now,
        workspace_id=workspace.id,
        depends_on=upload,
        payload_from_dependency={"file_id": "file_id"},
    )


def weekly_text(label: str, week: GroupMetrics, before: GroupMetrics, at_risk: int) -> str:
    """The report's words (Slack mrkdwn; nothing in it comes from a customer)."""
    lines = [
        f":bar_chart: *Support last week* ({label})",
        f"• Opened: *{week.opened}*"
        f" (week before: {before.opened}{_change(week.opened, before.opened)})",
        f"• Resolved: *{week.resolved}* (week before: {before.resolved})",
        f"• First response, median: *{_time(week.first_response.median)}*"
        f" (week before: {_time(before.first_response.median)});"
        f" 90th percentile {_time(week.first_response.p90)}",
        f"• SLA targets met in time: *{_percent(week.sla.attainment)}*"
        f" (week before: {_percent(before.sla.attainment)}); breaches: {week.sla.breaches}",
        f"• CSAT: *{_percent(week.csat.score)}* from {week.csat.rated} ratings"
        f" (week before: {_percent(before.csat.score)})",
    ]
    if at_risk:
        lines.append(f"• Accounts at risk: *{at_risk}*")
    changes = what_changed(week, before)
    if changes:
        lines.append("*What changed*")
        lines.extend(f"• {change}" for change in changes)
    return "\n".join(lines)


def what_changed(week: GroupMetrics, before: GroupMetrics) -> list[str]:
    """The moves worth a lead's attention, in words."""
    changes: list[str] = []
    if before.opened and abs(week.opened - before.opened) / before.opened >= NOTABLE_CHANGE:
        direction = "up" if week.opened > before.opened else "down"
        changes.append(
            f"Tickets {direction} {abs(week.opened - before.opened) * 100 // before.opened}%"
        )
    now_median, then_median = week.first_response.median, before.first_response.median
    if now_median is not None and then_median:
        ratio = now_median / then_median
        if ratio >= 1 + NOTABLE_CHANGE:
            changes.append(f"First responses slower: {_time(now_median)}, was {_time(then_median)}")
        elif ratio <= 1 - NOTABLE_CHANGE:
            changes.append(f"First responses faster: {_time(now_median)}, was {_time(then_median)}")
    now_sla, then_sla = week.sla.attainment, before.sla.attainment
    if now_sla is not None and then_sla is not None and abs(now_sla - then_sla) >= 5:
        changes.append(
            f"SLA attainment {'up' if now_sla > then_sla else 'down'}"
            f" {abs(now_sla - then_sla):.0f} points"
        )
    now_csat, then_csat = week.csat.score, before.csat.score
    if now_csat is not None and then_csat is not None and abs(now_csat - then_csat) >= 5:
        direction = "up" if now_csat > then_csat else "down"
        changes.append(f"CSAT {direction} {abs(now_csat - then_csat):.0f} points")
    return changes


def _change(now: int, then: int) -> str:
    if not then or now == then:
        return ""
    return f", {'+' if now > then else '-'}{abs(now - then) * 100 // then}%"


def _time(seconds: float | None) -> str:
    return format_duration(timedelta(seconds=seconds)) if seconds is not None else "—"


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f}%"
