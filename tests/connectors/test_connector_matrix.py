"""Every connector through the same trials, on both databases, against its fake: refused
credentials (a clear line in the sync log, the leads told once, nothing more sent), new
credentials (what waited goes out, once), an update reaching the far side's record, the far
side down then back (nothing lost), and a replay that makes nothing twice. CRMs also file the
ticket under its account's company or Account."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from app.apikeys.scopes import Scope
from tests.api.helpers import api_client, api_key
from tests.connectors.test_connectors_flow import (
    LEAD,
    connect,
    customer_asks,
    manage,
    ready,
    slash,
    sync_log,
)
from tests.support.server import outbox_settled, wait_until
from tests.webhooks.helpers import retry_round


@dataclass(frozen=True)
class Far:
    """How a trial reads one vendor's fake."""

    extra: Callable[[Any], dict[str, str]]
    records: Callable[[Any], list[Any]]  # its tickets / cases / issues
    priority: Callable[[Any], str | None]  # a record's priority as the far side names it
    urgent: str  # our urgent, in the default mapping


FAR: dict[str, Far] = {
    "hubspot": Far(
        extra=lambda fake: {},
        records=lambda fake: list(fake.records["tickets"].values()),
        priority=lambda record: record.properties.get("hs_ticket_priority"),
        urgent="HIGH",
    ),
    "salesforce": Far(
        extra=lambda fake: {},
        records=lambda fake: list(fake.records["Case"].values()),
        priority=lambda record: record.get("Priority"),
        urgent="High",
    ),
    "zendesk": Far(
        extra=lambda fake: {"email": fake.email},
        records=lambda fake: list(fake.tickets.values()),
        priority=lambda record: record.priority,
        urgent="urgent",
    ),
}


@pytest.mark.parametrize("vendor", sorted(FAR))
async def test_each_sync_connector_through_refusal_update_outage_and_replay(
    app, emulator, hubspot, salesforce, zendesk, vendor
):
    fake = {"hubspot": hubspot, "salesforce": salesforce, "zendesk": zendesk}[vendor]
    far = FAR[vendor]
    await ready(app)
    connector = await connect(app, vendor, fake, token="revoked-token", **far.extra(fake))

    # refused: logged, the connector held, the leads told once, nothing more sent
    await customer_asks(app)
    await wait_until(lambda: sync_log(app, connector), message="the refusal")
    [refused] = await sync_log(app, connector)
    assert refused["outcome"] == "refused" and refused["error"].startswith("credentials refused")
    sent_before = len(fake.requests)
    assert "urgent" in await slash(app, "priority T-1 urgent")
    await outbox_settled(app)
    await retry_round(app, hours=2)
    await outbox_settled(app)
    assert len(fake.requests) == sent_before
    assert len([m for m in emulator.messages(LEAD) if "refused" in m["text"]]) == 1

    # new credentials: the change that waited goes out, as the ticket stands now
    await manage(app, "PATCH", f"/api/connectors/{connector}", json={"token": fake.token})
    await wait_until(lambda: far.records(fake), message="the far-side record")
    [record] = far.records(fake)
    await wait_until(lambda: far.priority(record) == far.urgent, message="urgent there")

    # the far side down, a change made meanwhile, then back: it arrives, nothing doubled
    await fake.go_down()
    assert "priority" in (await slash(app, "priority T-1 low")).lower()
    await outbox_settled(app)
    assert (await sync_log(app, connector))[0]["outcome"] == "retrying"
    await fake.come_up()
    for _ in range(2):
        await retry_round(app, minutes=30)
        await outbox_settled(app)
    [record] = far.records(fake)
    assert far.priority(record) in ("LOW", "Low", "low")

    # a replay (a resync, a repeated change) updates the same record
    await manage(
        app, "POST", f"/api/connectors/{connector}/resync", json={"record": "ticket", "id": "1"}
    )
    assert "priority" in (await slash(app, "priority T-1 low")).lower()
    await outbox_settled(app)
    assert len(far.records(fake)) == 1
    outcomes = [entry["outcome"] for entry in await sync_log(app, connector)]
    assert outcomes[0] == "sent" and "retrying" in outcomes and "refused" in outcomes


@pytest.mark.parametrize("vendor", ["hubspot", "salesforce"])
async def test_a_crm_files_the_ticket_under_its_account_with_the_accounts_numbers(
    app, hubspot, salesforce, vendor
):
    fake = hubspot if vendor == "hubspot" else salesforce
    await ready(app)
    async with api_client(app, await api_key(app, Scope.ACCOUNTS_WRITE)) as api:
        made = await api.post(
            "/api/accounts",
            json={"name": "Acme", "channels": ["CSUPPORT"], "domains": ["acme.example"]},
        )
        assert made.status_code == 201, made.text
    account_id = made.json()["id"]
    connector = await connect(app, vendor, fake)
    await customer_asks(app)
    await outbox_settled(app)
    if vendor == "hubspot":
        [company] = hubspot.records["companies"].values()
        assert company.properties["name"] == "Acme"
        assert company.properties["domain"] == "acme.example"
        assert company.properties["ticketbot_account_id"] == f"ticketbot-account-{account_id}"
        [ticket] = hubspot.records["tickets"].values()
        [association] = hubspot.associations(ticket.id)
        assert str(association["toObjectId"]) == company.id
    else:
        [account] = salesforce.records["Account"].values()
        assert account["Name"] == "Acme" and account["Website"] == "acme.example"
        [case] = salesforce.records["Case"].values()
        assert case["AccountId"] == account["Id"]
    # the account again (a resync, as a moved health score owes it): the same record, updated
    await manage(
        app,
        "POST",
        f"/api/connectors/{connector}/resync",
        json={"record": "account", "id": str(account_id)},
    )
    await outbox_settled(app)
    companies = (
        hubspot.records["companies"] if vendor == "hubspot" else salesforce.records["Account"]
    )
    assert len(companies) == 1
    [newest, *_] = await sync_log(app, connector)
    assert newest["action"] == "sync_account" and newest["outcome"] == "sent"


@pytest.mark.parametrize("tracker", ["jira", "linear"])
async def test_an_escalation_survives_refused_credentials_and_an_outage(
    app, emulator, jira, linear, tracker
):
    fake = jira if tracker == "jira" else linear
    await ready(app)
    extra = {"email": jira.email} if tracker == "jira" else {}
    connector = await connect(app, tracker, fake, token="revoked-token", **extra)
    await customer_asks(app)
    await slash(app, f"escalate T-1 {tracker} ENG")
    await wait_until(lambda: sync_log(app, connector), message="the refusal")
    assert (await sync_log(app, connector))[0]["error"].startswith("credentials refused")

    await fake.go_down()
    await manage(app, "PATCH", f"/api/connectors/{connector}", json={"token": fake.token})
    await outbox_settled(app)
    assert (await sync_log(app, connector))[0]["outcome"] == "retrying"
    await fake.come_up()
    for _ in range(2):
        await retry_round(app, minutes=30)
        await outbox_settled(app)
    assert len(fake.issues) == 1
    await wait_until(
        lambda: any("ENG-1" in str(m.get("blocks")) for m in emulator.messages("CTRIAGE")),
        message="the issue on the card",
    )


async def test_a_burst_is_paced_under_the_far_sides_limit_and_a_429_holds_the_rest(app, zendesk):
    """Zendesk's lowest plan takes 200 requests a minute: a burst of tickets goes out ten at
    once, then one every 0.6 s of the (test) clock; a 429 holds the connector's other rows."""
    await ready(app)
    await connect(app, "zendesk", zendesk, email=zendesk.email)
    for n in range(12):
        await customer_asks(app, f"Question {n}", user=f"UCUST{n:02d}")
    await outbox_settled(app)
    assert len(zendesk.tickets) == 10  # the burst; the other two wait for their slots
    await retry_round(app, seconds=2)
    await outbox_settled(app)
    assert len(zendesk.tickets) == 12

    zendesk.rate_limit_next(1, retry_after=60)
    await customer_asks(app, "Another", user="UCUSTLATE")
    await outbox_settled(app)
    await customer_asks(app, "And one more", user="UCUSTLATER")
    await outbox_settled(app)
    assert len(zendesk.tickets) == 12  # the 429, and the row after it held behind it
    await retry_round(app, seconds=61)
    await outbox_settled(app)
    await retry_round(app, seconds=2)
    await outbox_settled(app)
    assert len(zendesk.tickets) == 14
