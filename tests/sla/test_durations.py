from datetime import timedelta

import pytest

from app.sla.durations import format_duration, parse_duration


@pytest.mark.parametrize(
    "text,expected",
    [
        ("90s", timedelta(seconds=90)),
        ("30m", timedelta(minutes=30)),
        ("4h", timedelta(hours=4)),
        ("2d", timedelta(days=2)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("1W", timedelta(weeks=1)),
    ],
)
def test_parses_what_leads_write(text, expected):
    assert parse_duration(text) == expected
    assert parse_duration(format_duration(expected)) == expected


@pytest.mark.parametrize("text", ["", "4", "h", "4x", "-4h", "0m", "400d", "4h and then"])
def test_refuses_what_is_not_a_duration(text):
    with pytest.raises(ValueError):
        parse_duration(text)
