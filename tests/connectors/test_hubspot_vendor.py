"""The HubSpot vendor module against the fake HubSpot portal, over real HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
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
    Remote,
    TicketRecord,
)
from app.connectors.vendors.hubspot import DEFAULT_MAPPING, HubSpot
from tests.fakes.hubspot import FakeHubSpot

VENDOR = HubSpot()


@pytest.fixture
async def hubspot() -> AsyncIterator[FakeHubSpot]:
    fake = FakeHubSpot()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5.0) as client:
        yield client


def credentials(fake: FakeHubSpot, token: str | None = None) -> Credentials:
    return Credentials(base_url=fake.base_url, token=token or fake.token)


def account(**changes: Any) -> AccountRecord:
    base = AccountRecord(
        id=7,
        name="Acme Corp",
        domains=("Acme.example", "acme-corp.example"),
        tier="enterprise",
        owner="dana@ours.example",
        renewal_on="2027-03-01",
        health_score=72,
        nps=41.5,
        csat=93.3333,
        churned=False,
    )
    return replace(base, **changes)


def ticket(**changes: Any) -> TicketRecord:
    base = TicketRecord(
        id=42,
        number=1042,
        subject="Exports time out",
        description="Our nightly export fails after 30 s.",
        status="new",
        priority="high",
        requester_name="Riley",
        requester_email="riley@acme.example",
        account=account(),
        permalink="https://acme.slack.com/archives/C1/p1700000000000100",
        created_at=datetime(2026, 11, 2, 9, 30, tzinfo=UTC),
    )
    return replace(base, **changes)


def account_push(**changes: Any) -> Push:
    fields: dict[str, Any] = {
        "action": Action.SYNC_ACCOUNT,
        "ours": "ticketbot-account-7",
        "mapping": dict(DEFAULT_MAPPING),
        "account": account(),
    }
    return Push(**{**fields, **changes})


def ticket_push(**changes: Any) -> Push:
    fields: dict[str, Any] = {
        "action": Action.SYNC_TICKET,
        "ours": "ticketbot-ticket-42",
        "mapping": dict(DEFAULT_MAPPING),
        "ticket": ticket(),
    }
    return Push(**{**fields, **changes})


# -- accounts -> companies ---------------------------------------------------------------------


async def test_an_account_with_no_company_creates_one(
    hubspot: FakeHubSpot, http: httpx.AsyncClient
) -> None:
    remote = await VENDOR.push(http, credentials(hubspot), account_push())

    assert len(hubspot.searches("companies")) == 1
    assert len(hubspot.creates("companies")) == 1
    company = hubspot.company(remote.id)
    assert remote.id.isdigit()
    assert company["name"] == "Acme Corp"
    assert company["domain"] == "acme.example"
    assert company["hs_additional_domains"] == "acme-corp.example"
    assert company["ticketbot_account_id"] == "ticketbot-account-7"
    assert company["ticketbot_health_score"] == "72"
    assert company["ticketbot_nps"] == "41.5"
    assert company["ticketbot_csat"] == "93.33"
    sent = hubspot.creates("companies")[0]
    assert sent.authorization == f"Bearer {hubspot.token}"


async def test_an_account_matches_an_existing_company_by_domain(
    hubspot: FakeHubSpot, http: httpx.AsyncClient
) -> None:
    existing = hubspot.add_company(name="ACME Corporation", domain="acme-corp.example")

    remote = await VENDOR.push(http, credentials(hubspot), account_push())

    assert remote.id == existing
    assert hubspot.creates("companies") == []
    company = hubspot.company(existing)
    assert company["ticketbot_account_id"] == "ticketbot-account-7"
    assert company["ticketbot_health_score"] == "72"
    # The CRM's own name and domain are left alone.
    assert company["name"] == "ACME Corporation"
    assert company["domain"] == "acme-corp.example"
    search = hubspot.searches("companies")[0].json
    domain_filter = search["filterGroups"][1]["filters"][0]
    assert domain_filter == {
        "propertyName": "domain",
        "operator": "IN",
        "values": ["acme.example", "acme-corp.example"],
    }


async def test_a_domain_match_claimed_by_another_account_is_not_taken(
    hubspot: FakeHubSpot, http: httpx.AsyncClient
) -> None:
    other = hubspot.add_company(
        name="Acme EU", domain="acme.example", ticketbot_account_id="ticketbot-account-9"
    )

    remote = await VENDOR.push(http, credentials(hubspot), account_push())

    assert remote.id != other
    assert len(hubspot.creates("companies")) == 1
    assert hubspot.company(other)["ticketbot_account_id"] == "ticketbot-account-9"


async def test_a_second_account_push_finds_the_company_it_created(
    hubspot: FakeHubSpot, http: httpx.AsyncClient
) -> None:
    first = await VENDOR.push(http, credentials(hubspot), account_push())

    second = await VENDOR.push(
        http, credentials(hubspot), account_push(account=account(health_score=55), look_first=True)
    )

    assert second.id == first.id
    assert len(hubspot.creates("companies")) == 1
    assert hubspot.company(first.id)["ticketbot_health_score"] == "55"


async def test_an_account_update_with_a_stored_remote_patches_without_searching(
    hubspot: FakeHubSpot, http: httpx.AsyncClient
) -> None:
    first = await VENDOR.push(http, credentials(hubspot), account_push())
    searches_before = len(hubspot.searches("companies"))

    again = await VENDOR.push(
        http,
        credentials(hubspot),
        account_push(account=account(health_score=31, nps=None), remote=first),
    )

    assert again.id == first.id
    assert len(hubspot.searches("companies")) == searches_before
    assert len(hubspot.updates("companies")) == 1
    company = hubspot.company(first.id)
    assert company["ticketbot_health_score"] == "31"
    assert "ticketbot_nps" not in company  # cleared: the account has no NPS any more


async def test_a_company_deleted_in_hubspot_is_not_found(
    hubspot: FakeHubSpot, http: httpx.AsyncClient
) -> None:
    with pytest.raises(FarSideError) as caught:
        await VENDOR.push(http, credentials(hubspot), account_push(remote=Remote(id="999999")))

    assert caught.value.failure is Failure.NOT_FOUND
    assert caught.value.status_code == 404


async def test_a_missing_custom_property_is_refused(http: httpx.AsyncClient) -> None:
    fake = FakeHubSpot(custom_properties={"companies": ["ticketbot_account_id"]})
    await fake.start()
    try:
        with pytest.raises(FarSideError) as caught:
            await VENDOR.push(http, credentials(fake), account_push())
    finally:
        await fake.stop()

    assert caught.value.failure is Failure.REFUSED
    assert caught.value.status_code == 400
    assert "PROPERTY_DOESNT_EXIST" in caught.value.message
    assert "ticketbot_health_score" in caught.value.message
    assert fake.records["companies"] == {}


# -- tickets -----------------------------------------------------------------------------------


async def test_a_ticket_is_created_in_the_pipeline_and_associated_with_its_company(
    hubspot: FakeHubSpot, http: httpx.AsyncClient
) -> None:
    company = await VENDOR.push(http, credentials(hubspot), account_push())

    remote = await VENDOR.push(http, credentials(hubspot), ticket_push(parent=company))

    assert len(hubspot.creates("tickets")) == 1
    made = hubspot.ticket(remote.id)
    assert made["subject"] == "T-1042: Exports time out"
    assert made["content"].startswith("Our nightly export fails after 30 s.")
    assert "https://acme.slack.com/archives/C1/p1700000000000100" in made["content"]
    assert made["hs_pipeline"] == "0"
    assert hubspot.stage_label(made["hs_pipeline_stage"]) == "New"
    assert made["hs_ticket_priority"] == "HIGH"
    assert made["ticketbot_ticket_id"] == "ticketbot-ticket-42"
    assert remote.status == made["hs_pipeline_stage"]
    assert hubspot.associations(remote.id) == [
        {
            "toObjectType": "companies",
            "toObjectId": company.id,
            "associationCategory": "HUBSPOT_DEFINED",
            "associationTypeId": 26,
        }
    ]


async def test_a_ticket_without_a_company_has_no_association(
    hubspot: FakeHubSpot, http: httpx.AsyncClient
) -> None:
    remote = await VENDOR.push(http, credentials(hubspot), ticket_push(ticket=ticket(account=None)))

    assert hubspot.associations(remote.id) == []
    assert "associations" not in hubspot.creates("tickets")[0].json


@pytest.mark.parametrize(
    ("status", "label"),
    [
        ("open", "Waiting on us"),
        ("waiting_on_customer", "Waiting on contact"),
        ("resolved", "Closed"),
        ("closed", "Closed"),
    ],
)
async def test_ticket_updates_move_the_stage_and_priority(
    hubspot: FakeHubSpot, http: httpx.AsyncClient, status: str, label: str
) -> None:
    created = await VENDOR.push(http, credentials(hubspot), ticket_push())

    moved = await VENDOR.push(
        http,
        credentials(hubspot),
        ticket_push(ticket=ticket(status=status, priority="low"), remote=created),
    )

    assert moved.id == created.id
    assert len(hubspot.creates("tickets")) == 1
    patch = hubspot.updates("tickets")[0]
    assert patch.path == f"/crm/v3/objects/tickets/{created.id}"
    made = hubspot.ticket(created.id)
    assert hubspot.stage_label(made["hs_pipeline_stage"]) == label
    assert made["hs_ticket_priority"] == "LOW"
    assert made["subject"] == "T-1042: Exports time out"  # untouched by the update


async def test_look_first_finds_the_ticket_an_earlier_attempt_created(
    hubspot: FakeHubSpot, http: httpx.AsyncClient
) -> None:
    first = await VENDOR.push(http, credentials(hubspot), ticket_push())

    again = await VENDOR.push(
        http, credentials(hubspot), ticket_push(ticket=ticket(status="open"), look_first=True)
    )

    assert again.id == first.id
    assert len(hubspot.creates("tickets")) == 1
    search = hubspot.searches("tickets")[0].json
    assert search["filterGroups"] == [
        {
            "filters": [
                {
                    "propertyName": "ticketbot_ticket_id",
                    "operator": "EQ",
                    "value": "ticketbot-ticket-42",
                }
            ]
        }
    ]
    assert hubspot.stage_label(hubspot.ticket(first.id)["hs_pipeline_stage"]) == "Waiting on us"


async def test_look_first_with_nothing_there_creates(
    hubspot: FakeHubSpot, http: httpx.AsyncClient
) -> None:
    other = await VENDOR.push(
        http, credentials(hubspot), ticket_push(ours="ticketbot-ticket-41", ticket=ticket(id=41))
    )

    remote = await VENDOR.push(http, credentials(hubspot), ticket_push(look_first=True))

    assert remote.id != other.id
    assert len(hubspot.creates("tickets")) == 2


async def test_an_unmapped_priority_is_refused_before_any_request(
    hubspot: FakeHubSpot, http: httpx.AsyncClient
) -> None:
    mapping = {**DEFAULT_MAPPING, "priorities": {"low": "LOW"}}

    with pytest.raises(FarSideError) as caught:
        await VENDOR.push(http, credentials(hubspot), ticket_push(mapping=mapping))

    assert caught.value.failure is Failure.REFUSED
    assert "'high'" in caught.value.message
    assert hubspot.requests == []


async def test_a_priority_the_portal_lacks_is_refused_by_hubspot(
    hubspot: FakeHubSpot, http: httpx.AsyncClient
) -> None:
    mapping = {**DEFAULT_MAPPING, "priorities": {**DEFAULT_MAPPING["priorities"], "high": "URGENT"}}

    with pytest.raises(FarSideError) as caught:
        await VENDOR.push(http, credentials(hubspot), ticket_push(mapping=mapping))

    assert caught.value.failure is Failure.REFUSED
    assert "INVALID_OPTION" in caught.value.message
    assert hubspot.records["tickets"] == {}


# -- failures ----------------------------------------------------------------------------------


async def test_a_bad_token_is_an_auth_failure_that_does_not_repeat_the_token(
    hubspot: FakeHubSpot, http: httpx.AsyncClient
) -> None:
    wrong = "pat-na1-00000000-dead-beef-0000-000000000000"

    with pytest.raises(FarSideError) as caught:
        await VENDOR.push(http, credentials(hubspot, wrong), account_push())

    assert caught.value.failure is Failure.AUTH
    assert caught.value.status_code == 401
    assert "HubSpot refused the private app token" in caught.value.message
    assert "INVALID_AUTHENTICATION" in caught.value.message
    assert wrong not in str(caught.value)
    assert hubspot.token not in str(caught.value)
    assert hubspot.records["companies"] == {}


async def test_a_rate_limited_write_reads_the_rolling_window(
    hubspot: FakeHubSpot, http: httpx.AsyncClient
) -> None:
    company = await VENDOR.push(http, credentials(hubspot), account_push())
    hubspot.rate_limit_next(1)

    with pytest.raises(FarSideError) as caught:
        await VENDOR.push(http, credentials(hubspot), account_push(remote=company))

    assert caught.value.failure is Failure.RATE_LIMITED
    assert caught.value.status_code == 429
    # X-HubSpot-RateLimit-Remaining: 0 with X-HubSpot-RateLimit-Interval-Milliseconds: 10000.
    assert caught.value.retry_after == 10.0
    assert "RATE_LIMIT" in caught.value.message


async def test_a_retry_after_header_wins(hubspot: FakeHubSpot, http: httpx.AsyncClient) -> None:
    hubspot.rate_limit_next(1, retry_after=3)

    with pytest.raises(FarSideError) as caught:
        await VENDOR.push(http, credentials(hubspot), ticket_push())

    assert caught.value.failure is Failure.RATE_LIMITED
    assert caught.value.retry_after == 3.0


async def test_a_rate_limited_search_without_headers_waits_the_default(
    hubspot: FakeHubSpot, http: httpx.AsyncClient
) -> None:
    hubspot.rate_limit_next(1)

    with pytest.raises(FarSideError) as caught:
        await VENDOR.push(http, credentials(hubspot), account_push())

    assert caught.value.failure is Failure.RATE_LIMITED
    assert caught.value.retry_after == 10.0
    assert hubspot.records["companies"] == {}


async def test_the_daily_limit_waits_an_hour(hubspot: FakeHubSpot, http: httpx.AsyncClient) -> None:
    hubspot.rate_limit_next(1, policy="DAILY")

    with pytest.raises(FarSideError) as caught:
        await VENDOR.push(http, credentials(hubspot), ticket_push())

    assert caught.value.failure is Failure.RATE_LIMITED
    assert caught.value.retry_after == 3600.0


async def test_hubspot_down_is_unavailable_until_it_comes_back(
    hubspot: FakeHubSpot, http: httpx.AsyncClient
) -> None:
    await hubspot.go_down()
    with pytest.raises(FarSideError) as caught:
        await VENDOR.push(http, credentials(hubspot), ticket_push())
    assert caught.value.failure is Failure.UNAVAILABLE
    assert caught.value.maybe_done is False

    await hubspot.come_up()
    remote = await VENDOR.push(http, credentials(hubspot), ticket_push())
    assert hubspot.ticket(remote.id)["ticketbot_ticket_id"] == "ticketbot-ticket-42"


async def test_a_5xx_is_unavailable(hubspot: FakeHubSpot, http: httpx.AsyncClient) -> None:
    hubspot.fail_next(1, status=502)

    with pytest.raises(FarSideError) as caught:
        await VENDOR.push(http, credentials(hubspot), ticket_push())

    assert caught.value.failure is Failure.UNAVAILABLE
    assert caught.value.status_code == 502
    assert caught.value.retry_after is None


# -- check() -----------------------------------------------------------------------------------


async def test_check_names_the_portal(hubspot: FakeHubSpot, http: httpx.AsyncClient) -> None:
    assert await VENDOR.check(http, credentials(hubspot)) == "HubSpot portal 62515"
    assert hubspot.requests[-1].path == "/account-info/v3/details"


async def test_check_says_when_the_portal_is_a_sandbox(http: httpx.AsyncClient) -> None:
    fake = FakeHubSpot(portal_id=880011, account_type="SANDBOX")
    await fake.start()
    try:
        assert await VENDOR.check(http, credentials(fake)) == "HubSpot portal 880011 (sandbox)"
    finally:
        await fake.stop()


async def test_check_with_a_bad_token_is_an_auth_failure(
    hubspot: FakeHubSpot, http: httpx.AsyncClient
) -> None:
    with pytest.raises(FarSideError) as caught:
        await VENDOR.check(http, credentials(hubspot, "pat-na1-wrong"))

    assert caught.value.failure is Failure.AUTH
    assert "pat-na1-wrong" not in caught.value.message


# -- the fake is as strict as HubSpot ------------------------------------------------------------


async def test_the_fake_refuses_what_hubspot_refuses(
    hubspot: FakeHubSpot, http: httpx.AsyncClient
) -> None:
    url = hubspot.base_url + "/crm/v3/objects/tickets"
    auth = {"Authorization": f"Bearer {hubspot.token}"}

    no_auth = await http.post(url, json={"properties": {"subject": "x"}})
    assert no_auth.status_code == 401
    assert no_auth.json()["category"] == "INVALID_AUTHENTICATION"

    no_stage = await http.post(url, headers=auth, json={"properties": {"subject": "x"}})
    assert no_stage.status_code == 400
    assert no_stage.json()["category"] == "VALIDATION_ERROR"

    bad_stage = await http.post(
        url, headers=auth, json={"properties": {"subject": "x", "hs_pipeline_stage": "9"}}
    )
    assert bad_stage.status_code == 400
    assert "INVALID_OPTION" in bad_stage.json()["message"]

    bad_link = await http.post(
        url,
        headers=auth,
        json={
            "properties": {"subject": "x", "hs_pipeline_stage": "1"},
            "associations": [
                {
                    "to": {"id": "1"},
                    "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 26}],
                }
            ],
        },
    )
    assert bad_link.status_code == 400

    nameless = await http.post(
        hubspot.base_url + "/crm/v3/objects/companies", headers=auth, json={"properties": {}}
    )
    assert nameless.status_code == 400

    too_many = await http.post(
        url + "/search",
        headers=auth,
        json={"filterGroups": [{"filters": []} for _ in range(6)]},
    )
    assert too_many.status_code == 400
    assert hubspot.records["tickets"] == {}


async def test_the_fake_search_compares_like_hubspot(
    hubspot: FakeHubSpot, http: httpx.AsyncClient
) -> None:
    hubspot.add_company(name="Globex", domain="globex.example")
    url = hubspot.base_url + "/crm/v3/objects/companies/search"
    auth = {"Authorization": f"Bearer {hubspot.token}"}

    def by(operator: str, **value: Any) -> dict[str, Any]:
        return {
            "filterGroups": [
                {"filters": [{"propertyName": "domain", "operator": operator, **value}]}
            ]
        }

    eq = (await http.post(url, headers=auth, json=by("EQ", value="GLOBEX.example"))).json()
    upper_in = (await http.post(url, headers=auth, json=by("IN", values=["GLOBEX.EXAMPLE"]))).json()
    lower_in = await http.post(url, headers=auth, json=by("IN", values=["globex.example"]))

    assert eq["total"] == 1  # EQ is case-insensitive
    assert upper_in["total"] == 0  # IN values must be lower case
    assert lower_in.json()["results"][0]["properties"]["name"] == "Globex"
    assert "x-hubspot-ratelimit-max" not in lower_in.headers  # search answers carry none
