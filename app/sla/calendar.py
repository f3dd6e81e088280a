"""Business time: when the support team works, and how much working time lies between moments.

Pure and deterministic (no I/O, no "now"): SLA due times are computed from a ticket's history
and a calendar, so the same inputs always give the same answer on every replica.

Hours are wall-clock hours in the workspace's time zone, so a target that spans a daylight
saving change lands where a person would expect ("Monday 10:00"), not an hour off.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

Interval = tuple[datetime, datetime]

# A calendar with no open day within this many days is refused: a due time must exist.
MAX_CLOSED_DAYS = 366 * 2

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class BusinessCalendar:
    """Weekly opening hours (weekday 0 = Monday) in `time_zone`, minus closed dates."""

    time_zone: str = "UTC"
    weekly_hours: Mapping[int, tuple[tuple[time, time], ...]] = field(default_factory=dict)
    closed_dates: frozenset[date] = frozenset()

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {self.time_zone!r}") from None
        if not any(self.weekly_hours.get(day) for day in range(7)):
            raise ValueError("a business calendar needs opening hours on at least one day")
        for day, spans in self.weekly_hours.items():
            if day not in range(7):
                raise ValueError(f"weekday {day} is not 0 (Monday) to 6 (Sunday)")
            for opens, closes in spans:
                if not (opens < closes or closes == time(0)):
                    raise ValueError(f"{WEEKDAYS[day]}: {opens} must be before {closes}")

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    def is_open(self, moment: datetime) -> bool:
        moment = _utc(moment)
        return any(
            start <= moment < end for start, end in self._day_intervals(self._local_date(moment))
        )

    def open_intervals(self, start: datetime) -> Iterator[Interval]:
        """Business intervals (UTC) from `start` on, in order; the first may begin at `start`."""
        start = _utc(start)
        day = self._local_date(start) - timedelta(days=1)  # an interval may cross midnight
        closed_run = 0
        while True:
            intervals = [(max(s, start), e) for s, e in self._day_intervals(day) if e > start]
            closed_run = 0 if intervals else closed_run + 1
            if closed_run > MAX_CLOSED_DAYS:
                raise ValueError("the calendar is closed for more than two years from here")
            yield from intervals
            day += timedelta(days=1)

    def add(
        self, start: datetime, duration: timedelta, *, paused: Iterable[Interval] = ()
    ) -> datetime:
        """The moment when `duration` of business time, not counting `paused`, has passed."""
        if duration < timedelta(0):
            raise ValueError("a duration cannot be negative")
        start = _utc(start)
        remaining = duration
        if remaining == timedelta(0):
            return start
        for opens, closes in _subtract(self.open_intervals(start), _normalise(paused)):
            span = closes - opens
            if span >= remaining:
                return opens + remaining
            remaining -= span
        raise AssertionError("open_intervals is endless")  # pragma: no cover

    def between(
        self, start: datetime, end: datetime, *, paused: Iterable[Interval] = ()
    ) -> timedelta:
        """Business time from `start` to `end` (zero if `end` is not after `start`)."""
        start, end = _utc(start), _utc(end)
        total = timedelta(0)
        if end <= start:
            return total
        for opens, closes in _subtract(self.open_intervals(start), _normalise(paused)):
            if opens >= end:
                break
            total += min(closes, end) - opens
        return total

    def _local_date(self, moment: datetime) -> date:
        return moment.astimezone(self.zone).date()

    def _day_intervals(self, day: date) -> list[Interval]:
        if day in self.closed_dates:
            return []
        zone = self.zone
        intervals = []
        for opens, closes in self.weekly_hours.get(day.weekday(), ()):
            end_day = day + timedelta(days=1) if closes == time(0) else day
            start = datetime.combine(day, opens, tzinfo=zone).astimezone(UTC)
            end = datetime.combine(end_day, closes, tzinfo=zone).astimezone(UTC)
            if end > start:
                intervals.append((start, end))
        return sorted(intervals)


ALWAYS_OPEN = BusinessCalendar(
    time_zone="UTC", weekly_hours={day: ((time(0), time(0)),) for day in range(7)}
)
"""Calendar time: a policy without business hours counts every minute."""


def weekdays(
    opens: time, closes: time, *, time_zone: str, closed: Iterable[date] = ()
) -> BusinessCalendar:
    """Monday to Friday, the same hours each day: the common case."""
    return BusinessCalendar(
        time_zone=time_zone,
        weekly_hours={day: ((opens, closes),) for day in range(5)},
        closed_dates=frozenset(closed),
    )


def public_holidays(
    country: str, years: Iterable[int], subdivision: str | None = None
) -> set[date]:
    """A country's public holidays, from the `holidays` package."""
    import holidays

    return set(holidays.country_holidays(country, subdiv=subdivision, years=list(years)).keys())


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("business time needs timezone-aware datetimes")
    return moment.astimezone(UTC)


def _normalise(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted, merged, UTC, empty ones dropped."""
    merged: list[Interval] = []
    for start, end in sorted((_utc(s), _utc(e)) for s, e in intervals):
        if end <= start:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _subtract(intervals: Iterator[Interval], holes: list[Interval]) -> Iterator[Interval]:
    """`intervals` (sorted) with the sorted, merged `holes` cut out."""
    for start, end in intervals:
        cursor = start
        for hole_start, hole_end in holes:
            if hole_end <= cursor or hole_start >= end:
                continue
            if hole_start > cursor:
                yield cursor, hole_start
            cursor = max(cursor, hole_end)
            if cursor >= end:
                break
        if cursor < end:
            yield cursor, end
