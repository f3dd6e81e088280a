"""The Zendesk vendor module against a fake Zendesk account, over real HTTP."""

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
    Action,
    CommentRecord,
    Credentials,
    Failure,
    FarSideError,
    Push,
    Remote,
    TicketRecord,
)
from app.connectors.vendors.zendesk import TRIGGER_BODY_TEMPLATE, TRIGGER_SETUP, Zendesk
from tests.fakes.zendesk import FakeZendesk, render_template

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
ZENDESK = Zendesk()


@pytest.fixture
async def fake() -> AsyncIterator[FakeZendesk]:
    zendesk = FakeZendesk()
    await zendesk.start()
    yield zendesk
    await zendesk.stop()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=2.0) as client:
        yield client


def creds(fake: FakeZendesk, *, token: str | None = None) -> Credentials:
    return Credentials(
        base_url=fake.base_url, token=token or fake.token, extra={"email": fake.email}
    )


def a_ticket(**changes: Any) -> TicketRecord:
    ticket = TicketRecord(
        id=42,
        number=1042,
        subject="Export to CSV fails",
        description="Every export since Monday stops at 50%.",
        status="open",
        priority="high",
        requester_name="Dana Reyes",
        requester_email="dana@customer.example",
        account=None,
        permalink="https://acme.slack.com/archives/C1/p1",
        created_at=NOW,
    )
    return replace(ticket, **changes)


def sync(ticket: TicketRecord, **fields: Any) -> Push:
    return Push(
        action=Action.SYNC_TICKET,
        ours=f"ticketbot-ticket-{ticket.id}",
        mapping=Zendesk.default_mapping,
        ticket=ticket,
        **fields,
    )


def a_comment(**changes: Any) -> CommentRecord:
    comment = CommentRecord(
        id=7, ticket_id=42, body="We are on it.", public=True, author_name="Sam Support"
    )
    return replace(comment, **changes)


def add(comment: CommentRecord, parent: Remote, **fields: Any) -> Push:
    return Push(
        action=Action.ADD_COMMENT,
        ours=f"ticketbot-comment-{comment.id}",
        mapping=Zendesk.default_mapping,
        comment=comment,
        parent=parent,
        **fields,
    )


# -- tickets -----------------------------------------------------------------------------------


async def test_create_sends_the_ticket_with_its_description_requester_and_mapping(
    fake: FakeZendesk, http: httpx.AsyncClient
) -> None:
    remote = await ZENDESK.push(http, creds(fake), sync(a_ticket(status="waiting_on_customer")))

    assert remote.id.isdigit()
    assert remote.key == f"#{remote.id}"
    assert remote.url == f"{fake.base_url}/agent/tickets/{remote.id}"
    assert remote.status == "pending"
    made = fake.ticket(remote.id)
    assert made.subject == "T-1042: Export to CSV fails"
    assert made.description == "Every export since Monday stops at 50%."
    assert made.comments[0].public is True
    assert made.priority == "high"
    assert made.status == "pending"
    assert made.external_id == "ticketbot-ticket-42"
    assert made.tags == ["slack"]
    requester = fake.users[made.requester_id]
    assert (requester.name, requester.email, requester.role) == (
        "Dana Reyes",
        "dana@customer.example",
        "end-user",
    )
    [create] = fake.creates()
    assert create.headers["idempotency-key"].startswith("ticketbot-ticket-42-")


async def test_create_without_a_requester_email_leaves_the_requester_to_zendesk(
    fake: FakeZendesk, http: httpx.AsyncClient
) -> None:
    push = sync(a_ticket(requester_email=None, requester_name=None, description="  "))
    remote = await ZENDESK.push(http, creds(fake), push)

    made = fake.ticket(remote.id)
    assert made.requester_id == fake.agent.id
    assert made.description == "Export to CSV fails"  # the subject stands in for no text
    assert "requester" not in fake.creates()[0].json["ticket"]


async def test_resolved_and_closed_become_solved_never_closed(
    fake: FakeZendesk, http: httpx.AsyncClient
) -> None:
    remote = await ZENDESK.push(http, creds(fake), sync(a_ticket(status="closed")))
    assert fake.ticket(remote.id).status == "solved"

    updated = await ZENDESK.push(
        http, creds(fake), sync(a_ticket(status="resolved"), remote=remote)
    )
    assert updated.status == "solved"


async def test_a_resent_identical_create_gets_zendesks_first_answer(
    fake: FakeZendesk, http: httpx.AsyncClient
) -> None:
    push = sync(a_ticket())
    first = await ZENDESK.push(http, creds(fake), push)
    again = await ZENDESK.push(http, creds(fake), push)

    assert again.id == first.id
    assert len(fake.tickets) == 1
    assert len(fake.creates()) == 2


async def test_update_changes_status_and_priority_only(
    fake: FakeZendesk, http: httpx.AsyncClient
) -> None:
    remote = await ZENDESK.push(http, creds(fake), sync(a_ticket()))
    changed = a_ticket(status="waiting_on_customer", priority="urgent", subject="Renamed")

    updated = await ZENDESK.push(http, creds(fake), sync(changed, remote=remote))

    assert updated.id == remote.id
    assert updated.status == "pending"
    ticket = fake.ticket(remote.id)
    assert (ticket.status, ticket.priority) == ("pending", "urgent")
    assert ticket.subject == "T-1042: Export to CSV fails"
    [update] = fake.updates(remote.id)
    assert update.json == {"ticket": {"priority": "urgent", "status": "pending"}}
    assert len(fake.creates()) == 1


async def test_update_never_sends_new(fake: FakeZendesk, http: httpx.AsyncClient) -> None:
    remote = await ZENDESK.push(http, creds(fake), sync(a_ticket(status="open")))

    await ZENDESK.push(http, creds(fake), sync(a_ticket(status="new"), remote=remote))

    [update] = fake.updates(remote.id)
    assert "status" not in update.json["ticket"]
    assert fake.ticket(remote.id).status == "open"


async def test_look_first_finds_the_earlier_ticket_and_creates_no_second(
    fake: FakeZendesk, http: httpx.AsyncClient
) -> None:
    first = await ZENDESK.push(http, creds(fake), sync(a_ticket()))

    again = await ZENDESK.push(
        http, creds(fake), sync(a_ticket(status="resolved"), look_first=True)
    )

    assert again.id == first.id
    assert len(fake.tickets) == 1
    assert len(fake.creates()) == 1
    assert fake.ticket(first.id).status == "solved"
    lookups = [r for r in fake.requests if r.method == "GET" and "tickets" in r.path]
    assert lookups[0].query == {"external_id": "ticketbot-ticket-42"}


async def test_look_first_creates_when_nothing_was_made(
    fake: FakeZendesk, http: httpx.AsyncClient
) -> None:
    remote = await ZENDESK.push(http, creds(fake), sync(a_ticket(), look_first=True))

    assert fake.ticket(remote.id).external_id == "ticketbot-ticket-42"
    assert len(fake.creates()) == 1


async def test_a_deleted_ticket_is_not_found(fake: FakeZendesk, http: httpx.AsyncClient) -> None:
    remote = await ZENDESK.push(http, creds(fake), sync(a_ticket()))
    fake.delete_ticket(remote.id)

    with pytest.raises(FarSideError) as caught:
        await ZENDESK.push(http, creds(fake), sync(a_ticket(), remote=remote))

    assert caught.value.failure is Failure.NOT_FOUND


async def test_a_closed_ticket_refuses_updates(fake: FakeZendesk, http: httpx.AsyncClient) -> None:
    remote = await ZENDESK.push(http, creds(fake), sync(a_ticket()))
    fake.set_status(remote.id, "closed")

    with pytest.raises(FarSideError) as caught:
        await ZENDESK.push(http, creds(fake), sync(a_ticket(priority="low"), remote=remote))

    assert caught.value.failure is Failure.REFUSED
    assert caught.value.status_code == 422
    assert "closed prevents ticket update" in caught.value.message


# -- comments ----------------------------------------------------------------------------------


async def test_comment_is_added_with_its_visibility_and_our_marker(
    fake: FakeZendesk, http: httpx.AsyncClient
) -> None:
    ticket = await ZENDESK.push(http, creds(fake), sync(a_ticket()))

    reply = await ZENDESK.push(http, creds(fake), add(a_comment(), ticket))
    note = await ZENDESK.push(
        http, creds(fake), add(a_comment(id=8, body="Internal: check logs", public=False), ticket)
    )

    comments = fake.ticket(ticket.id).comments
    assert [(c.body, c.public) for c in comments[1:]] == [
        ("We are on it.", True),
        ("Internal: check logs", False),
    ]
    assert (reply.id, note.id) == (str(comments[1].id), str(comments[2].id))
    assert reply.url == ticket.url
    audit = fake.ticket(ticket.id).audits[1]
    assert audit.custom == {"ticketbot_comment": "ticketbot-comment-7"}


async def test_a_replayed_comment_is_found_not_added_twice(
    fake: FakeZendesk, http: httpx.AsyncClient
) -> None:
    ticket = await ZENDESK.push(http, creds(fake), sync(a_ticket()))
    first = await ZENDESK.push(http, creds(fake), add(a_comment(), ticket))

    again = await ZENDESK.push(http, creds(fake), add(a_comment(), ticket, look_first=True))

    assert again.id == first.id
    assert len(fake.ticket(ticket.id).comments) == 2
    assert len(fake.updates(ticket.id)) == 1


async def test_look_first_walks_every_page_of_audits(
    fake: FakeZendesk, http: httpx.AsyncClient
) -> None:
    ticket = await ZENDESK.push(http, creds(fake), sync(a_ticket()))
    for n in range(230):
        fake.agent_reply(ticket.id, f"reply {n}", "Riley Agent")
    first = await ZENDESK.push(http, creds(fake), add(a_comment(), ticket))

    again = await ZENDESK.push(http, creds(fake), add(a_comment(), ticket, look_first=True))
    other = await ZENDESK.push(
        http, creds(fake), add(a_comment(id=9, body="Later"), ticket, look_first=True)
    )

    assert again.id == first.id
    assert other.id != first.id
    pages = [r for r in fake.requests if r.path.endswith("/audits.json")]
    assert len(pages) == 6  # 232 audits, then 233: three pages of 100, twice
    assert pages[1].query["page[after]"]
    assert fake.ticket(ticket.id).comments[-1].body == "Later"


async def test_a_comment_with_a_stored_remote_is_left_alone(
    fake: FakeZendesk, http: httpx.AsyncClient
) -> None:
    ticket = await ZENDESK.push(http, creds(fake), sync(a_ticket()))
    stored = Remote(id="123", url=ticket.url)

    answer = await ZENDESK.push(http, creds(fake), add(a_comment(), ticket, remote=stored))

    assert answer == stored
    assert fake.updates(ticket.id) == []


# -- failures ----------------------------------------------------------------------------------


async def test_a_bad_token_is_an_auth_failure_that_names_no_secret(
    fake: FakeZendesk, http: httpx.AsyncClient
) -> None:
    bad = "zd-wrong-token-0000"
    with pytest.raises(FarSideError) as caught:
        await ZENDESK.push(http, creds(fake, token=bad), sync(a_ticket()))

    assert caught.value.failure is Failure.AUTH
    assert caught.value.status_code == 401
    assert "Couldn't authenticate you" in caught.value.message
    assert bad not in str(caught.value)
    assert fake.token not in str(caught.value)
    assert fake.tickets == {}


async def test_credentials_without_the_email_are_refused_before_any_call(
    fake: FakeZendesk, http: httpx.AsyncClient
) -> None:
    no_email = Credentials(base_url=fake.base_url, token=fake.token)
    with pytest.raises(FarSideError) as caught:
        await ZENDESK.push(http, no_email, sync(a_ticket()))

    assert caught.value.failure is Failure.AUTH
    assert "email" in caught.value.message
    assert fake.requests == []


async def test_429_is_rate_limited_with_zendesks_retry_after(
    fake: FakeZendesk, http: httpx.AsyncClient
) -> None:
    fake.rate_limit_next(1, retry_after=37)

    with pytest.raises(FarSideError) as caught:
        await ZENDESK.push(http, creds(fake), sync(a_ticket()))

    assert caught.value.failure is Failure.RATE_LIMITED
    assert caught.value.retry_after == 37
    assert fake.tickets == {}
    await ZENDESK.push(http, creds(fake), sync(a_ticket()))
    assert len(fake.tickets) == 1


async def test_5xx_and_down_are_unavailable(fake: FakeZendesk, http: httpx.AsyncClient) -> None:
    fake.fail_next(1, status=503)
    with pytest.raises(FarSideError) as caught:
        await ZENDESK.push(http, creds(fake), sync(a_ticket()))
    assert caught.value.failure is Failure.UNAVAILABLE
    assert caught.value.status_code == 503

    await fake.go_down()
    with pytest.raises(FarSideError) as down:
        await ZENDESK.push(http, creds(fake), sync(a_ticket()))
    assert down.value.failure is Failure.UNAVAILABLE

    await fake.come_up()
    remote = await ZENDESK.push(http, creds(fake), sync(a_ticket()))
    assert fake.ticket(remote.id).external_id == "ticketbot-ticket-42"


# -- check -------------------------------------------------------------------------------------


async def test_check_names_the_agent(fake: FakeZendesk, http: httpx.AsyncClient) -> None:
    line = await ZENDESK.check(http, creds(fake))

    assert line == "Zendesk user Ticketbot Integration (ticketbot@acme.example, admin)"


async def test_check_refuses_a_bad_token(fake: FakeZendesk, http: httpx.AsyncClient) -> None:
    with pytest.raises(FarSideError) as caught:
        await ZENDESK.check(http, creds(fake, token="nope"))
    assert caught.value.failure is Failure.AUTH


async def test_check_refuses_the_anonymous_user(fake: FakeZendesk, http: httpx.AsyncClient) -> None:
    fake.anonymous_for_bad_credentials = True

    with pytest.raises(FarSideError) as caught:
        await ZENDESK.check(http, creds(fake, token="nope"))

    assert caught.value.failure is Failure.AUTH
    assert "anonymous" in caught.value.message
    assert "nope" not in caught.value.message


# -- the fake is as strict as Zendesk ----------------------------------------------------------


async def test_the_fake_refuses_what_zendesk_refuses(
    fake: FakeZendesk, http: httpx.AsyncClient
) -> None:
    url = f"{fake.base_url}/api/v2/tickets.json"
    basic = base64.b64encode(f"{fake.email}/token:{fake.token}".encode()).decode()
    auth = {"Authorization": f"Basic {basic}"}

    anonymous = await http.post(url, json={"ticket": {"comment": {"body": "hi"}}})
    assert (anonymous.status_code, anonymous.json()) == (
        401,
        {"error": "Couldn't authenticate you"},
    )

    no_comment = await http.post(url, headers=auth, json={"ticket": {"subject": "x"}})
    assert no_comment.status_code == 422
    assert no_comment.json()["error"] == "RecordInvalid"

    bad_status = await http.post(
        url, headers=auth, json={"ticket": {"comment": {"body": "x"}, "status": "waiting"}}
    )
    assert bad_status.status_code == 422

    me = await http.get(f"{fake.base_url}/api/v2/users/me.json")
    assert me.json()["user"]["id"] is None
    assert fake.tickets == {}


# -- webhooks ----------------------------------------------------------------------------------


async def test_verify_accepts_zendesks_signature_and_nothing_else(
    fake: FakeZendesk, http: httpx.AsyncClient
) -> None:
    ticket = await ZENDESK.push(http, creds(fake), sync(a_ticket()))
    headers, body = fake.agent_reply(ticket.id, "Fixed in 4.2.1", "Riley Agent", signed_at=NOW)
    secret = fake.webhook_secret

    assert ZENDESK.verify(headers, body, secret, NOW + timedelta(seconds=30))
    assert not ZENDESK.verify(headers, body, "another-secret", NOW)
    assert not ZENDESK.verify(headers, body + b" ", secret, NOW)
    wrong = {**headers, "x-zendesk-webhook-signature": base64.b64encode(b"x" * 32).decode()}
    assert not ZENDESK.verify(wrong, body, secret, NOW)
    for missing in ("x-zendesk-webhook-signature", "x-zendesk-webhook-signature-timestamp"):
        assert not ZENDESK.verify(
            {k: v for k, v in headers.items() if k != missing}, body, secret, NOW
        )
    assert not ZENDESK.verify(headers, body, secret, NOW + timedelta(minutes=6))
    assert not ZENDESK.verify(headers, body, secret, NOW - timedelta(minutes=6))
    # The timestamp is signed too: moving it breaks the signature.
    moved = {**headers, "x-zendesk-webhook-signature-timestamp": "2026-03-02T09:31:00Z"}
    assert not ZENDESK.verify(moved, body, secret, NOW)


async def test_read_turns_an_agent_reply_into_inbound(
    fake: FakeZendesk, http: httpx.AsyncClient
) -> None:
    ticket = await ZENDESK.push(http, creds(fake), sync(a_ticket()))
    text = 'Try "Export all"\nthen reload \\ refresh.'
    _, body = fake.agent_reply(ticket.id, text, "Riley Agent")

    inbound = ZENDESK.read(body)

    comment = fake.ticket(ticket.id).comments[-1]
    assert inbound is not None
    assert inbound.remote_id == ticket.id
    assert inbound.event_id == inbound.comment_id == str(comment.id)
    assert inbound.public_reply == text
    assert inbound.reply_author == "Riley Agent"
    assert inbound.status == "open"


def test_read_drops_what_is_not_an_agent_reply_on_our_ticket() -> None:
    values = {
        "ticket.id": "5",
        "ticket.external_id": "ticketbot-ticket-5",
        "ticket.status": "Open",
        "ticket.latest_public_comment.id": "9000",
        "ticket.latest_public_comment.author.name": "Riley Agent",
        "ticket.latest_public_comment.value": "Hello",
    }
    assert ZENDESK.read(render_template(TRIGGER_BODY_TEMPLATE, values).encode()) is not None
    for blank in ("ticket.latest_public_comment.id", "ticket.external_id", "ticket.id"):
        body = render_template(TRIGGER_BODY_TEMPLATE, {**values, blank: ""})
        assert ZENDESK.read(body.encode()) is None, blank
    assert ZENDESK.read(b"not json") is None
    assert ZENDESK.read(b'["a list"]') is None


def test_the_trigger_template_is_json_and_in_the_setup_recipe() -> None:
    keys = json.loads(TRIGGER_BODY_TEMPLATE)
    assert keys["ticket_id"] == "{{ticket.id}}"
    assert keys["comment_id"] == "{{ticket.latest_public_comment.id}}"
    assert TRIGGER_BODY_TEMPLATE in TRIGGER_SETUP
