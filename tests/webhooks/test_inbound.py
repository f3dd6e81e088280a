"""`POST /webhooks/inbound/{source}`: signed requests from another system open a ticket (posted
in the source's Slack channel as the requester's message, with its triage card and SLA clocks),
and later requests for the same external id update it; everything else changes nothing."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from sqlalchemy import select

from app.cli import main
from app.slack_emulator import message_event, next_ts
from app.tickets.enums import TicketSource, TicketStatus
from app.tickets.models import Ticket
from app.webhooks.models import InboundSource
from app.workspaces.models import Workspace
from tests.api.helpers import card
from tests.support.server import RunningApp, wait_until
from tests.tickets.helpers import count_tickets, event_kinds, ticket_messages, tickets
from tests.webhooks.helpers import inbound_source, post_inbound, sign, subscribe

REQUEST = {
    "external_id": "ZD-4711",
    "subject": "Exports fail since this morning",
    "description": "Every CSV export ends with a 500 since 08:00 UTC.",
    "requester": {"email": "ana@example.com", "name": "Ana Pérez"},
    "priority": "high",
    "account": "Acme",
}


def channel_posts(emulator, channel: str = "CINBOUND") -> list[dict]:
    return [m for m in emulator.messages(channel) if m.get("thread_ts") in (None, m["ts"])]


async def rooted(app: RunningApp) -> Ticket:
    """The ticket once its channel post is delivered and its ts stored as the root."""

    async def ready() -> Ticket | None:
        [ticket] = await tickets(app)
        return ticket if ticket.root_ts else None

    return await wait_until(ready, message="root ts stored")


async def test_a_new_request_opens_a_ticket_posted_in_the_channel(running_app, emulator):
    secret = await inbound_source(running_app)

    answer = await post_inbound(running_app, "crm", secret, REQUEST)

    assert answer.status_code == 201, answer.text
    assert answer.json() == {"ticket": "T-1", "created": True}
    [ticket] = await tickets(running_app)
    assert ticket.source is TicketSource.INBOUND_WEBHOOK
    assert (ticket.external_source, ticket.external_id) == ("crm", "ZD-4711")
    assert ticket.subject == REQUEST["subject"] and ticket.priority.value == "high"
    assert ticket.account_name == "Acme" and ticket.channel_id == "CINBOUND"
    assert ticket.first_response_due_at is not None  # SLA clocks started
    assert ticket.resolution_due_at is not None
    assert ticket.triage_channel_id == "CTRIAGE"
    [first] = await ticket_messages(running_app, ticket.id)
    assert first.text == REQUEST["description"] and first.author_kind.value == "customer"
    kinds = await event_kinds(running_app, ticket.id)
    assert kinds[0] == "created"

    [post] = await wait_until(lambda: channel_posts(emulator), message="channel post")
    assert "*Exports fail since this morning*" in post["text"]
    assert REQUEST["description"] in post["text"]
    assert "Ana Pérez (ana@example.com) via crm" in post["text"] and "T-1" in post["text"]
    assert post.get("username") in (None, "Ana Pérez (via crm)")
    await wait_until(lambda: card(emulator, 1), message="triage card")
    ticket = await rooted(running_app)
    assert ticket.root_ts == post["ts"]
    assert ticket.permalink and post["ts"].replace(".", "") in ticket.permalink


async def test_replies_in_the_posts_thread_join_the_ticket(running_app, emulator, sender):
    secret = await inbound_source(running_app)
    await post_inbound(running_app, "crm", secret, REQUEST)
    ticket = await rooted(running_app)

    await sender.send_event(
        message_event(
            "CINBOUND", "UCUSTOMER", "Still broken", ts=next_ts(), thread_ts=ticket.root_ts
        )
    )

    texts = [m.text for m in await ticket_messages(running_app, ticket.id)]
    assert texts == [REQUEST["description"], "Still broken"]
    assert await count_tickets(running_app) == 1


async def test_the_same_external_id_updates_the_ticket(running_app, emulator):
    secret = await inbound_source(running_app)
    await post_inbound(running_app, "crm", secret, REQUEST)

    renamed = await post_inbound(
        running_app, "crm", secret, {**REQUEST, "subject": "Exports fail (all formats)"}
    )
    again = await post_inbound(
        running_app, "crm", secret, {**REQUEST, "subject": "Exports fail (all formats)"}
    )
    resolved = await post_inbound(running_app, "crm", secret, {**REQUEST, "status": "resolved"})

    assert renamed.status_code == 200
    assert renamed.json() == {"ticket": "T-1", "created": False}
    assert again.status_code == 200 and resolved.status_code == 200
    [ticket] = await tickets(running_app)
    assert ticket.status is TicketStatus.RESOLVED
    assert ticket.subject == REQUEST["subject"]  # the last request's subject
    kinds = await event_kinds(running_app, ticket.id)
    assert kinds.count("subject_changed") == 2 and "resolved" in kinds

    reopened = await post_inbound(running_app, "crm", secret, {**REQUEST, "status": "open"})
    closed = await post_inbound(running_app, "crm", secret, {**REQUEST, "status": "closed"})
    assert reopened.status_code == 200 and closed.status_code == 200
    [ticket] = await tickets(running_app)
    assert ticket.status is TicketStatus.CLOSED
    assert "reopened" in await event_kinds(running_app, ticket.id)
    assert len(channel_posts(emulator)) <= 1  # updates post nothing new in the channel


async def test_concurrent_retries_open_one_ticket(running_app):
    secret = await inbound_source(running_app)

    async with httpx.AsyncClient(base_url=running_app.url, timeout=20) as client:
        answers = await asyncio.gather(
            *(post_inbound(running_app, "crm", secret, REQUEST, client=client) for _ in range(6))
        )

    assert sorted(a.status_code for a in answers) == [200, 200, 200, 200, 200, 201]
    assert {a.json()["ticket"] for a in answers} == {"T-1"}
    assert await count_tickets(running_app) == 1


async def test_updates_and_new_tickets_send_webhooks(running_app, receiver):
    secret = await inbound_source(running_app, channel=None)
    await subscribe(running_app, receiver.url, "ticket.created", "ticket.resolved")

    await post_inbound(running_app, "crm", secret, REQUEST)
    await post_inbound(running_app, "crm", secret, {**REQUEST, "status": "resolved"})

    await wait_until(lambda: len(receiver.delivered()) == 2, message="two events")
    assert sorted(receiver.delivered_types()) == ["ticket.created", "ticket.resolved"]
    [created] = [
        r.json["data"]["ticket"] for r in receiver.delivered() if "created" in r.json["type"]
    ]
    assert created["source"] == "inbound_webhook" and created["external_id"] == "ZD-4711"
    assert created["channel"] is None


@pytest.mark.parametrize(
    "how",
    ["unsigned", "wrong secret", "tampered body", "stale", "from the future", "bad timestamp"],
)
async def test_bad_signatures_are_401_and_change_nothing(running_app, emulator, how):
    secret = await inbound_source(running_app)
    body = json.dumps(REQUEST).encode()
    now = int(running_app.clock.now().timestamp())
    options: dict = {}
    if how == "unsigned":
        secret_used = None
    elif how == "wrong secret":
        secret_used = secret + "x"
    elif how == "tampered body":
        secret_used, options = secret, {"signature": sign(secret, now, b"{}")}
    elif how == "stale":
        secret_used, options = secret, {"timestamp": now - 301}
    elif how == "from the future":
        secret_used, options = secret, {"timestamp": now + 301}
    else:
        secret_used, options = secret, {"timestamp": "yesterday", "signature": "v1=00"}

    answer = await post_inbound(running_app, "crm", secret_used, body, **options)

    assert answer.status_code == 401, answer.text
    assert "X-Ticketbot" in answer.json()["error"]
    assert await count_tickets(running_app) == 0
    assert emulator.calls("chat.postMessage") == []


async def test_a_signature_within_five_minutes_is_accepted(running_app):
    secret = await inbound_source(running_app)
    now = int(running_app.clock.now().timestamp())

    answer = await post_inbound(running_app, "crm", secret, REQUEST, timestamp=now - 299)

    assert answer.status_code == 201


async def test_another_sources_secret_does_not_open_tickets_here(running_app):
    await inbound_source(running_app, "crm")
    other = await inbound_source(running_app, "billing")

    answer = await post_inbound(running_app, "crm", other, REQUEST)

    assert answer.status_code == 401 and await count_tickets(running_app) == 0


async def test_unknown_source_is_404(running_app):
    secret = await inbound_source(running_app)

    answer = await post_inbound(running_app, "nobody", secret, REQUEST)
    odd = [await post_inbound(running_app, name, secret, REQUEST) for name in ("cr%00m", "x" * 300)]

    assert answer.status_code == 404 and "nobody" in answer.json()["error"]
    assert [a.status_code for a in odd] == [404, 404]


@pytest.mark.parametrize(
    ("body", "mentioned"),
    [
        (b"{not json", "not valid JSON"),
        (b"", "body"),
        (b"[1, 2]", "body"),
        (json.dumps({"subject": "No id"}).encode(), "external_id"),
        (json.dumps({"external_id": "1"}).encode(), "subject"),
        (json.dumps({"external_id": "1", "subject": "   "}).encode(), "subject"),
        (json.dumps({**REQUEST, "priority": "asap"}).encode(), "priority"),
        (json.dumps({**REQUEST, "status": "waiting"}).encode(), "status"),
        (json.dumps({**REQUEST, "requester": {"slack_user_id": "bob"}}).encode(), "slack_user_id"),
        (json.dumps({**REQUEST, "subject": "a\u0000b"}).encode(), "NUL"),
        (json.dumps({**REQUEST, "requester": {"name": "\u0000"}}).encode(), "requester.name"),
    ],
)
async def test_malformed_requests_are_422(running_app, body, mentioned):
    secret = await inbound_source(running_app)

    answer = await post_inbound(running_app, "crm", secret, body)

    assert answer.status_code == 422, answer.text
    assert mentioned in answer.json()["error"]
    assert await count_tickets(running_app) == 0


async def test_an_impossible_update_is_409(running_app):
    secret = await inbound_source(running_app)
    await post_inbound(running_app, "crm", secret, REQUEST)
    async with running_app.runtime.session_factory() as session, session.begin():
        ticket = await session.scalar(select(Ticket))
        ticket.status = TicketStatus.DISCARDED

    answer = await post_inbound(running_app, "crm", secret, {**REQUEST, "status": "open"})

    assert answer.status_code == 409 and "not a request" in answer.json()["error"]


async def test_oversized_bodies_are_413(running_app):
    secret = await inbound_source(running_app)
    body = json.dumps({**REQUEST, "description": "x" * (1024 * 1024)}).encode()

    answer = await post_inbound(running_app, "crm", secret, body)

    assert answer.status_code == 413
    assert await count_tickets(running_app) == 0


async def test_a_requester_on_slack_is_the_tickets_requester(running_app, emulator):
    secret = await inbound_source(running_app)
    request = {**REQUEST, "requester": {"slack_user_id": "UCUSTOMER"}}

    await post_inbound(running_app, "crm", secret, request)

    [ticket] = await tickets(running_app)
    assert ticket.requester_user_id == "UCUSTOMER"
    [post] = await wait_until(lambda: channel_posts(emulator), message="channel post")
    assert "<@UCUSTOMER> via crm" in post["text"]


# -- CLI -----------------------------------------------------------------------------------


@pytest.fixture
def cli(monkeypatch, tmp_path, database_url, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", database_url)

    async def ticketbot(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = await asyncio.to_thread(main, list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return ticketbot


async def test_cli_add_list_remove(running_app, cli):
    code, out, err = await cli("inbound", "add", "Zendesk", "--channel", "CINBOUND")

    assert code == 0, err
    *info, secret = out.strip().splitlines()
    assert secret.startswith("whsec_") and all(secret not in line for line in info)
    assert any("/webhooks/inbound/zendesk" in line and "CINBOUND" in line for line in info)
    assert (await post_inbound(running_app, "zendesk", secret, REQUEST)).status_code == 201

    code, listed, _ = await cli("inbound", "list")
    header, row = listed.strip().splitlines()
    assert header.split() == ["NAME", "PATH", "CHANNEL", "CREATED"]
    assert row.split()[:3] == ["zendesk", "/webhooks/inbound/zendesk", "CINBOUND"]
    assert secret not in listed

    code, out, err = await cli("inbound", "add", "zendesk")
    assert code == 1 and "already" in err
    code, out, err = await cli("inbound", "add", "bad name!")
    assert code == 1 and "cannot name a source" in err
    code, out, err = await cli("inbound", "add", "other", "--channel", "general")
    assert code == 1 and "not a Slack channel id" in err

    code, out, _ = await cli("inbound", "remove", "zendesk")
    assert code == 0 and "Removed inbound source zendesk" in out
    assert (await post_inbound(running_app, "zendesk", secret, REQUEST)).status_code == 404
    assert (await tickets(running_app))[0].external_source == "zendesk"  # its tickets stay
    code, out, _ = await cli("inbound", "list")
    assert "No inbound sources yet" in out
    async with running_app.runtime.session_factory() as session:
        assert (await session.scalars(select(InboundSource))).all() == []


async def test_cli_finds_the_installation_beside_a_customer_team_filed_by_an_older_version(
    running_app, cli
):
    """Before Slack Connect envelopes were read right, a customer's reaction could file their
    team as a workspace row; the CLI still finds the one installation auth.test confirmed."""
    async with running_app.runtime.session_factory() as session, session.begin():
        session.add(Workspace(slack_team_id="TGLOBEX01", name="", next_ticket_number=1))

    code, _, err = await cli("inbound", "add", "crm", "--channel", "CINBOUND")

    assert code == 0, err
    async with running_app.runtime.session_factory() as session:
        source = await session.scalar(select(InboundSource))
        installation = await session.scalar(
            select(Workspace).where(Workspace.id == source.workspace_id)
        )
    assert installation.slack_team_id == "T0001" and installation.bot_user_id == "UBOT"
