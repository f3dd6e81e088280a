"""The Jira connector against a fake Jira Cloud site, over real HTTP."""

from __future__ import annotations

import base64
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
    Push,
    Remote,
    TicketRecord,
)
from app.connectors.vendors.jira import Jira, retry_after
from tests.fakes.jira import FakeJira

SECRET = "jira-webhook-secret-0c4d"
NOW = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
PERMALINK = "https://acme.slack.com/archives/C0SUPPORT/p1764581400000100"

jira = Jira()


@pytest.fixture
async def fake() -> AsyncIterator[FakeJira]:
    fake = FakeJira(projects=["ENG", "OPS"])
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5.0) as client:
        yield client


@pytest.fixture
def credentials(fake: FakeJira) -> Credentials:
    return Credentials(base_url=fake.base_url, token=fake.token, extra={"email": fake.email})


def make_ticket(**changes: Any) -> TicketRecord:
    account = AccountRecord(
        id=7,
        name="Globex Corporation",
        domains=("globex.example",),
        tier="enterprise",
        owner=None,
        renewal_on=None,
        health_score=None,
        nps=None,
        csat=None,
        churned=False,
    )
    ticket = TicketRecord(
        id=42,
        number=1042,
        subject="Exports time out",
        description="Every CSV export over 10k rows fails.\nSince Monday.\n\nWe need it by Friday.",
        status="open",
        priority="high",
        requester_name="Hank Scorpio",
        requester_email="hank@globex.example",
        account=account,
        permalink=PERMALINK,
        created_at=NOW,
    )
    return replace(ticket, **changes)


def escalation(**changes: Any) -> Push:
    push = Push(
        action=Action.ESCALATE,
        ours="ticketbot-ticket-42",
        mapping={**Jira.default_mapping, "project": "ENG"},
        ticket=make_ticket(),
    )
    return replace(push, **changes)


def texts(node: Any) -> list[str]:
    """Every text node's text in an ADF tree, in order."""
    if isinstance(node, dict):
        own = [node["text"]] if node.get("type") == "text" else []
        return own + texts(node.get("content", []))
    if isinstance(node, list):
        return [t for child in node for t in texts(child)]
    return []


def links(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [m["attrs"]["href"] for m in node.get("marks", []) if m.get("type") == "link"]
        return own + links(node.get("content", []))
    if isinstance(node, list):
        return [h for child in node for h in links(child)]
    return []


# -- escalating -----------------------------------------------------------------------------


async def test_escalation_creates_one_issue_with_our_label_and_the_ticket(
    fake: FakeJira, http: httpx.AsyncClient, credentials: Credentials
) -> None:
    remote = await jira.push(http, credentials, escalation())

    assert remote == Remote(
        id="10000",
        key="ENG-1",
        url=f"{fake.base_url}/browse/ENG-1",
        status="To Do",
        done=False,
    )
    assert len(fake.creates()) == 1
    issue = fake.issue("ENG-1")
    assert issue.summary == "T-1042: Exports time out"
    assert issue.issue_type == "Task"
    assert issue.labels == ["ticketbot-ticket-42"]
    assert issue.description is not None
    written = texts(issue.description)
    assert "Every CSV export over 10k rows fails." in written
    assert "We need it by Friday." in written
    assert "Globex Corporation" in written
    assert links(issue.description) == [PERMALINK]
    sent = fake.creates()[0].authorization
    assert sent == "Basic " + base64.b64encode(f"{fake.email}:{fake.token}".encode()).decode()


async def test_issue_keys_count_per_project_and_the_target_beats_the_mapping(
    fake: FakeJira, http: httpx.AsyncClient, credentials: Credentials
) -> None:
    first = await jira.push(http, credentials, escalation())
    second = await jira.push(http, credentials, escalation(ours="ticketbot-ticket-43"))
    elsewhere = await jira.push(
        http, credentials, escalation(ours="ticketbot-ticket-44", target="OPS")
    )

    assert (first.key, second.key, elsewhere.key) == ("ENG-1", "ENG-2", "OPS-1")
    assert (first.id, second.id, elsewhere.id) == ("10000", "10001", "10002")
    assert fake.issue("OPS-1").project == "OPS"


async def test_the_mapped_issue_type_is_used(
    fake: FakeJira, http: httpx.AsyncClient, credentials: Credentials
) -> None:
    push = escalation(mapping={"project": "ENG", "issue_type": "Bug"})

    remote = await jira.push(http, credentials, push)

    assert fake.issue(remote.id).issue_type == "Bug"


async def test_an_unknown_project_is_refused_with_jiras_reason(
    fake: FakeJira, http: httpx.AsyncClient, credentials: Credentials
) -> None:
    with pytest.raises(FarSideError) as raised:
        await jira.push(http, credentials, escalation(target="NOPE"))

    assert raised.value.failure is Failure.REFUSED
    assert raised.value.status_code == 400
    assert "Specify a valid project ID or key" in raised.value.message
    assert fake.issues == {}


async def test_no_project_anywhere_is_refused_before_calling_jira(
    fake: FakeJira, http: httpx.AsyncClient, credentials: Credentials
) -> None:
    with pytest.raises(FarSideError) as raised:
        await jira.push(http, credentials, escalation(mapping=dict(Jira.default_mapping)))

    assert raised.value.failure is Failure.REFUSED
    assert "project" in raised.value.message
    assert fake.requests == []


async def test_a_long_multiline_subject_and_a_bare_ticket_still_make_a_valid_issue(
    fake: FakeJira, http: httpx.AsyncClient, credentials: Credentials
) -> None:
    ticket = make_ticket(
        subject="Line one\nline two " + "x" * 400, description="", account=None, permalink=None
    )

    remote = await jira.push(http, credentials, escalation(ticket=ticket))

    issue = fake.issue(remote.id)
    assert issue.summary.startswith("T-1042: Line one line two x")
    assert len(issue.summary) <= 255
    assert issue.description is not None
    assert texts(issue.description) == ["T-1042"]


async def test_a_ticketless_escalation_is_refused(
    fake: FakeJira, http: httpx.AsyncClient, credentials: Credentials
) -> None:
    with pytest.raises(FarSideError) as raised:
        await jira.push(http, credentials, escalation(ticket=None))

    assert raised.value.failure is Failure.REFUSED
    assert fake.requests == []


async def test_the_issue_is_kept_when_reading_its_status_back_fails(
    fake: FakeJira, http: httpx.AsyncClient, credentials: Credentials
) -> None:
    fake.fail_next(1, method="GET")

    remote = await jira.push(http, credentials, escalation())

    assert remote == Remote(id="10000", key="ENG-1", url=f"{fake.base_url}/browse/ENG-1")
    assert len(fake.creates()) == 1


# -- replays and updates ---------------------------------------------------------------------


async def test_an_update_reads_the_status_engineering_moved_it_to(
    fake: FakeJira, http: httpx.AsyncClient, credentials: Credentials
) -> None:
    created = await jira.push(http, credentials, escalation())
    fake.transition("ENG-1", "In Progress")

    moving = await jira.push(http, credentials, escalation(remote=created))
    fake.transition("ENG-1", "Done")
    finished = await jira.push(http, credentials, escalation(remote=moving))

    assert (moving.status, moving.done) == ("In Progress", False)
    assert (finished.status, finished.done) == ("Done", True)
    assert finished.id == created.id and finished.key == "ENG-1"
    assert len(fake.creates()) == 1


async def test_done_categories_come_from_the_mapping(
    fake: FakeJira, http: httpx.AsyncClient, credentials: Credentials
) -> None:
    created = await jira.push(http, credentials, escalation())
    fake.transition("ENG-1", "In Progress")
    mapping = {"project": "ENG", "done_categories": ["indeterminate", "done"]}

    remote = await jira.push(http, credentials, escalation(remote=created, mapping=mapping))

    assert remote.done is True


async def test_an_update_of_a_deleted_issue_says_not_found(
    fake: FakeJira, http: httpx.AsyncClient, credentials: Credentials
) -> None:
    created = await jira.push(http, credentials, escalation())
    del fake.issues[created.id]

    with pytest.raises(FarSideError) as raised:
        await jira.push(http, credentials, escalation(remote=created))

    assert raised.value.failure is Failure.NOT_FOUND


async def test_look_first_finds_the_issue_an_earlier_attempt_made(
    fake: FakeJira, http: httpx.AsyncClient, credentials: Credentials
) -> None:
    earlier = await jira.push(http, credentials, escalation())
    fake.transition("ENG-1", "Done")

    again = await jira.push(http, credentials, escalation(look_first=True))

    assert again == replace(earlier, status="Done", done=True)
    assert len(fake.creates()) == 1
    search = next(r for r in fake.requests if r.path == "/rest/api/3/search/jql")
    assert search.query["jql"] == 'labels = "ticketbot-ticket-42"'


async def test_look_first_creates_when_nothing_carries_our_label(
    fake: FakeJira, http: httpx.AsyncClient, credentials: Credentials
) -> None:
    await jira.push(http, credentials, escalation(ours="ticketbot-ticket-7"))

    remote = await jira.push(http, credentials, escalation(look_first=True))

    assert remote.key == "ENG-2"
    assert len(fake.creates()) == 2


# -- failures --------------------------------------------------------------------------------


async def test_a_wrong_token_is_an_auth_failure_that_does_not_repeat_the_token(
    fake: FakeJira, http: httpx.AsyncClient
) -> None:
    wrong = Credentials(
        base_url=fake.base_url, token="not-the-token-9", extra={"email": fake.email}
    )

    with pytest.raises(FarSideError) as raised:
        await jira.push(http, wrong, escalation())

    assert raised.value.failure is Failure.AUTH
    assert raised.value.status_code == 401
    assert "must be authenticated" in raised.value.message
    assert "not-the-token-9" not in str(raised.value)
    assert fake.issues == {}


async def test_a_missing_email_is_an_auth_failure_before_calling_jira(
    fake: FakeJira, http: httpx.AsyncClient
) -> None:
    no_email = Credentials(base_url=fake.base_url, token=fake.token)

    with pytest.raises(FarSideError) as raised:
        await jira.check(http, no_email)

    assert raised.value.failure is Failure.AUTH
    assert "email" in raised.value.message
    assert fake.token not in raised.value.message
    assert fake.requests == []


async def test_a_429_is_rate_limited_with_jiras_retry_after(
    fake: FakeJira, http: httpx.AsyncClient, credentials: Credentials
) -> None:
    fake.rate_limit_next(1, retry_after=17)

    with pytest.raises(FarSideError) as raised:
        await jira.push(http, credentials, escalation())

    assert raised.value.failure is Failure.RATE_LIMITED
    assert raised.value.retry_after == 17
    assert fake.issues == {}
    # The budget is back: the retry goes through and creates the one issue.
    remote = await jira.push(http, credentials, escalation(look_first=True))
    assert remote.key == "ENG-1"
    assert len(fake.issues) == 1


def test_retry_after_falls_back_to_the_reset_time() -> None:
    reset = (datetime.now(UTC) + timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%MZ")
    response = httpx.Response(429, headers={"X-RateLimit-Reset": reset})

    waited = retry_after(response)

    assert waited is not None and 60 <= waited <= 120
    assert retry_after(httpx.Response(429, headers={"Retry-After": "5"})) == 5
    assert retry_after(httpx.Response(429)) is None


async def test_a_5xx_is_unavailable(
    fake: FakeJira, http: httpx.AsyncClient, credentials: Credentials
) -> None:
    fake.fail_next(1, status=503)

    with pytest.raises(FarSideError) as raised:
        await jira.push(http, credentials, escalation())

    assert raised.value.failure is Failure.UNAVAILABLE
    assert raised.value.status_code == 503


async def test_jira_down_is_unavailable_until_it_comes_back(
    fake: FakeJira, http: httpx.AsyncClient, credentials: Credentials
) -> None:
    await fake.go_down()

    with pytest.raises(FarSideError) as raised:
        await jira.push(http, credentials, escalation())

    assert raised.value.failure is Failure.UNAVAILABLE
    await fake.come_up()
    remote = await jira.push(http, credentials, escalation(look_first=True))
    assert remote.key == "ENG-1"


# -- check -----------------------------------------------------------------------------------


async def test_check_names_the_jira_user(
    fake: FakeJira, http: httpx.AsyncClient, credentials: Credentials
) -> None:
    assert await jira.check(http, credentials) == "Jira user Escalations Bot"
    assert [r.path for r in fake.requests] == ["/rest/api/3/myself"]


async def test_check_with_a_wrong_token_fails_on_auth(
    fake: FakeJira, http: httpx.AsyncClient
) -> None:
    wrong = Credentials(base_url=fake.base_url, token="stale-token", extra={"email": fake.email})

    with pytest.raises(FarSideError) as raised:
        await jira.check(http, wrong)

    assert raised.value.failure is Failure.AUTH
    assert "stale-token" not in str(raised.value)


# -- webhooks --------------------------------------------------------------------------------


async def delivered_issue(fake: FakeJira, http: httpx.AsyncClient, credentials: Credentials) -> str:
    remote = await jira.push(http, credentials, escalation())
    fake.transition("ENG-1", "Done")
    return remote.id


def lower(headers: dict[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


async def test_a_signed_delivery_verifies(
    fake: FakeJira, http: httpx.AsyncClient, credentials: Credentials
) -> None:
    await delivered_issue(fake, http, credentials)
    headers, body = fake.webhook_delivery("ENG-1", SECRET)

    assert jira.verify(lower(headers), body, SECRET, NOW) is True
    # Jira signs no timestamp: the same delivery verifies whenever it arrives.
    assert jira.verify(lower(headers), body, SECRET, NOW + timedelta(days=30)) is True


async def test_wrong_missing_or_foreign_signatures_are_refused(
    fake: FakeJira, http: httpx.AsyncClient, credentials: Credentials
) -> None:
    await delivered_issue(fake, http, credentials)
    sent, body = fake.webhook_delivery("ENG-1", SECRET)
    headers = lower(sent)
    signature = headers["x-hub-signature"]
    without = {k: v for k, v in headers.items() if k != "x-hub-signature"}

    assert jira.verify(headers, body, "another-secret", NOW) is False
    assert jira.verify(headers, body + b" ", SECRET, NOW) is False
    assert jira.verify(without, body, SECRET, NOW) is False
    assert jira.verify({**headers, "x-hub-signature": "sha256="}, body, SECRET, NOW) is False
    digest = signature.partition("=")[2]
    assert jira.verify({**headers, "x-hub-signature": f"sha1={digest}"}, body, SECRET, NOW) is False
    assert jira.verify({**headers, "x-hub-signature": digest}, body, SECRET, NOW) is False
    assert jira.verify(headers, body, "", NOW) is False


async def test_reading_an_issue_updated_delivery(
    fake: FakeJira, http: httpx.AsyncClient, credentials: Credentials
) -> None:
    issue_id = await delivered_issue(fake, http, credentials)
    _, body = fake.webhook_delivery("ENG-1", SECRET)
    _, retried = fake.webhook_delivery("ENG-1", SECRET, retry=1)

    inbound = jira.read(body)

    assert inbound is not None
    assert (inbound.remote_id, inbound.status, inbound.done) == (issue_id, "Done", True)
    assert inbound.event_id
    again = jira.read(retried)
    assert again is not None and again.event_id == inbound.event_id
    fake.transition("ENG-1", "In Progress")
    reopened = jira.read(fake.webhook_delivery("ENG-1", SECRET)[1])
    assert reopened is not None
    assert (reopened.status, reopened.done) == ("In Progress", False)


def test_other_events_and_garbage_are_not_news() -> None:
    created = {"timestamp": 1, "webhookEvent": "jira:issue_created", "issue": {"id": "10000"}}
    no_issue = {"timestamp": 1, "webhookEvent": "jira:issue_updated"}

    assert jira.read(json.dumps(created).encode()) is None
    assert jira.read(json.dumps(no_issue).encode()) is None
    assert jira.read(b"not json") is None
    assert jira.read(b"[1, 2]") is None
