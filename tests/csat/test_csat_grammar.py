"""`/ticket csat ...` and `/ticket stats` in the pure grammar."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.slack.ticket_command.grammar import (
    CsatAccount,
    CsatChannel,
    CsatDelay,
    CsatInternal,
    CsatShow,
    CsatWorkspace,
    Stats,
    UsageError,
)
from app.slack.ticket_command.specs import parse


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("csat", CsatShow()),
        ("CSAT", CsatShow()),
        ("csat on", CsatChannel(True)),
        ("csat OFF", CsatChannel(False)),
        ("csat all off", CsatWorkspace(False)),
        ("csat all on", CsatWorkspace(True)),
        ("csat internal off", CsatInternal(False)),
        ("csat delay 30m", CsatDelay(timedelta(minutes=30))),
        ("csat delay 1h30m", CsatDelay(timedelta(hours=1, minutes=30))),
        ("csat delay 0", CsatDelay(timedelta(0))),
        ("csat account Acme Corp off", CsatAccount("Acme Corp", False)),
        ("csat account TACME00001 on", CsatAccount("TACME00001", True)),
        ("stats", Stats(7)),
        ("stats 30d", Stats(30)),
        ("STATS 90D", Stats(90)),
    ],
)
def test_csat_and_stats_forms(text, expected):
    assert parse(text) == expected


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("csat maybe", "`maybe` is not a CSAT setting."),
        ("csat on please", "`on` is not a CSAT setting."),
        ("csat all", "Say `/ticket csat all on` or `/ticket csat all off`."),
        ("csat internal yes", "Say `/ticket csat internal on`"),
        ("csat delay", "Say how long after a resolution"),
        ("csat delay soon", "delay: 'soon' is not a duration"),
        ("csat delay 10m 20m", "Say how long after a resolution"),
        ("csat account off", "Say e.g. `/ticket csat account Acme Corp off`."),
        ("csat account Acme", "Say e.g. `/ticket csat account Acme Corp off`."),
        ("stats 14d", "Say `/ticket stats`, `/ticket stats 30d` or `/ticket stats 90d`."),
        ("stats 7d 30d", "Say `/ticket stats`"),
    ],
)
def test_bad_csat_and_stats_input(text, problem):
    result = parse(text)
    assert isinstance(result, UsageError)
    assert problem in result.problem
