"""Connectors end to end, on both databases: tickets made in Slack reach each connected
service's fake (written from its API reference) through the outbox; updates find their target;
a replay or a retry after a lost answer makes nothing twice; a far side that is down gets
everything once it is back; refused credentials stop the sending, say so in the sync log and
to the leads; an escalation to Jira or Linear shows on the card and sends the ticket back to
open when the issue is done; tokens are stored encrypted and never logged."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest
from sqlalchemy import select, text

from app.apikeys.scopes import Scope
from app.connectors.models import Connector
from app.slack_emulator import SlackSender, message_event, next_ts
from app.team.enums import Role
from app.tickets.enums import TicketStatus
from tests.api.helpers import api_client, api_key, card_text, triage_thread
from tests.conftest import SIGNING_SECRET, TEAM_ID, make_settings
from tests.support.server import RunningApp, outbox_settled, wait_until
from tests.tickets.helpers import add_member, tickets, watch
from tests.webhooks.helpers import delivery_log, retry_round, subscribe

CUSTOMER, AGENT, LEAD = "UCUSTOMER", "UAGENT", "ULEAD1"


async def connect(app: RunningApp, vendor: str, fake: Any, **extra: Any) -> int:
    async with api_client(app, await api_key(app, Scope.CONNECTORS_MANAGE)) as api:
        answer = await api.post(
            "/api/connectors",
            json={"vendor": vendor, "base_url": fake.base_url, "token": fake.token, **extra},
        )
    assert answer.status_code == 201, answer.text
    assert "token" not in answer.text
    return int(answer.json()["id"])


async def manage(app: RunningApp, method: str, path: str, **kw: Any) -> Any:
    async with api_client(app, await api_key(app, Scope.CONNECTORS_MANAGE)) as api:
        answer = await api.request(method, path, **kw)
    assert answer.status_code < 300, answer.text
    return answer.json() if answer.content else None


async def sync_log(app: RunningApp, connector_id: int) -> list[dict[str, Any]]:
    return (await manage(app, "GET", f"/api/connectors/{connector_id}/log"))["items"]


async def customer_asks(
    app: RunningApp, text: str = "Exports fail since this morning", user: str = CUSTOMER
) -> str:
    root = next_ts()
    async with SlackSender(app.url, SIGNING_SECRET, team_id=TEAM_ID) as sender:
        answer = await sender.send_event(message_event("CSUPPORT", user, text, ts=root))
    assert answer.status_code == 200
    return root


async def slash(app: RunningApp, text: str, user: str = LEAD) -> str:
    async with SlackSender(app.url, SIGNING_SECRET, team_id=TEAM_ID) as sender:
        answer = await sender.send_command(text, user_id=user, channel_id="CSUPPORT")
    assert answer.status_code == 200, answer.text
    return str(answer.json()["text"])


async def ready(app: RunningApp) -> None:
    await watch(app)
    await add_member(app, AGENT, Role.AGENT)


async def test_zendesk_gets_tickets_replies_and_notes_and_its_agents_answer_in_slack(
    app, zendesk, emulator
):
    await ready(app)
    connector = await connect(
        app, "zendesk", zendesk, email=zendesk.email, webhook_secret=zendesk.webhook_secret
    )
    root = await customer_asks(app)
    await wait_until(lambda: zendesk.tickets, message="the Zendesk ticket")
    [made] = zendesk.tickets.values()
    assert made.subject == "T-1: Exports fail since this morning"
    assert made.external_id == "ticketbot-ticket-1"
    assert made.description == "Exports fail since this morning"

    # an agent answers in the thread (a public comment); a lead adds a note (a private one)
    async with SlackSender(app.url, SIGNING_SECRET, team_id=TEAM_ID) as sender:
        await sender.send_event(
            message_event("CSUPPORT", AGENT, "Looking into it", ts=next_ts(), thread_ts=root)
        )
    assert "Added your note" in await slash(app, "note T-1 probably the nightly job")
    await wait_until(lambda: len(made.comments) == 3, message="both comments in Zendesk")
    reply, note = made.comments[1], made.comments[2]
    assert (reply.body, reply.public) == ("Looking into it", True)
    assert (note.body, note.public) == ("probably the nightly job", False)
    await wait_until(lambda: made.status == "open", message="open in Zendesk")

    # a Zendesk agent answers: the customer reads it in their Slack thread, once
    headers, body = zendesk.agent_reply(
        made.id, "Fixed: exports run again", "Dana Support", signed_at=app.clock.now()
    )
    async with api_client(app) as hook:
        first = await hook.post(f"/webhooks/connectors/{connector}", content=body, headers=headers)
        again = await hook.post(f"/webhooks/connectors/{connector}", content=body, headers=headers)
        forged = await hook.post(
            f"/webhooks/connectors/{connector}",
            content=body.replace(b"Fixed", b"Broken"),
            headers=headers,
        )
        unsigned = await hook.post(f"/webhooks/connectors/{connector}", content=body)
    assert first.json() == {"done": "reply posted"}, first.text
    assert again.json() == {"done": "already handled"}
    assert (forged.status_code, unsigned.status_code) == (401, 401)

    def posted() -> list[str]:
        return [m["text"] for m in emulator.thread("CSUPPORT", root) if "Fixed" in m["text"]]

    [shown] = await wait_until(posted, message="the Zendesk reply in Slack")
    assert shown == "*Dana Support*: Fixed: exports run again"

    # resolving here solves it there; a resync sends it again without a second ticket
    assert "resolved" in await slash(app, "resolve T-1")
    await wait_until(lambda: made.status == "solved", message="solved in Zendesk")
    await manage(
        app, "POST", f"/api/connectors/{connector}/resync", json={"record": "ticket", "id": "T-1"}
    )
    await outbox_settled(app)
    assert len(zendesk.creates()) == 1 and len(zendesk.tickets) == 1
    log = await sync_log(app, connector)
    assert {entry["outcome"] for entry in log} == {"sent", "received"}
    assert {entry["remote_id"] for entry in log if entry["action"] == "sync_ticket"} == {
        str(made.id)
    }


async def test_hubspot_down_then_back_loses_and_doubles_nothing(app, hubspot, clock):
    await ready(app)
    connector = await connect(app, "hubspot", hubspot)
    async with app.runtime.session_factory() as session, session.begin():
        await session.execute(text("UPDATE tickets SET account_name = NULL"))
    await hubspot.go_down()
    await customer_asks(app)
    await outbox_settled(app)
    [retrying] = await wait_until(lambda: sync_log(app, connector), message="a retry logged")
    assert retrying["outcome"] == "retrying" and "could not reach" in retrying["error"]

    await hubspot.come_up()
    assert "priority" in (await slash(app, "priority T-1 urgent")).lower()
    for _ in range(3):
        await retry_round(app, minutes=30)
        await outbox_settled(app)
    [made] = hubspot.records["tickets"].values()
    assert made.properties["subject"] == "T-1: Exports fail since this morning"
    assert made.properties["hs_ticket_priority"] == "HIGH"  # urgent, as the mapping says
    assert made.properties["ticketbot_ticket_id"] == "ticketbot-ticket-1"
    assert len(hubspot.creates("tickets")) == 1

    # an answer lost on the way (a timeout after HubSpot made it) is looked for, not made again
    hubspot.fail_next(1, status=504)
    assert "waiting" in (await slash(app, "status T-1 waiting")).lower()
    for _ in range(2):
        await retry_round(app, minutes=30)
        await outbox_settled(app)
    assert len(hubspot.creates("tickets")) == 1
    assert made.properties["hs_pipeline_stage"] == "2"  # waiting on contact


async def test_refused_credentials_stop_sending_tell_the_leads_and_a_new_token_resumes(
    app, salesforce, emulator, caplog
):
    caplog.set_level(logging.DEBUG)
    await ready(app)
    right_token = salesforce.token
    connector = await connect(app, "salesforce", salesforce, token="00Dxx!wrong-session-token")
    await customer_asks(app, "First question")
    await wait_until(lambda: sync_log(app, connector), message="the refusal logged")
    [refused] = await sync_log(app, connector)
    assert refused["outcome"] == "refused" and refused["status_code"] == 401
    assert refused["error"].startswith("credentials refused")
    [state] = (await manage(app, "GET", "/api/connectors"))["items"]
    assert state["state"] == "failing"

    def told() -> list[str]:
        return [m["text"] for m in emulator.messages(LEAD) if "Salesforce refused" in m["text"]]

    [warning] = await wait_until(told, message="the leads told")
    assert "ticketbot connector update salesforce" in warning

    # nothing more goes out with the refused token: no retry storm
    calls_so_far = len(salesforce.requests)
    await customer_asks(app, "Second question", user="UOTHERCUSTOMER")
    await outbox_settled(app)
    await retry_round(app, hours=1)
    await outbox_settled(app)
    assert len(salesforce.requests) == calls_so_far
    assert len(told()) == 1

    # a new token: what waited goes out, and the first ticket is sent again on a resync
    await manage(app, "PATCH", f"/api/connectors/{connector}", json={"token": right_token})
    await manage(
        app, "POST", f"/api/connectors/{connector}/resync", json={"record": "ticket", "id": "T-1"}
    )
    await wait_until(lambda: len(salesforce.records["Case"]) == 2, message="both cases")
    subjects = sorted(case["Subject"] for case in salesforce.records["Case"].values())
    assert subjects == ["T-1: First question", "T-2: Second question"]

    # the token is unreadable in the database and never in a log line
    async with app.runtime.session_factory() as session:
        stored = await session.scalar(select(Connector.token_encrypted))
    assert stored and right_token not in stored and "wrong-session-token" not in stored
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert right_token not in logged and "wrong-session-token" not in logged


@pytest.mark.parametrize("tracker", ["jira", "linear"])
async def test_an_escalation_shows_on_the_card_and_returns_the_ticket_when_done(
    app, emulator, jira, linear, tracker
):
    await ready(app)
    secret = "escalation-webhook-secret"
    fake = jira if tracker == "jira" else linear
    extra = {"email": jira.email} if tracker == "jira" else {}
    connector = await connect(app, tracker, fake, webhook_secret=secret, **extra)
    await customer_asks(app)
    await wait_until(lambda: "Escalate" in card_text(emulator), message="the Escalate button")
    await subscribe(app, "https://hooks.example.com/tickets", "ticket.updated")

    async def updates() -> int:
        return len([d for d in await delivery_log(app) if d.event_type == "ticket.updated"])

    said = await slash(app, f"escalate T-1 {tracker} ENG")
    assert await updates() == 1  # one event for the escalation, not one per step
    assert said == f"T-1 is being escalated to {'Jira' if tracker == 'jira' else 'Linear'} (ENG)."
    [ticket] = await tickets(app)
    assert ticket.status is TicketStatus.WAITING_ON_ENGINEERING
    await wait_until(lambda: "ENG-1" in card_text(emulator), message="the issue on the card")
    assert "Waiting on engineering" in card_text(emulator)
    assert "ticket_escalate" not in card_text(emulator)  # escalated once
    assert "already escalated" in await slash(app, f"escalate T-1 {tracker}")

    if tracker == "jira":
        [issue] = jira.issues.values()
        assert issue.summary == "T-1: Exports fail since this morning"
        assert issue.labels == ["ticketbot-issue-1"]
        jira.transition("ENG-1", "Done")
        headers, body = jira.webhook_delivery("ENG-1", secret)
    else:
        [issue] = linear.issues.values()
        assert issue.title == "T-1: Exports fail since this morning"
        linear.complete("ENG-1")
        headers, body = linear.webhook_delivery("ENG-1", secret, app.clock.now())
    async with api_client(app) as hook:
        done = await hook.post(f"/webhooks/connectors/{connector}", content=body, headers=headers)
        again = await hook.post(f"/webhooks/connectors/{connector}", content=body, headers=headers)
    assert done.json() == {"done": "issue done"}, done.text
    assert again.json() == {"done": "already handled"}
    [ticket] = await tickets(app)
    assert ticket.status is TicketStatus.OPEN
    assert await updates() == 2  # and one for its return
    await wait_until(
        lambda: any("is done" in line for line in triage_thread(emulator)), message="the note"
    )
    await wait_until(lambda: ":white_check_mark: done" in card_text(emulator), message="card")
    creates = jira.creates() if tracker == "jira" else linear.operations("IssueCreate")
    assert len(creates) == 1


async def test_the_command_line_connects_lists_pauses_and_reads_the_log(
    app, jira, database_url, monkeypatch, capsys
):
    from app.cli import main
    from tests.connectors.conftest import KEY

    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("TOKEN_ENCRYPTION_KEYS", KEY)

    async def cli(*args: str) -> int:
        return await asyncio.to_thread(main, ["connector", *args])

    where = ["--base-url", jira.base_url, "--email", jira.email]
    assert await cli("add", "jira", *where, "--token", "bad") == 1
    assert "jira refused the check (auth)" in capsys.readouterr().err
    mapping = json.dumps({"project": "ENG"})
    assert await cli("add", "jira", *where, "--token", jira.token, "--mapping", mapping) == 0
    assert "Connected jira as connector 1 (Jira user" in capsys.readouterr().out
    assert await cli("pause", "jira") == 0
    assert "is paused" in capsys.readouterr().out
    assert await cli("list") == 0
    listed = capsys.readouterr().out
    assert "paused" in listed and jira.token not in listed
    assert await cli("resume", "1") == 0
    assert await cli("log", "jira") == 0
    assert "Nothing synced with jira yet." in capsys.readouterr().out
    assert await cli("add", "nosuch", "--base-url", "https://x.example", "--token", "t") == 1
    assert "unknown connector" in capsys.readouterr().err
    assert await cli("remove", "jira") == 0
    assert "Removed jira" in capsys.readouterr().out


async def test_connectors_need_the_encryption_key_and_a_known_vendor(database_url, emulator, clock):
    app = await RunningApp(make_settings(database_url, emulator), clock).start()
    try:
        async with api_client(app, await api_key(app, Scope.CONNECTORS_MANAGE)) as api:
            no_key = await api.post(
                "/api/connectors",
                json={"vendor": "zendesk", "base_url": "https://acme.zendesk.com", "token": "t"},
            )
            unknown = await api.post(
                "/api/connectors",
                json={"vendor": "freshdesk", "base_url": "https://x.example", "token": "t"},
            )
        async with api_client(app, await api_key(app, Scope.TICKETS_READ)) as api:
            forbidden = await api.get("/api/connectors")
    finally:
        await app.stop()
    assert no_key.status_code == 422 and "TOKEN_ENCRYPTION_KEYS" in no_key.text
    assert unknown.status_code == 422
    assert forbidden.status_code == 403
