"""The health score as a pure function: bounded, monotone in every signal, explained, and
stable with no data."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.accounts.health import Signals, Weights, score
from app.accounts.scoring import HealthPolicy
from app.config import HEALTH_SIGNALS, SettingsError, load_settings

_MAYBE_RATING = st.none() | st.floats(min_value=1, max_value=5)
_COUNT = st.integers(min_value=0, max_value=50)
_DAYS = st.floats(min_value=0, max_value=400)

signals = st.builds(
    Signals,
    csat_average=_MAYBE_RATING,
    csat_previous=_MAYBE_RATING,
    nps=st.none() | st.floats(min_value=-100, max_value=100),
    breaches=_COUNT,
    resolved=_COUNT,
    reopened=_COUNT,
    tickets=_COUNT,
    baseline=st.none() | st.floats(min_value=0, max_value=50),
    oldest_open_days=_DAYS,
    quiet_days=st.none() | _DAYS,
    contacts_left=_COUNT,
    urgent=_COUNT,
)
weights = st.builds(
    Weights,
    **{name: st.floats(min_value=0, max_value=100) for name in Weights.__dataclass_fields__},
)

# Each signal made worse by a step, where "worse" has a meaning for it.
WORSE = {
    "csat_average": lambda s: (
        replace(s, csat_average=max(1.0, s.csat_average - 0.5)) if s.csat_average is not None else s
    ),
    "nps": lambda s: replace(s, nps=max(-100.0, s.nps - 20)) if s.nps is not None else s,
    "breaches": lambda s: replace(s, breaches=s.breaches + 1),
    "reopened": lambda s: replace(s, reopened=s.reopened + 1),
    "tickets": lambda s: replace(s, tickets=s.tickets + 3),
    "oldest_open_days": lambda s: replace(s, oldest_open_days=s.oldest_open_days + 5),
    "quiet_days": lambda s: replace(
        s, quiet_days=(s.quiet_days or 0) + 10 if s.quiet_days is not None else None
    ),
    "contacts_left": lambda s: replace(s, contacts_left=s.contacts_left + 1),
    "urgent": lambda s: replace(s, urgent=s.urgent + 1),
}


@given(signals, weights)
def test_the_score_is_between_0_and_100_and_its_reasons_add_up(found, chosen):
    health = score(found, chosen)
    assert 0 <= health.score <= 100
    lost = -sum(reason.points for reason in health.reasons)
    assert health.score == max(0, 100 - lost)
    assert all(reason.points <= 0 and reason.why for reason in health.reasons)


@pytest.mark.parametrize("signal", sorted(WORSE))
@given(found=signals, chosen=weights)
def test_a_worse_signal_never_raises_the_score(signal, found, chosen):
    assert score(WORSE[signal](found), chosen).score <= score(found, chosen).score


def test_with_no_data_the_score_is_full_and_says_why():
    health = score(Signals())
    assert health.score == 100
    assert health.costs == ()
    words = [str(reason) for reason in health.reasons]
    assert "No CSAT ratings in 90 days" in words and "Has not written yet" in words


def test_each_reason_names_its_cost_in_words():
    bad = Signals(
        csat_average=2.0,
        csat_previous=4.0,
        nps=-40,
        breaches=3,
        resolved=10,
        reopened=5,
        tickets=12,
        baseline=4.0,
        oldest_open_days=30,
        quiet_days=75,
        contacts_left=2,
        urgent=1,
    )
    health = score(bad)
    said = {reason.signal: str(reason) for reason in health.reasons}
    assert said["breaches"] == "3 SLA breaches in 30 days: -12"
    assert said["csat"] == "CSAT 2.0/5 over 90 days: -19"
    assert said["csat_trend"] == "CSAT down 2.0 from 4.0 the 90 days before: -10"
    assert said["nps"] == "NPS -40: -12"
    assert said["reopens"] == "5 of 10 resolved tickets reopened in 90 days: -10"
    assert said["volume"] == "12 tickets in 30 days against its usual 4.0: -10"
    assert said["open_age"] == "Oldest open ticket 30 days old: -10"
    assert said["quiet"] == "Last wrote 75 days ago: -11"
    assert said["contacts_left"] == "2 contacts left its channels in 30 days: -7"
    assert said["urgent"] == "1 urgent ticket in 30 days: -3"
    assert health.score == 0  # 104 points lost: never below zero
    assert [reason.signal for reason in health.costs][:3] == ["csat", "nps", "breaches"]


def test_weights_are_read_from_the_setting_and_refused_in_one_sentence(monkeypatch):
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "secret")
    monkeypatch.setenv("HEALTH_WEIGHTS", "breaches=40, quiet=0")
    chosen = HealthPolicy.from_settings(load_settings()).weights
    assert (chosen.breaches, chosen.quiet, chosen.csat) == (40, 0, 25)
    assert score(Signals(breaches=5), chosen).score == 60
    for bad, words in (
        ("loud=3", "is not a health weight"),
        ("breaches", "is not a health weight"),
        ("breaches=lots", "must be a number"),
        ("breaches=200", "between 0 and 100"),
    ):
        monkeypatch.setenv("HEALTH_WEIGHTS", bad)
        with pytest.raises(SettingsError, match=words) as refused:
            load_settings()
        assert "\n" not in str(refused.value) and "HEALTH_WEIGHTS" in str(refused.value)


def test_the_settings_name_every_signal_of_the_score():
    assert set(HEALTH_SIGNALS) == set(Weights.__dataclass_fields__)
    assert {reason.signal for reason in score(Signals()).reasons} == set(HEALTH_SIGNALS)
