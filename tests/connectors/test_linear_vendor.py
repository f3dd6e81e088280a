"""The Linear vendor module against a fake Linear over real HTTP: escalations become issues
(once, even when replayed), their state is read back, Linear's refusals are classified, and
its webhooks are verified and read."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from app.connectors.vendors.base import (
    AccountRecord,
    Action,
    Credentials,
    Failure,
    FarSideError,
    Inbound,
    Push,
    Remote,
    TicketRecord,
)
from app.connectors.vendors.linear import Linear, has_marker, linear_retry_after
from tests.fakes.linear import FakeLinear

SECRET = "lin_wh_signing-secret-3b7e"
NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)

ACME = AccountRecord(
    id=7,
    name="Acme Corp",
    domains=("acme.com",),
    tier="enterprise",
    owner=None,
    renewal_on=None,
    health_score=None,
    nps=None,
    csat=None,
    churned=False,
)
TICKET = TicketRecord(
    id=42,
    number=1042,
    subject="CSV exports fail with a 500",
    description="Every export since 08:00 UTC ends with a 500.\nWe need it for payroll.",
    status="open",
    priority="high",
    requester_name="Ana Pérez",
    requester_email="ana@acme.com",
    account=ACME,
    permalink="https://acme.slack.com/archives/C01/p1700000000000100",
    created_at=NOW,
)


@pytest.fixture
async def linear() -> AsyncIterator[FakeLinear]:
    fake = FakeLinear(teams=("ENG", "OPS"))
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5.0) as client:
        yield client


def credentials(fake: FakeLinear, token: str | None = None) -> Credentials:
    return Credentials(base_url=fake.base_url, token=fake.token if token is None else token)


def escalation(ticket: TicketRecord = TICKET, **changes: Any) -> Push:
    push = Push(
        action=Action.ESCALATE,
        ours=f"ticketbot-ticket-{ticket.id}",
        mapping={**Linear.default_mapping, "team": "ENG"},
        account=ticket.account,
        ticket=ticket,
    )
    return replace(push, **changes)


async def test_an_escalation_becomes_an_issue_in_the_mapped_team(linear, http):
    remote = await Linear().push(http, credentials(linear), escalation())

    issue = linear.issue("ENG-1")
    assert remote == Remote(id=issue.id, key="ENG-1", url=issue.url, status="Todo", done=False)
    assert issue.url.startswith("https://linear.app/acme/issue/ENG-1/")
    assert issue.title == "T-1042: CSV exports fail with a 500"
    assert issue.priority == 2  # Linear's High
    description = issue.description or ""
    assert "> Every export since 08:00 UTC ends with a 500.\n> We need it for payroll." in (
        description
    )
    assert "**Account:** Acme Corp" in description
    assert "**Requester:** Ana Pérez <ana@acme.com>" in description
    assert "**Slack thread:** https://acme.slack.com/archives/C01/p1700000000000100" in description
    assert description.splitlines()[-1] == "ticketbot: ticketbot-ticket-42"
    [create] = linear.operations("IssueCreate")
    assert create.json["variables"]["input"]["teamId"] == linear.teams["ENG"].id


async def test_the_target_team_wins_over_the_mapping(linear, http):
    remote = await Linear().push(http, credentials(linear), escalation(target="OPS"))

    assert remote.key == "OPS-1"
    assert linear.issue("OPS-1").team.key == "OPS"


async def test_a_stored_issue_is_read_back_with_its_state_and_never_created_again(linear, http):
    vendor, creds = Linear(), credentials(linear)
    created = await vendor.push(http, creds, escalation())

    linear.move("ENG-1", "In Progress")
    started = await vendor.push(http, creds, escalation(remote=created))
    linear.complete("ENG-1")
    finished = await vendor.push(http, creds, escalation(remote=created))

    assert (started.status, started.done) == ("In Progress", False)
    assert finished == replace(created, status="Done", done=True)
    assert len(linear.operations("IssueCreate")) == 1


async def test_a_canceled_issue_counts_as_done(linear, http):
    vendor, creds = Linear(), credentials(linear)
    created = await vendor.push(http, creds, escalation())
    linear.cancel("ENG-1")

    remote = await vendor.push(http, creds, escalation(remote=created))

    assert (remote.status, remote.done) == ("Canceled", True)


async def test_a_deleted_issue_is_not_found(linear, http):
    vendor, creds = Linear(), credentials(linear)
    created = await vendor.push(http, creds, escalation())
    linear.delete("ENG-1")

    with pytest.raises(FarSideError) as refused:
        await vendor.push(http, creds, escalation(remote=created))

    assert refused.value.failure is Failure.NOT_FOUND


async def test_look_first_finds_the_earlier_issue_and_creates_no_second(linear, http):
    vendor, creds = Linear(), credentials(linear)
    first = await vendor.push(http, creds, escalation())

    again = await vendor.push(http, creds, escalation(look_first=True))

    assert again == first
    assert len(linear.operations("IssueCreate")) == 1
    [search] = linear.operations("IssuesByMarker")
    assert search.json["variables"]["marker"] == "ticketbot: ticketbot-ticket-42"


async def test_look_first_is_not_fooled_by_a_longer_id_or_a_customer_quoting_the_marker(
    linear, http
):
    vendor, creds = Linear(), credentials(linear)
    sly = replace(TICKET, id=5, number=1005, description="Please see ticketbot: ticketbot-ticket-4")
    await vendor.push(http, creds, escalation())  # ticketbot-ticket-42
    await vendor.push(http, creds, escalation(sly))

    remote = await vendor.push(http, creds, escalation(replace(TICKET, id=4), look_first=True))

    assert remote.key == "ENG-3"
    assert linear.issue("ENG-3").description.endswith("\n\nticketbot: ticketbot-ticket-4")
    assert len(linear.operations("IssueCreate")) == 3


def test_the_marker_must_be_a_line_of_its_own():
    assert has_marker("text\n\nticketbot: ticketbot-ticket-4", "ticketbot-ticket-4")
    assert not has_marker("ticketbot: ticketbot-ticket-42", "ticketbot-ticket-4")
    assert not has_marker("> ticketbot: ticketbot-ticket-4", "ticketbot-ticket-4")
    assert not has_marker(None, "ticketbot-ticket-4")


async def test_an_unknown_team_is_refused_and_nothing_is_created(linear, http):
    with pytest.raises(FarSideError) as refused:
        await Linear().push(http, credentials(linear), escalation(target="NOPE"))

    assert refused.value.failure is Failure.REFUSED
    assert "'NOPE'" in refused.value.message
    assert linear.operations("IssueCreate") == []


async def test_without_a_team_nothing_is_sent(linear, http):
    push = escalation(mapping=dict(Linear.default_mapping))

    with pytest.raises(FarSideError) as refused:
        await Linear().push(http, credentials(linear), push)

    assert refused.value.failure is Failure.REFUSED
    assert "team" in refused.value.message
    assert linear.requests == []


@pytest.mark.parametrize("status", [401, 400])
async def test_a_rejected_api_key_is_an_auth_failure_that_never_shows_the_key(linear, http, status):
    linear.auth_error_status = status
    wrong = "lin_api_not-the-right-key-9f8e7d"

    with pytest.raises(FarSideError) as refused:
        await Linear().push(http, credentials(linear, wrong), escalation())

    assert refused.value.failure is Failure.AUTH
    assert refused.value.status_code == status
    assert "Authentication required" in refused.value.message
    assert wrong not in refused.value.message and linear.token not in refused.value.message
    assert linear.operations("IssueCreate") == []


async def test_a_missing_api_key_is_refused_by_the_fake(linear, http):
    answer = await http.post(
        f"{linear.base_url}/graphql", json={"query": "query Viewer { viewer { id } }"}
    )

    assert answer.status_code == 401
    assert answer.json()["errors"][0]["extensions"]["code"] == "AUTHENTICATION_ERROR"


async def test_a_malformed_create_is_refused_by_the_fake(linear, http):
    answer = await http.post(
        f"{linear.base_url}/graphql",
        headers={"Authorization": linear.token},
        json={
            "query": "mutation IssueCreate($input: IssueCreateInput!) "
            "{ issueCreate(input: $input) { success } }",
            "variables": {"input": {"title": "No team"}},
        },
    )

    assert answer.status_code == 400
    assert "teamId" in answer.json()["errors"][0]["message"]
    assert linear.issues == {}


async def test_the_documented_rate_limit_answer_is_rate_limited(linear, http):
    linear.rate_limit_next(1, retry_after=30)

    with pytest.raises(FarSideError) as refused:
        await Linear().push(http, credentials(linear), escalation())

    assert refused.value.failure is Failure.RATE_LIMITED
    assert refused.value.status_code == 400
    # call() keeps no headers of a 400, so Linear's reset cannot come with it.
    assert refused.value.retry_after is None


async def test_a_429_carries_the_reset_from_linears_headers(linear, http):
    linear.rate_limit_next(1, retry_after=30, status=429)

    with pytest.raises(FarSideError) as refused:
        await Linear().push(http, credentials(linear), escalation())

    assert refused.value.failure is Failure.RATE_LIMITED
    assert refused.value.retry_after is not None
    assert 28 <= refused.value.retry_after <= 30
    # Once the budget is back, the same push goes through.
    assert (await Linear().push(http, credentials(linear), escalation())).key == "ENG-1"


def test_the_wait_is_read_from_the_exhausted_bucket():
    now_ms = datetime.now(UTC).timestamp() * 1000
    response = httpx.Response(
        400,
        headers={
            "X-RateLimit-Requests-Remaining": "120",
            "X-RateLimit-Requests-Reset": str(int(now_ms + 3_600_000)),
            "X-RateLimit-Complexity-Remaining": "0",
            "X-RateLimit-Complexity-Reset": str(int(now_ms + 12_000)),
        },
    )

    wait = linear_retry_after(response)

    assert wait is not None and 10 <= wait <= 12
    assert linear_retry_after(httpx.Response(429, headers={"Retry-After": "7"})) == 7.0
    assert linear_retry_after(httpx.Response(429)) is None


async def test_server_errors_and_a_far_side_that_is_down_are_unavailable(linear, http):
    vendor, creds = Linear(), credentials(linear)
    linear.fail_next(1, status=503)
    with pytest.raises(FarSideError) as failed:
        await vendor.push(http, creds, escalation())
    assert (failed.value.failure, failed.value.status_code) == (Failure.UNAVAILABLE, 503)

    await linear.go_down()
    with pytest.raises(FarSideError) as down:
        await vendor.push(http, creds, escalation())
    assert down.value.failure is Failure.UNAVAILABLE

    await linear.come_up()
    assert (await vendor.push(http, creds, escalation())).key == "ENG-1"


async def test_check_names_the_user_behind_the_key(linear, http):
    assert await Linear().check(http, credentials(linear)) == (
        "Linear user Dana Engineer (dana@example.com)"
    )

    with pytest.raises(FarSideError) as refused:
        await Linear().check(http, credentials(linear, "lin_api_revoked"))
    assert refused.value.failure is Failure.AUTH


async def test_a_signed_delivery_is_verified_and_read(linear, http):
    vendor = Linear()
    created = await vendor.push(http, credentials(linear), escalation())
    linear.complete("ENG-1")

    headers, body = linear.webhook_delivery("ENG-1", SECRET, NOW)

    assert vendor.verify(headers, body, SECRET, NOW + timedelta(seconds=2))
    inbound = vendor.read(body)
    assert inbound is not None
    assert (inbound.remote_id, inbound.status, inbound.done) == (created.id, "Done", True)
    assert inbound.event_id is not None


async def test_a_retried_delivery_keeps_its_event_id_and_the_next_change_gets_another(linear, http):
    vendor = Linear()
    await vendor.push(http, credentials(linear), escalation())
    linear.move("ENG-1", "In Progress")

    _, first = linear.webhook_delivery("ENG-1", SECRET, NOW)
    _, retry = linear.webhook_delivery("ENG-1", SECRET, NOW + timedelta(minutes=1))
    linear.move("ENG-1", "Todo")
    _, later = linear.webhook_delivery("ENG-1", SECRET, NOW + timedelta(minutes=2))

    first_read, retry_read, later_read = (vendor.read(body) for body in (first, retry, later))
    assert isinstance(first_read, Inbound) and isinstance(later_read, Inbound)
    assert first_read == retry_read
    assert (first_read.status, first_read.done) == ("In Progress", False)
    assert later_read.event_id != first_read.event_id and later_read.status == "Todo"


async def test_a_wrong_missing_stale_or_tampered_delivery_is_refused(linear, http):
    vendor = Linear()
    await vendor.push(http, credentials(linear), escalation())
    headers, body = linear.webhook_delivery("ENG-1", SECRET, NOW)

    assert not vendor.verify(headers, body, "another-secret", NOW)
    assert not vendor.verify({**headers, "linear-signature": "ab" * 32}, body, SECRET, NOW)
    without = {k: v for k, v in headers.items() if k != "linear-signature"}
    assert not vendor.verify(without, body, SECRET, NOW)
    assert not vendor.verify(headers, body, SECRET, NOW + timedelta(seconds=61))
    assert not vendor.verify(headers, body, SECRET, NOW - timedelta(seconds=61))
    assert vendor.verify(headers, body, SECRET, NOW + timedelta(seconds=59))
    assert not vendor.verify(headers, body.replace(b'"Todo"', b'"Done"'), SECRET, NOW)


def test_only_issue_changes_are_read():
    vendor = Linear()
    comment = {"action": "create", "type": "Comment", "data": {"id": "c1", "body": "hi"}}
    removed = {
        "action": "remove",
        "type": "Issue",
        "data": {"id": "i1", "state": {"name": "Todo", "type": "unstarted"}},
    }

    assert vendor.read(json.dumps(comment).encode()) is None
    assert vendor.read(json.dumps(removed).encode()) is None
    assert vendor.read(b"not json") is None
