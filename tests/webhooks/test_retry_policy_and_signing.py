"""The webhook retry schedule and the signature scheme (pure)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest

from app.config import Settings
from app.errors import NotAuthenticated
from app.outbox.delivery import RetryPolicy, retry_delay
from app.outbox.dispatcher import DispatcherSettings
from app.outbox.enums import OutboxKind
from app.webhooks.delivery import webhook_retry_policy
from app.webhooks.signing import signature, verify

START = datetime(2026, 1, 5, 9, tzinfo=UTC)
DAY = timedelta(hours=24)


def default_policy() -> RetryPolicy:
    fields = Settings.model_fields
    return webhook_retry_policy(
        window=timedelta(seconds=fields["webhook_retry_window_seconds"].default),
        backoff_cap_seconds=fields["webhook_backoff_cap_seconds"].default,
        max_attempts=fields["webhook_max_attempts"].default,
    )


def schedule(policy: RetryPolicy, jitter: float) -> list[datetime]:
    """When each attempt happens if every one fails, with jitter pinned to `jitter`."""
    rng = random.Random()
    rng.uniform = lambda a, b: a + (b - a) * jitter  # type: ignore[method-assign]
    now, attempts, times = START, 0, [START]
    while True:
        attempts += 1
        if policy.exhausted(attempts=attempts, created_at=START, now=now):
            return times
        delay = retry_delay(attempts, None, rng=rng, cap_seconds=policy.backoff_cap_seconds)
        now = (
            min(now + delay, START + policy.give_up_after) if policy.give_up_after else now + delay
        )
        times.append(now)


@pytest.mark.parametrize("jitter", [0.0, 0.5, 1.0])
def test_webhooks_are_retried_for_a_day_at_most_an_hour_apart(jitter):
    times = schedule(default_policy(), jitter)

    assert times[-1] == START + DAY  # the last attempt falls on the deadline
    gaps = [later - earlier for earlier, later in pairwise(times)]
    assert max(gaps) <= timedelta(hours=1)
    assert gaps[0] <= timedelta(seconds=1)
    assert 30 <= len(times) <= 60  # far below the backstop of 100 attempts


def test_next_attempt_never_passes_the_deadline():
    policy = default_policy()
    late = START + DAY - timedelta(minutes=5)

    at = policy.next_attempt_at(attempts=30, retry_after_seconds=7200, created_at=START, now=late)

    assert at == START + DAY
    assert not policy.exhausted(attempts=30, created_at=START, now=late)
    assert policy.exhausted(attempts=31, created_at=START, now=START + DAY)


def test_retry_after_is_honoured_within_the_window():
    at = default_policy().next_attempt_at(
        attempts=1, retry_after_seconds=90, created_at=START, now=START
    )
    assert at == START + timedelta(seconds=90)


def test_other_kinds_keep_the_attempt_limit():
    settings = DispatcherSettings(max_attempts=24, policies={OutboxKind.WEBHOOK: default_policy()})

    slack = settings.policy_for(OutboxKind.SLACK_API)

    assert slack.max_attempts == 24 and slack.give_up_after is None
    assert slack.backoff_cap_seconds == 600
    assert settings.policy_for(OutboxKind.WEBHOOK).give_up_after == DAY
    assert not slack.exhausted(attempts=23, created_at=START, now=START + DAY * 30)
    assert slack.exhausted(attempts=24, created_at=START, now=START)


def test_signature_is_hmac_sha256_of_timestamp_dot_body():
    import hashlib
    import hmac

    body = b'{"id":"evt_1","type":"ticket.created"}'
    expected = hmac.new(b"whsec_k", b"1767603600." + body, hashlib.sha256).hexdigest()

    assert signature("whsec_k", 1767603600, body) == f"v1={expected}"


def test_verify_accepts_a_fresh_match_among_several():
    body = b"{}"
    now = START
    stamp = str(int(now.timestamp()))
    header = f"v1=deadbeef, {signature('s', stamp, body)}"

    verify(secret="s", timestamp=stamp, signature_header=header, body=body, now=now)


@pytest.mark.parametrize(
    ("stamp_offset", "secret", "body", "message"),
    [
        (0, "other", b"{}", "does not match"),
        (0, "s", b"{ }", "does not match"),
        (-301, "s", b"{}", "more than 5 minutes"),
        (301, "s", b"{}", "more than 5 minutes"),
    ],
)
def test_verify_refuses(stamp_offset, secret, body, message):
    stamp = str(int(START.timestamp()) + stamp_offset)
    header = signature(secret, stamp, body)

    with pytest.raises(NotAuthenticated, match=message):
        verify(secret="s", timestamp=stamp, signature_header=header, body=b"{}", now=START)


def test_verify_needs_both_headers():
    with pytest.raises(NotAuthenticated, match="Missing"):
        verify(secret="s", timestamp=None, signature_header="v1=x", body=b"", now=START)
    with pytest.raises(NotAuthenticated, match="Unix time"):
        verify(secret="s", timestamp="soon", signature_header="v1=x", body=b"", now=START)
