"""POST /api/tickets/{number}/notes (internal, in the triage thread only) and body limits."""

from __future__ import annotations

import pytest

from app.apikeys.scopes import Scope
from tests.api.helpers import api_client, api_key, service_tickets, slack_ticket, triage_thread
from tests.api.helpers import writer as writer_client
from tests.support.server import wait_until
from tests.tickets.helpers import ticket_messages, tickets, watch

MIB = 1024 * 1024


async def test_a_note_goes_to_the_triage_thread_and_never_to_the_customer(
    running_app, sender, emulator
):
    await watch(running_app)
    ticket = await slack_ticket(running_app, sender, emulator)
    customer_thread_before = emulator.messages("CSUPPORT")
    async with await writer_client(running_app) as client:
        answer = await client.post(
            "/api/tickets/T-1/notes", json={"text": "  Customer is on the legacy plan.  "}
        )
        detail = (await client.get("/api/tickets/1")).json()
        prefix = "_".join(client.headers["Authorization"].split(" ")[1].split("_")[:2])

    assert answer.status_code == 201, answer.text
    note = answer.json()
    assert (note["internal"], note["author_kind"], note["author"]) == (True, "bot", None)
    assert note["text"] == "Customer is on the legacy plan."
    assert note["ts"].startswith("note-") and note["channel"] == "CTRIAGE"
    [posted] = await wait_until(lambda: triage_thread(emulator, 1), message="note in thread")
    assert "Customer is on the legacy plan." in posted and f"API key `{prefix}`" in posted
    assert emulator.messages("CSUPPORT") == customer_thread_before
    assert all("legacy plan" not in c.args.get("text", "") for c in _customer_calls(emulator))
    assert [m["internal"] for m in detail["messages"]] == [False, True]
    assert ("note_added", "api_key", prefix) in [
        (e["kind"], e["actor_kind"], e["actor"]) for e in detail["events"]
    ]
    stored = await ticket_messages(running_app, ticket.id)
    assert stored[-1].is_internal and stored[-1].ts == note["ts"]


def _customer_calls(emulator):
    return [c for c in emulator.calls("chat.postMessage") if c.args.get("channel") == "CSUPPORT"]


async def test_many_notes_each_get_their_own_id(running_app):
    await service_tickets(running_app, 1, start=running_app.clock.now())
    async with await writer_client(running_app) as client:
        answers = [
            await client.post("/api/tickets/1/notes", json={"text": f"note {n}"}) for n in range(3)
        ]

    assert [a.status_code for a in answers] == [201] * 3
    assert len({a.json()["ts"] for a in answers}) == 3
    # No triage channel: stored all the same, under a channel of its own.
    assert {a.json()["channel"] for a in answers} == {"api"}
    [ticket] = await tickets(running_app)
    assert len(await ticket_messages(running_app, ticket.id)) == 3


@pytest.mark.parametrize(
    "body,words",
    [
        ({"text": ""}, "text: String should have at least 1 character"),
        ({"text": "   "}, "text: String should have at least 1 character"),
        ({"text": "x" * 4001}, "text: String should have at most 4000 characters"),
        ({}, "text: Field required"),
        ({"text": "hi", "to": "customer"}, "to: Extra inputs are not permitted"),
        ({"text": "a\x00b"}, "A note must not contain NUL characters."),
    ],
)
async def test_bad_notes_are_422(running_app, body, words):
    await service_tickets(running_app, 1, start=running_app.clock.now())
    async with await writer_client(running_app) as client:
        answer = await client.post("/api/tickets/1/notes", json=body)

    assert answer.status_code == 422
    assert words in answer.json()["error"]


async def test_a_note_on_an_unknown_ticket_is_404(running_app):
    async with await writer_client(running_app) as client:
        answer = await client.post("/api/tickets/T-3/notes", json={"text": "hello"})

    assert answer.status_code == 404
    assert answer.json() == {"error": "Ticket T-3 does not exist.", "code": "not_found"}


async def test_a_body_over_1_mib_is_413(running_app):
    await service_tickets(running_app, 1, start=running_app.clock.now())
    big = b'{"text": "' + b"x" * (2 * MIB) + b'"}'
    async with await writer_client(running_app) as client:
        declared = await client.post(
            "/api/tickets/1/notes", content=big, headers={"Content-Type": "application/json"}
        )

    assert declared.status_code == 413
    assert declared.json() == {"error": "The request body is larger than the limit of 1 MiB."}


async def test_a_streamed_body_over_1_mib_is_413(running_app):
    await service_tickets(running_app, 1, start=running_app.clock.now())

    async def chunks():  # no Content-Length: sent chunked, counted as it arrives
        yield b'{"text": "'
        for _ in range(32):
            yield b"x" * (64 * 1024)
        yield b'"}'

    async with await writer_client(running_app) as client:
        streamed = await client.patch(
            "/api/tickets/1", content=chunks(), headers={"Content-Type": "application/json"}
        )

    assert "content-length" not in streamed.request.headers
    assert streamed.status_code == 413
    assert streamed.json() == {"error": "The request body is larger than the limit of 1 MiB."}


async def test_a_body_just_under_the_limit_is_read(running_app):
    await service_tickets(running_app, 1, start=running_app.clock.now())
    body = b'{"text": "' + b"x" * (MIB - 100) + b'"}'
    async with await writer_client(running_app) as client:
        answer = await client.post(
            "/api/tickets/1/notes", content=body, headers={"Content-Type": "application/json"}
        )

    assert answer.status_code == 422  # too long for a note, but not too large to read
    assert "at most 4000 characters" in answer.json()["error"]


async def test_the_limit_applies_before_authentication(running_app):
    async with api_client(running_app) as client:
        answer = await client.post("/api/tickets/1/notes", content=b"x" * (2 * MIB))

    assert answer.status_code == 413


async def test_slack_requests_have_their_own_smaller_limit(running_app, sender):
    key = await api_key(running_app, Scope.ADMIN)
    async with api_client(running_app, key) as client:
        answer = await client.post("/slack/events", content=b"x" * (2 * MIB))

    # Refused for its size before its signature is even looked at: SLACK_MAX_BODY_BYTES.
    assert answer.status_code == 413
    assert "512 KiB" in answer.json()["error"]
