"""Business time (pure): examples a support lead would check by hand, and properties."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.sla.calendar import ALWAYS_OPEN, BusinessCalendar, public_holidays, weekdays

NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
OFFICE = weekdays(time(9), time(17), time_zone="America/New_York")


def ny(*args: int) -> datetime:
    return datetime(*args, tzinfo=NEW_YORK)


def test_within_a_working_day():
    assert OFFICE.add(ny(2026, 11, 24, 10), timedelta(hours=2)) == ny(2026, 11, 24, 12)


def test_after_hours_start_counts_from_the_next_opening():
    assert OFFICE.add(ny(2026, 11, 24, 20), timedelta(hours=1)) == ny(2026, 11, 25, 10)


def test_a_target_spanning_the_weekend_lands_on_monday():
    assert OFFICE.add(ny(2026, 11, 20, 16), timedelta(hours=2)) == ny(2026, 11, 23, 10)


def test_a_holiday_is_skipped():
    thanksgiving = date(2026, 11, 26)
    assert thanksgiving in public_holidays("US", [2026])
    office = weekdays(time(9), time(17), time_zone="America/New_York", closed=[thanksgiving])

    due = office.add(ny(2026, 11, 25, 16), timedelta(hours=2))

    assert due == ny(2026, 11, 27, 10)


def test_a_daylight_saving_change_keeps_wall_clock_hours():
    # US clocks spring forward on Sunday 2026-03-08: Friday 16:00 + 2 h is Monday 10:00 EDT.
    due = OFFICE.add(ny(2026, 3, 6, 16), timedelta(hours=2))

    assert due == ny(2026, 3, 9, 10)
    assert due.astimezone(UTC).hour == 14  # EDT is UTC-4 (it was UTC-5 on Friday)


def test_calendar_time_across_a_dst_night_is_real_time():
    start = datetime(2026, 3, 28, 12, tzinfo=BERLIN)  # Berlin's clocks go forward that night
    expected = start.astimezone(UTC) + timedelta(hours=24)
    assert ALWAYS_OPEN.add(start, timedelta(hours=24)) == expected


def test_pauses_are_not_counted():
    paused = [(ny(2026, 11, 24, 10), ny(2026, 11, 24, 12))]

    due = OFFICE.add(ny(2026, 11, 24, 9), timedelta(hours=2), paused=paused)

    assert due == ny(2026, 11, 24, 13)
    elapsed = OFFICE.between(ny(2026, 11, 24, 9), ny(2026, 11, 24, 13), paused=paused)
    assert elapsed == timedelta(hours=2)


def test_bad_calendars_are_refused():
    with pytest.raises(ValueError):
        BusinessCalendar(time_zone="UTC", weekly_hours={})
    with pytest.raises(ValueError):
        BusinessCalendar(time_zone="Mars/Olympus", weekly_hours={0: ((time(9), time(17)),)})
    with pytest.raises(ValueError):
        BusinessCalendar(weekly_hours={0: ((time(17), time(9)),)})
    with pytest.raises(ValueError):
        OFFICE.add(datetime(2026, 1, 1), timedelta(hours=1))  # naive


moments = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC)
)
durations = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=20))
calendars = st.sampled_from(
    [
        OFFICE,
        ALWAYS_OPEN,
        weekdays(time(8), time(20), time_zone="Europe/Berlin", closed=[date(2026, 12, 25)]),
        BusinessCalendar(
            time_zone="Asia/Kolkata",
            weekly_hours={
                0: ((time(9), time(12)), (time(13), time(18))),
                5: ((time(10), time(14)),),
            },
        ),
    ]
)
pauses = st.lists(
    st.tuples(moments, st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=3))),
    max_size=4,
).map(lambda items: [(start, start + length) for start, length in items])


@settings(max_examples=150, deadline=None)
@given(calendar=calendars, start=moments, duration=durations)
def test_due_is_never_before_start_and_counts_exactly(calendar, start, duration):
    due = calendar.add(start, duration)

    assert due >= start
    assert calendar.between(start, due) == duration


@settings(max_examples=150, deadline=None)
@given(calendar=calendars, start=moments, duration=durations, paused=pauses)
def test_a_pause_never_makes_a_ticket_due_sooner(calendar, start, duration, paused):
    assert calendar.add(start, duration, paused=paused) >= calendar.add(start, duration)


@settings(max_examples=150, deadline=None)
@given(calendar=calendars, start=moments, shorter=durations, extra=durations)
def test_a_longer_target_is_never_due_sooner(calendar, start, shorter, extra):
    assert calendar.add(start, shorter + extra) >= calendar.add(start, shorter)


@settings(max_examples=100, deadline=None)
@given(start=moments, duration=durations)
def test_always_open_is_plain_time(start, duration):
    assert ALWAYS_OPEN.add(start, duration) == start + duration
