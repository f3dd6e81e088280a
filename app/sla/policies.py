"""SLA policies: the targets that apply to a ticket, and how leads change them.

A ticket's targets come from its channel's override for its priority if there is one, else the
workspace's policy for that priority, else the built-in defaults below. One service serves both
`/ticket sla set` and the REST API.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import InvalidInput
from app.sla.calendar import ALWAYS_OPEN, WEEKDAYS, BusinessCalendar, public_holidays
from app.sla.models import WORKSPACE_SCOPE, BusinessHours, SlaPolicy
from app.tickets.enums import Priority
from app.workspaces.settings import settings_changed, settings_read

DEFAULT_WARN_FRACTION = 0.75
DEFAULT_WEEKLY_HOURS = {day: [["09:00", "17:00"]] for day in WEEKDAYS[:5]}


@dataclass(frozen=True)
class Targets:
    """The targets for one priority. `None` means "no target of that kind"."""

    priority: Priority
    first_response: timedelta | None
    next_response: timedelta | None
    resolution: timedelta | None
    warn_fraction: float = DEFAULT_WARN_FRACTION
    business_hours: bool = True
    source: str = "default"  # default | workspace | channel


def _hours(n: float) -> timedelta:
    return timedelta(hours=n)


DEFAULT_TARGETS: dict[Priority, Targets] = {
    # Urgent work is watched around the clock; the rest counts business hours.
    Priority.URGENT: Targets(
        Priority.URGENT, _hours(0.5), _hours(1), _hours(4), business_hours=False
    ),
    Priority.HIGH: Targets(Priority.HIGH, _hours(1), _hours(2), _hours(8)),
    Priority.NORMAL: Targets(Priority.NORMAL, _hours(4), _hours(8), _hours(24)),
    Priority.LOW: Targets(Priority.LOW, _hours(8), _hours(16), _hours(72)),
}


async def targets_for(
    *, session: AsyncSession, workspace_id: int, priority: Priority, channel_id: str | None = None
) -> Targets:
    return await settings_read(
        session,
        workspace_id,
        ("sla_targets", workspace_id, priority, channel_id),
        lambda: _targets_for(session, workspace_id, priority, channel_id),
    )


async def _targets_for(
    session: AsyncSession, workspace_id: int, priority: Priority, channel_id: str | None
) -> Targets:
    scopes = [WORKSPACE_SCOPE] + ([channel_id] if channel_id else [])
    rows = {
        row.scope: row
        for row in await session.scalars(
            select(SlaPolicy).where(
                SlaPolicy.workspace_id == workspace_id,
                SlaPolicy.priority == priority,
                SlaPolicy.scope.in_(scopes),
            )
        )
    }
    row = rows.get(channel_id or WORKSPACE_SCOPE) or rows.get(WORKSPACE_SCOPE)
    if row is None:
        return DEFAULT_TARGETS[priority]
    return _targets_of(row)


async def all_targets(
    *, session: AsyncSession, workspace_id: int, channel_id: str | None = None
) -> list[Targets]:
    return [
        await targets_for(
            session=session, workspace_id=workspace_id, priority=priority, channel_id=channel_id
        )
        for priority in Priority
    ]


async def set_targets(
    *,
    session: AsyncSession,
    workspace_id: int,
    priority: Priority,
    actor_id: str | None,
    now: datetime,
    channel_id: str | None = None,
    first_response: timedelta | None = None,
    next_response: timedelta | None = None,
    resolution: timedelta | None = None,
    business_hours: bool | None = None,
    warn_fraction: float | None = None,
) -> Targets:
    """Change some targets of one priority; what is not given keeps its current value.

    A change applies to due times computed from now on; it never back-dates a breach.
    """
    if warn_fraction is not None and not 0 < warn_fraction < 1:
        raise InvalidInput("The warning point must be between 0% and 100% of the target.")
    await settings_changed(session, workspace_id)
    current = await targets_for(
        session=session, workspace_id=workspace_id, priority=priority, channel_id=channel_id
    )
    wanted = replace(
        current,
        first_response=first_response or current.first_response,
        next_response=next_response or current.next_response,
        resolution=resolution or current.resolution,
        business_hours=current.business_hours if business_hours is None else business_hours,
        warn_fraction=current.warn_fraction if warn_fraction is None else warn_fraction,
        source="channel" if channel_id else "workspace",
    )
    scope = channel_id or WORKSPACE_SCOPE
    row = await session.scalar(
        select(SlaPolicy).where(
            SlaPolicy.workspace_id == workspace_id,
            SlaPolicy.scope == scope,
            SlaPolicy.priority == priority,
        )
    )
    if row is None:
        row = SlaPolicy(workspace_id=workspace_id, scope=scope, priority=priority)
        session.add(row)
    row.first_response_seconds = _seconds(wanted.first_response)
    row.next_response_seconds = _seconds(wanted.next_response)
    row.resolution_seconds = _seconds(wanted.resolution)
    row.business_hours = wanted.business_hours
    row.warn_fraction = wanted.warn_fraction
    row.updated_by = actor_id
    row.updated_at = now
    await session.flush()
    return wanted


async def calendar_for(
    *, session: AsyncSession, workspace_id: int, years: range
) -> BusinessCalendar:
    """The workspace's business calendar (Mon-Fri 9:00-17:00 UTC until a lead sets one)."""
    return await settings_read(
        session,
        workspace_id,
        ("business_calendar", workspace_id, years.start, years.stop),
        lambda: _calendar_for(session, workspace_id, years),
    )


async def _calendar_for(session: AsyncSession, workspace_id: int, years: range) -> BusinessCalendar:
    row = await session.get(BusinessHours, workspace_id)
    if row is None:
        return calendar_from(time_zone="UTC", weekly_hours=DEFAULT_WEEKLY_HOURS)
    closed = {date.fromisoformat(day) for day in row.closed_dates or []}
    if row.holiday_country:
        closed |= public_holidays(row.holiday_country, years, row.holiday_subdivision)
    return calendar_from(
        time_zone=row.time_zone, weekly_hours=row.weekly_hours, closed_dates=closed
    )


def calendar_from(
    *, time_zone: str, weekly_hours: dict[str, Any], closed_dates: set[date] | None = None
) -> BusinessCalendar:
    """Build a calendar from its stored form; InvalidInput says what is wrong with it."""
    try:
        hours = {
            WEEKDAYS.index(day.lower()[:3]): tuple(
                (time.fromisoformat(opens), time.fromisoformat(closes)) for opens, closes in spans
            )
            for day, spans in weekly_hours.items()
        }
        return BusinessCalendar(
            time_zone=time_zone, weekly_hours=hours, closed_dates=frozenset(closed_dates or ())
        )
    except (ValueError, TypeError) as exc:
        raise InvalidInput(f"Business hours are not valid: {exc}") from None


def calendar_or_always_open(calendar: BusinessCalendar, targets: Targets) -> BusinessCalendar:
    return calendar if targets.business_hours else ALWAYS_OPEN


def _targets_of(row: SlaPolicy) -> Targets:
    return Targets(
        priority=row.priority,
        first_response=_delta(row.first_response_seconds),
        next_response=_delta(row.next_response_seconds),
        resolution=_delta(row.resolution_seconds),
        warn_fraction=row.warn_fraction,
        business_hours=row.business_hours,
        source="workspace" if row.scope == WORKSPACE_SCOPE else "channel",
    )


def _delta(seconds: int | None) -> timedelta | None:
    return timedelta(seconds=seconds) if seconds is not None else None


def _seconds(delta: timedelta | None) -> int | None:
    return int(delta.total_seconds()) if delta is not None else None


async def set_business_hours(
    *,
    session: AsyncSession,
    workspace_id: int,
    time_zone: str,
    weekly_hours: dict[str, list[list[str]]],
    holiday_country: str | None,
    actor_id: str | None,
    now: datetime,
    holiday_subdivision: str | None = None,
    closed_dates: Collection[date] | None = None,
) -> BusinessCalendar:
    """Replace the workspace's working week; it applies to clocks started from now on.

    The subdivision (a state or region of the holiday country) is replaced with the country;
    closed dates (days off besides public holidays) are kept unless given.
    """
    calendar = calendar_from(time_zone=time_zone, weekly_hours=weekly_hours)
    if holiday_subdivision and not holiday_country:
        raise InvalidInput("A holiday subdivision needs a holiday country.")
    if holiday_country:
        try:
            public_holidays(holiday_country, [now.year], holiday_subdivision)
        except NotImplementedError:
            where = f"{holiday_country!r}" + (
                f", subdivision {holiday_subdivision!r}" if holiday_subdivision else ""
            )
            raise InvalidInput(f"No public holidays known for country {where}.") from None
    await settings_changed(session, workspace_id)
    row = await session.get(BusinessHours, workspace_id)
    if row is None:
        row = BusinessHours(workspace_id=workspace_id, closed_dates=[])
        session.add(row)
    row.time_zone = time_zone
    row.weekly_hours = weekly_hours
    row.holiday_country = holiday_country
    row.holiday_subdivision = holiday_subdivision if holiday_country else None
    if closed_dates is not None:
        row.closed_dates = sorted({day.isoformat() for day in closed_dates})
    row.updated_by = actor_id
    row.updated_at = now
    await session.flush()
    return calendar


async def describe_business_hours(*, session: AsyncSession, workspace_id: int) -> str:
    row = await session.get(BusinessHours, workspace_id)
    if row is None:
        return "Mon-Fri 09:00-17:00 UTC (the default)"
    days = ", ".join(
        f"{day} " + " ".join(f"{opens}-{closes}" for opens, closes in spans)
        for day, spans in row.weekly_hours.items()
    )
    holidays = f"; public holidays of {row.holiday_country}" if row.holiday_country else ""
    return f"{days} ({row.time_zone}){holidays}"
