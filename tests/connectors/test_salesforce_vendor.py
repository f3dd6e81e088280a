"""The Salesforce vendor module against a fake org over real HTTP: upserts by external ID,
replays without duplicates, and Salesforce's ways of saying no."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
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
    TicketRecord,
)
from app.connectors.vendors.salesforce import (
    CONCURRENT_LIMIT_RETRY_SECONDS,
    DAILY_LIMIT_RETRY_SECONDS,
    Salesforce,
)
from tests.fakes.salesforce import FakeSalesforce, case_safe_suffix

VENDOR = Salesforce()
MAPPING: dict[str, Any] = Salesforce.default_mapping


@pytest.fixture
async def org() -> AsyncIterator[FakeSalesforce]:
    fake = FakeSalesforce()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5.0) as client:
        yield client


def credentials_for(org: FakeSalesforce, **extra: str) -> Credentials:
    return Credentials(base_url=org.base_url, token=org.token, extra=dict(extra))


def an_account(**changes: Any) -> AccountRecord:
    values: dict[str, Any] = {
        "id": 7,
        "name": "Acme Corp",
        "domains": ("acme.example", "acme-corp.example"),
        "tier": "enterprise",
        "owner": "dana",
        "renewal_on": "2027-03-01",
        "health_score": 72,
        "nps": 41.5,
        "csat": 88.0,
        "churned": False,
    }
    values.update(changes)
    return AccountRecord(**values)


def a_ticket(**changes: Any) -> TicketRecord:
    values: dict[str, Any] = {
        "id": 42,
        "number": 42,
        "subject": "Export to CSV times out",
        "description": "Exporting last month's invoices spins for a minute, then fails.",
        "status": "new",
        "priority": "normal",
        "requester_name": "Pat Lee",
        "requester_email": "pat@acme.example",
        "account": None,
        "permalink": "https://acme.slack.com/archives/C0123/p1700000000000100",
        "created_at": datetime(2026, 11, 30, 9, 15, tzinfo=UTC),
    }
    values.update(changes)
    return TicketRecord(**values)


def account_push(**changes: Any) -> Push:
    values: dict[str, Any] = {
        "action": Action.SYNC_ACCOUNT,
        "ours": "ticketbot-account-7",
        "mapping": MAPPING,
        "account": an_account(),
    }
    values.update(changes)
    return Push(**values)


def ticket_push(**changes: Any) -> Push:
    values: dict[str, Any] = {
        "action": Action.SYNC_TICKET,
        "ours": "ticketbot-ticket-42",
        "mapping": MAPPING,
        "ticket": a_ticket(),
    }
    values.update(changes)
    return Push(**values)


async def refused(coro: Any) -> FarSideError:
    with pytest.raises(FarSideError) as caught:
        await coro
    return caught.value


# -- accounts ----------------------------------------------------------------------------------


async def test_an_account_is_created_by_upsert_on_its_external_id(
    org: FakeSalesforce, http: httpx.AsyncClient
) -> None:
    remote = await VENDOR.push(http, credentials_for(org), account_push())

    assert remote.id.startswith("001") and len(remote.id) == 18
    assert remote.id[15:] == case_safe_suffix(remote.id[:15])
    assert remote.url == f"{org.base_url}/lightning/r/Account/{remote.id}/view"
    record = org.records["Account"][remote.id]
    assert record["Ticketbot_Id__c"] == "ticketbot-account-7"
    assert record["Name"] == "Acme Corp"
    assert record["Website"] == "acme.example"
    assert (record["Ticketbot_Health__c"], record["Ticketbot_NPS__c"]) == (72, 41.5)
    assert record["Ticketbot_CSAT__c"] == 88.0
    [upsert] = org.calls("PATCH")
    assert (
        upsert.path == "/services/data/v67.0/sobjects/Account/Ticketbot_Id__c/ticketbot-account-7"
    )
    assert upsert.authorization == f"Bearer {org.token}"
    assert "Ticketbot_Id__c" not in upsert.json  # the external ID travels in the path only


async def test_an_account_update_changes_the_same_record(
    org: FakeSalesforce, http: httpx.AsyncClient
) -> None:
    credentials = credentials_for(org)
    first = await VENDOR.push(http, credentials, account_push())

    again = await VENDOR.push(
        http,
        credentials,
        account_push(account=an_account(health_score=35, nps=None, domains=()), remote=first),
    )

    assert again.id == first.id
    assert len(org.records["Account"]) == 1
    record = org.records["Account"][first.id]
    assert record["Ticketbot_Health__c"] == 35
    assert record["Ticketbot_NPS__c"] is None  # no answers any more: the stale score is cleared
    assert record["Website"] == "acme.example"  # no domain left: the website is left alone
    assert len(org.calls("PATCH")) == 2 and org.calls("GET") == []


async def test_a_mapping_can_leave_out_the_number_fields(
    org: FakeSalesforce, http: httpx.AsyncClient
) -> None:
    mapping = {**MAPPING, "nps_field": None, "csat_field": ""}

    remote = await VENDOR.push(http, credentials_for(org), account_push(mapping=mapping))

    [upsert] = org.calls("PATCH")
    assert set(upsert.json) == {"Name", "Website", "Ticketbot_Health__c"}
    assert org.records["Account"][remote.id]["Ticketbot_Health__c"] == 72


# -- cases -------------------------------------------------------------------------------------


async def test_a_ticket_becomes_a_case_under_its_account(
    org: FakeSalesforce, http: httpx.AsyncClient
) -> None:
    credentials = credentials_for(org)
    account = await VENDOR.push(http, credentials, account_push())

    remote = await VENDOR.push(http, credentials, ticket_push(parent=account))

    assert remote.id.startswith("500") and len(remote.id) == 18
    assert remote.key == "00001000"
    assert remote.status == "New"
    assert remote.url == f"{org.base_url}/lightning/r/Case/{remote.id}/view"
    case = org.records["Case"][remote.id]
    assert case["Ticketbot_Id__c"] == "ticketbot-ticket-42"
    assert case["Subject"] == "T-42: Export to CSV times out"
    assert case["Description"].startswith("Exporting last month's invoices")
    assert (case["Status"], case["Priority"], case["Origin"]) == ("New", "Medium", "Slack")
    assert case["AccountId"] == account.id
    assert case["Ticketbot_Slack_Link__c"] == a_ticket().permalink
    # The upsert answers the id only; one read fetches the CaseNumber it assigned.
    [read] = org.calls("GET", "/sobjects/Case/")
    assert read.path == f"/services/data/v67.0/sobjects/Case/{remote.id}"
    assert read.query == {"fields": "Id,CaseNumber,Status"}


async def test_a_status_and_priority_change_reaches_the_case(
    org: FakeSalesforce, http: httpx.AsyncClient
) -> None:
    credentials = credentials_for(org)
    first = await VENDOR.push(http, credentials, ticket_push())
    reads_before = len(org.calls("GET"))

    again = await VENDOR.push(
        http,
        credentials,
        ticket_push(ticket=a_ticket(status="open", priority="urgent"), remote=first),
    )

    assert (again.id, again.key, again.status) == (first.id, "00001000", "Working")
    case = org.records["Case"][first.id]
    assert (case["Status"], case["Priority"], case["IsClosed"]) == ("Working", "High", False)
    last = org.calls("PATCH")[-1]
    assert "Origin" not in last.json  # set on create only: an agent may have changed it
    assert len(org.calls("GET")) == reads_before  # the stored CaseNumber is reused

    closed = await VENDOR.push(
        http, credentials, ticket_push(ticket=a_ticket(status="resolved"), remote=again)
    )
    assert closed.status == "Closed" and org.records["Case"][first.id]["IsClosed"] is True


async def test_a_replayed_create_finds_the_earlier_case_instead_of_making_a_second(
    org: FakeSalesforce, http: httpx.AsyncClient
) -> None:
    credentials = credentials_for(org)
    # The first attempt reached Salesforce but its answer was lost.
    earlier = await VENDOR.push(http, credentials, ticket_push())

    replay = await VENDOR.push(http, credentials, ticket_push(look_first=True))

    assert replay.id == earlier.id and replay.key == earlier.key
    assert len(org.records["Case"]) == 1
    assert [r.method for r in org.requests if "/sobjects/" in r.path].count("POST") == 0
    assert len(org.calls("PATCH", "/sobjects/Case/Ticketbot_Id__c/ticketbot-ticket-42")) == 2


async def test_before_api_46_an_update_answers_204_and_the_id_is_read_by_external_id(
    org: FakeSalesforce, http: httpx.AsyncClient
) -> None:
    credentials = credentials_for(org, api_version="v45.0")
    first = await VENDOR.push(http, credentials, ticket_push())

    replay = await VENDOR.push(
        http, credentials, ticket_push(ticket=a_ticket(priority="high"), look_first=True)
    )

    assert replay.id == first.id and replay.key == "00001000"
    assert org.records["Case"][first.id]["Priority"] == "High"
    read = org.calls("GET")[-1]
    assert read.path == "/services/data/v45.0/sobjects/Case/Ticketbot_Id__c/ticketbot-ticket-42"

    account = await VENDOR.push(http, credentials, account_push())
    updated = await VENDOR.push(http, credentials, account_push())  # 204, nothing stored
    assert updated.id == account.id
    assert org.calls("GET")[-1].query == {"fields": "Id"}


async def test_a_long_subject_is_clipped_to_the_field_length(
    org: FakeSalesforce, http: httpx.AsyncClient
) -> None:
    remote = await VENDOR.push(
        http, credentials_for(org), ticket_push(ticket=a_ticket(subject="slow " * 100))
    )

    subject = org.records["Case"][remote.id]["Subject"]
    assert len(subject) == 255 and subject.startswith("T-42: slow slow")


# -- refusals ----------------------------------------------------------------------------------


async def test_a_bad_token_is_an_auth_failure_that_does_not_repeat_the_token(
    org: FakeSalesforce, http: httpx.AsyncClient
) -> None:
    credentials = Credentials(base_url=org.base_url, token="00Dwrong!expired-session-token")

    error = await refused(VENDOR.push(http, credentials, ticket_push()))

    assert error.failure is Failure.AUTH and error.status_code == 401
    assert "INVALID_SESSION_ID" in error.message and "reconnect" in error.message
    assert "expired-session-token" not in str(error) and org.token not in str(error)
    assert org.records["Case"] == {}


async def test_the_request_limit_is_a_rate_limit_with_a_long_wait(
    org: FakeSalesforce, http: httpx.AsyncClient
) -> None:
    org.rate_limit_next(1)

    error = await refused(VENDOR.push(http, credentials_for(org), account_push()))

    assert error.failure is Failure.RATE_LIMITED and error.status_code == 403
    assert error.retry_after == DAILY_LIMIT_RETRY_SECONDS == 3600.0
    assert "REQUEST_LIMIT_EXCEEDED" in error.message
    assert org.records["Account"] == {}
    # The limit lifted, the same push goes through.
    remote = await VENDOR.push(http, credentials_for(org), account_push())
    assert remote.id in org.records["Account"]


async def test_the_concurrent_request_limit_clears_sooner(
    org: FakeSalesforce, http: httpx.AsyncClient
) -> None:
    org.rate_limit_next(1, concurrent=True)

    error = await refused(VENDOR.push(http, credentials_for(org), ticket_push()))

    assert error.failure is Failure.RATE_LIMITED
    assert error.retry_after == CONCURRENT_LIMIT_RETRY_SECONDS


async def test_a_503_and_a_dead_instance_are_unavailable(
    org: FakeSalesforce, http: httpx.AsyncClient
) -> None:
    credentials = credentials_for(org)
    org.fail_next(1, status=503)
    error = await refused(VENDOR.push(http, credentials, ticket_push()))
    assert error.failure is Failure.UNAVAILABLE and error.status_code == 503

    await org.go_down()
    error = await refused(VENDOR.push(http, credentials, ticket_push()))
    assert error.failure is Failure.UNAVAILABLE and error.status_code is None

    await org.come_up()
    remote = await VENDOR.push(http, credentials, ticket_push())
    assert len(org.records["Case"]) == 1 and remote.key == "00001000"


async def test_a_field_the_org_lacks_is_refused_and_nothing_is_written(
    org: FakeSalesforce, http: httpx.AsyncClient
) -> None:
    mapping = {**MAPPING, "health_field": "Health_Score__c"}

    error = await refused(VENDOR.push(http, credentials_for(org), account_push(mapping=mapping)))

    assert error.failure is Failure.REFUSED and error.status_code == 400
    assert "INVALID_FIELD" in error.message and "Health_Score__c" in error.message
    assert org.records["Account"] == {}


async def test_a_missing_external_id_field_is_a_setup_problem_not_a_lost_record(
    org: FakeSalesforce, http: httpx.AsyncClient
) -> None:
    mapping = {**MAPPING, "case_id_field": "External_Key__c"}

    error = await refused(VENDOR.push(http, credentials_for(org), ticket_push(mapping=mapping)))

    assert error.failure is Failure.REFUSED and error.status_code == 404
    assert "Case.External_Key__c" in error.message and "case_id_field" in error.message


async def test_a_status_outside_a_restricted_picklist_is_refused(
    org: FakeSalesforce, http: httpx.AsyncClient
) -> None:
    mapping = {**MAPPING, "statuses": {**MAPPING["statuses"], "new": "Open"}}

    error = await refused(VENDOR.push(http, credentials_for(org), ticket_push(mapping=mapping)))

    assert error.failure is Failure.REFUSED
    assert "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST" in error.message
    assert org.records["Case"] == {}


async def test_a_field_name_that_is_not_an_api_name_never_reaches_the_url(
    org: FakeSalesforce, http: httpx.AsyncClient
) -> None:
    mapping = {**MAPPING, "account_id_field": "Ticketbot_Id__c/../Id"}

    error = await refused(VENDOR.push(http, credentials_for(org), account_push(mapping=mapping)))

    assert error.failure is Failure.REFUSED and "account_id_field" in error.message
    assert org.requests == []


async def test_an_action_salesforce_does_not_take_is_refused(
    org: FakeSalesforce, http: httpx.AsyncClient
) -> None:
    push = Push(action=Action.ESCALATE, ours="ticketbot-ticket-42", mapping=MAPPING)

    error = await refused(VENDOR.push(http, credentials_for(org), push))

    assert error.failure is Failure.REFUSED and org.requests == []


# -- check -------------------------------------------------------------------------------------


async def test_check_names_the_user_and_org(org: FakeSalesforce, http: httpx.AsyncClient) -> None:
    line = await VENDOR.check(http, credentials_for(org))

    assert line == (
        "Salesforce user Integration User (integration@acme.example) in org "
        "00DFA000000TkB0MAK, REST API v67.0"
    )
    assert [r.path for r in org.requests] == ["/services/data/v67.0/", "/services/oauth2/userinfo"]


async def test_check_refuses_a_bad_token(org: FakeSalesforce, http: httpx.AsyncClient) -> None:
    credentials = Credentials(base_url=org.base_url, token="not-the-token")

    error = await refused(VENDOR.check(http, credentials))

    assert error.failure is Failure.AUTH and "not-the-token" not in str(error)


async def test_check_refuses_a_version_the_org_does_not_offer(
    org: FakeSalesforce, http: httpx.AsyncClient
) -> None:
    error = await refused(VENDOR.check(http, credentials_for(org, api_version="99.0")))

    assert error.failure is Failure.REFUSED and "v99.0" in error.message
