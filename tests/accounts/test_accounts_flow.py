"""Customer accounts end to end, on both databases: a Slack Connect organisation's tickets land
on its account, leads manage accounts with `/ticket account` and the REST API, and each
account's daily health moves with its support signals, with its reasons, into the owner's
Monday message. Signed Slack requests in, the emulator out, the clock controlled."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from app.accounts.models import Account, AccountHealth
from app.apikeys.scopes import Scope
from app.slack.ids import ActionId
from app.slack_emulator import message_event, next_ts
from app.webhooks.enums import WebhookEventType
from app.webhooks.models import WebhookDelivery
from tests.api.helpers import api_client, api_key
from tests.conftest import make_settings
from tests.csat.test_csat_flow import prompt_in, rate
from tests.sla.test_sla_flow import sweep
from tests.support.server import RunningApp, wait_until
from tests.tickets.helpers import add_member, tickets, watch
from tests.tickets.test_intake import card_in_triage
from tests.tickets.test_triage_card import click

CUSTOMER, AGENT, LEAD, CSM = "UCUSTOMER", "UAGENT", "ULEAD1", "UCSM"


@pytest.fixture
def settings(database_url, emulator):
    # An account under 90 is at risk here, so one bad week is enough to show it.
    return make_settings(database_url, emulator, account_at_risk_below=90)


async def command(sender, line: str, user: str = LEAD, channel: str = "CSUPPORT") -> str:
    answer = await sender.send_command(line, user_id=user, channel_id=channel)
    assert answer.status_code == 200, answer.text
    return json.loads(answer.text)["text"]


async def accounts(app: RunningApp) -> list[Account]:
    async with app.runtime.session_factory() as session:
        return list(await session.scalars(select(Account).order_by(Account.id)))


async def test_a_slack_connect_customers_tickets_land_on_its_account(running_app, sender, emulator):
    emulator.add_team("TGLOBEX", name="Globex Corp", domain="globex")
    await watch(running_app, "CSHARED", is_ext_shared=True)
    await add_member(running_app, CSM)
    for person, words in (("UEXT1", "Webhook retries?"), ("UEXT2", "Invoices are wrong")):
        await sender.send_event(
            message_event("CSHARED", person, words, team="TGLOBEX", user_team="TGLOBEX"),
            is_ext_shared_channel=True,
        )

    # One account for the organisation, named by team.info once Slack answers.
    named = await wait_until(
        lambda: _named(running_app, "Globex Corp"), message="account named by team.info"
    )
    opened = await tickets(running_app)
    assert {t.account_id for t in opened} == {named.id}
    assert {t.account_name for t in opened} == {"Globex Corp"}

    # Leads manage it from Slack; the rest of the team may look, others may not change it.
    shown = await command(sender, "account Globex Corp")
    assert "*Globex Corp*" in shown and "2 open" in shown and "Owner: nobody yet" in shown
    changed = await command(
        sender, f"account set globex corp owner=<@{CSM}|csm> tier=strategic renewal=2027-03-31"
    )
    assert changed == "Changed *Globex Corp*: owner, tier, renewal."
    refused = await command(sender, "account set Globex Corp tier=growth", user=CSM)
    assert refused == "Sorry, only support leads can change accounts."
    assert "Owner: <@UCSM> · Tier: strategic · Renewal: 2027-03-31" in await command(
        sender, "account Globex Corp", user=CSM
    )
    assert "is not a tier" in await command(sender, "account set Globex Corp tier=gold")
    assert "is not on the support team" in await command(
        sender, "account set Globex Corp owner=<@UEXT1|gina>"
    )
    assert "no account named" in await command(sender, "account Initech")

    # The REST API reads it with its scope only.
    async with api_client(running_app, await api_key(running_app, Scope.ACCOUNTS_READ)) as api:
        page = (await api.get("/api/accounts")).json()
        [listed] = page["items"]
        assert (listed["name"], listed["owner"], listed["slack_teams"]) == (
            "Globex Corp",
            CSM,
            ["TGLOBEX"],
        )
        detail = (await api.get(f"/api/accounts/{listed['id']}")).json()
        assert detail["open_tickets"] == 2
        assert {t["number"] for t in detail["recent_tickets"]} == {"T-1", "T-2"}
        assert (await api.get("/api/accounts/999999")).status_code == 404
    async with api_client(running_app, await api_key(running_app, Scope.TICKETS_READ)) as api:
        assert (await api.get("/api/accounts")).status_code == 403


async def _named(app: RunningApp, name: str) -> Account | None:
    found = [a for a in await accounts(app) if a.name == name]
    return found[0] if found else None


async def test_accounts_are_made_and_mapped_through_the_api_and_slack(running_app, sender):
    await watch(running_app, "CACME")
    await add_member(running_app, CSM)
    async with api_client(
        running_app, await api_key(running_app, Scope.ACCOUNTS_READ, Scope.ACCOUNTS_WRITE)
    ) as api:
        made = await api.post(
            "/api/accounts",
            json={"name": "Acme", "owner": CSM, "channels": ["CACME"], "domains": ["Acme.com"]},
        )
        assert made.status_code == 201, made.text
        assert (made.json()["channels"], made.json()["domains"]) == (["CACME"], ["acme.com"])
        again = await api.post("/api/accounts", json={"name": "acme"})
        assert again.status_code == 409 and "already an account" in again.text
        bad = await api.post("/api/accounts", json={"name": "Initech", "domains": ["not a domain"]})
        assert bad.status_code == 422 and "email domain" in bad.text
        bad_owner = await api.post("/api/accounts", json={"name": "Initech", "owner": "bob"})
        assert bad_owner.status_code == 422
        churned = await api.patch(
            f"/api/accounts/{made.json()['id']}", json={"churned": True, "tier": "growth"}
        )
        assert churned.json()["churned_at"] is not None and churned.json()["tier"] == "growth"
        assert (await api.get("/api/accounts")).json()["items"] == []
        back = await api.patch(f"/api/accounts/{made.json()['id']}", json={"churned": False})
        assert back.json()["churned_at"] is None

    # A message in the mapped channel is Acme's; mapping another channel in Slack moves it.
    await sender.send_event(message_event("CACME", CUSTOMER, "Where is my invoice?"))
    [ticket] = await tickets(running_app)
    [acme] = await accounts(running_app)
    assert (ticket.account_id, ticket.account_name) == (acme.id, "Acme")
    assert "now belongs to *Acme*" in await command(sender, "account map Acme <#CSUPPORT|support>")
    assert "This channel has no account" in await command(sender, "account", channel="COTHER")
    assert "*Acme*" in await command(sender, "account")  # run in CSUPPORT, now Acme's
    assert "no longer belongs" in await command(sender, "account unmap Acme <#CSUPPORT|support>")

    # A lead adds, loses and wins back an account from Slack.
    assert "Created the account *Initech*" in await command(sender, "account new Initech")
    assert "already an account" in await command(sender, "account new initech")
    assert "Marked *Initech* as churned" in await command(sender, "account churned Initech")
    assert "Initech" not in await command(sender, "accounts")
    assert "Marked *Initech* as active again" in await command(sender, "account active Initech")
    assert "*Initech*: not scored" in await command(sender, "accounts")


async def test_health_moves_with_breaches_ratings_and_silence_and_reaches_the_owner(
    running_app, sender, emulator, clock
):
    await watch(running_app)
    await add_member(running_app, AGENT)
    await add_member(running_app, CSM)
    async with api_client(
        running_app, await api_key(running_app, Scope.ACCOUNTS_WRITE, Scope.ACCOUNTS_READ)
    ) as api:
        made = await api.post(
            "/api/accounts", json={"name": "Acme", "owner": CSM, "channels": ["CSUPPORT"]}
        )
        account_id = made.json()["id"]
    async with api_client(running_app, await api_key(running_app, Scope.WEBHOOKS_MANAGE)) as api:
        hook = await api.post(
            "/api/webhooks",
            json={
                "url": "https://hooks.example.com/health",
                "events": [WebhookEventType.ACCOUNT_HEALTH_CHANGED.value],
            },
        )
        assert hook.status_code == 201, hook.text

    # Monday 09:00: a customer asks; nobody answers within 4 hours (a breach); the ticket is
    # resolved and the customer rates it 1/5.
    root = next_ts()
    await sender.send_event(message_event("CSUPPORT", CUSTOMER, "Exports fail", ts=root))
    card = await wait_until(lambda: card_in_triage(emulator), message="card")
    clock.advance(hours=5)
    await sweep(running_app)
    assert (await click(sender, card, ActionId.RESOLVE, AGENT)).status_code == 200
    clock.advance(minutes=10)
    await sweep(running_app)
    prompt = await wait_until(lambda: prompt_in(emulator, root), message="CSAT prompt")
    assert (await rate(sender, prompt, 1)).status_code == 200

    # Tuesday 06:00: the morning scoring.
    clock.set(datetime(2026, 1, 6, 6, tzinfo=UTC))
    await sweep(running_app)
    first = await latest_health(running_app, account_id)
    assert first.score == 71
    assert _costs(first) == ["CSAT 1.0/5 over 90 days: -25", "1 SLA breach in 30 days: -4"]
    listed = await command(sender, "accounts at-risk", user=AGENT)
    assert "*Acme*: 71/100" in listed and "<@UCSM>" in listed
    shown = await command(sender, "account Acme", user=AGENT)
    assert "health 71/100" in shown and ":red_circle: at risk" in shown
    assert "Why: CSAT 1.0/5 over 90 days: -25; 1 SLA breach in 30 days: -4" in shown

    # The next Monday the owner hears about their accounts, at-risk ones with their reasons.
    clock.set(datetime(2026, 1, 12, 6, tzinfo=UTC))
    await sweep(running_app)
    owner_dm = await wait_until(
        lambda: [
            call.args["text"]
            for call in emulator.delivered("chat.postMessage")
            if call.args.get("channel") == CSM and "Your accounts this week" in call.args["text"]
        ],
        message="the owner's Monday message",
    )
    assert "*Acme*: 71/100 · *at risk*" in owner_dm[0]
    assert "CSAT 1.0/5 over 90 days: -25" in owner_dm[0]

    # Five quiet weeks on (no message since January 5), and the customer left the channel:
    # the breach has aged out of its 30 days, silence and the departure now cost points.
    clock.set(datetime(2026, 2, 16, 5, tzinfo=UTC))
    left = {"type": "member_left_channel", "user": CUSTOMER, "channel": "CSUPPORT"}
    left |= {"channel_type": "C", "team": "T0001"}
    assert (await sender.send_event(left)).status_code == 200
    clock.set(datetime(2026, 2, 16, 6, tzinfo=UTC))
    await sweep(running_app)
    later = await latest_health(running_app, account_id)
    assert _costs(later) == [
        "CSAT 1.0/5 over 90 days: -25",
        "Last wrote 42 days ago: -3",
        "1 contact left its channels in 30 days: -3",
    ]
    assert later.score == 69

    # Acme is lost: the churn report counts it and shows its score a month before.
    async with api_client(
        running_app, await api_key(running_app, Scope.ACCOUNTS_WRITE, Scope.ACCOUNTS_READ)
    ) as api:
        marked = await api.patch(f"/api/accounts/{account_id}", json={"churned": True})
        assert marked.status_code == 200
        report = await api.get(
            "/api/accounts/churn", params={"from": "2026-01-10T00:00:00Z", "to": "2026-02-17"}
        )
        assert report.status_code == 200, report.text
        churn = report.json()
        assert (churn["active_at_start"], churn["churned"], churn["churn_rate"]) == (1, 1, 1.0)
        assert churn["churned_accounts"] == ["Acme"]
        month = churn["warnings"][0]
        assert (month["days_before"], month["churned_average_score"]) == (30, 71.0)
        assert month["churned_at_risk"] == 1
        bad = await api.get(
            "/api/accounts/churn", params={"from": "2026-03-01", "to": "2026-02-01"}
        )
        assert bad.status_code == 422

    # The webhook heard of the first score (already under the line); 71 -> 69 is no news.
    [told] = [json.loads(row.body) for row in await webhook_rows(running_app)]
    assert told["type"] == "account.health_changed"
    data = told["data"]
    assert (data["account"]["name"], data["previous_score"], data["score"]) == ("Acme", None, 71)
    assert data["at_risk"] is True and "1 SLA breach in 30 days: -4" in data["reasons"]


async def latest_health(app: RunningApp, account_id: int) -> AccountHealth:
    async with app.runtime.session_factory() as session:
        row = await session.scalar(
            select(AccountHealth)
            .where(AccountHealth.account_id == account_id)
            .order_by(AccountHealth.day.desc())
            .limit(1)
        )
    assert row is not None
    return row


def _costs(row: AccountHealth) -> list[str]:
    costs = sorted((r for r in row.reasons if r["points"]), key=lambda r: r["points"])
    return [f"{r['why']}: {r['points']}" for r in costs]


async def webhook_rows(app: RunningApp) -> list[WebhookDelivery]:
    async with app.runtime.session_factory() as session:
        return list(await session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))
