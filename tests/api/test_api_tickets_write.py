"""PATCH /api/tickets/{number}: triage through the same services as Slack, so the triage card is
edited in the emulator and the audit trail names the API key."""

from __future__ import annotations

import pytest

from app.slack_emulator import message_event, next_ts
from tests.api.helpers import card, card_text, slack_ticket, writer
from tests.support.server import wait_until
from tests.tickets.helpers import add_member, tickets, watch


async def card_updated(emulator, number: int, words: str) -> None:
    """The card shows `words` (a field's exact text, not a button's), edited in place."""
    await wait_until(lambda: words in card_text(emulator, number), message=f"card shows {words}")
    edits = [c for c in emulator.delivered("chat.update") if c.args["ts"] == card(emulator)["ts"]]
    assert edits, "the card was edited in place (chat.update), not posted again"


async def events(client, number: int = 1) -> list[tuple[str, str, str | None]]:
    """The audit trail's entries made with an API key (others, e.g. CSAT's, are left out)."""
    detail = (await client.get(f"/api/tickets/{number}")).json()
    return [
        (e["kind"], e["actor_kind"], e["actor"])
        for e in detail["events"]
        if e["actor_kind"] == "api_key"
    ]


def key_prefix(client) -> str:
    return "_".join(client.headers["Authorization"].removeprefix("Bearer ").split("_")[:2])


@pytest.fixture
async def ticket(running_app, sender, emulator):
    await watch(running_app)
    for agent in ("UAGENT", "UOTHER"):
        await add_member(running_app, agent)
    return await slack_ticket(running_app, sender, emulator)


async def test_assign_and_unassign(running_app, emulator, ticket):
    async with await writer(running_app) as client:
        assigned = await client.patch("/api/tickets/T-1", json={"assignee": "UAGENT"})
        await card_updated(emulator, 1, "<@UAGENT>")
        unassigned = await client.patch("/api/tickets/1", json={"assignee": None})
        await card_updated(emulator, 1, "_Unassigned_")
        trail = await events(client)

    assert assigned.status_code == 200 and assigned.json()["assignee"] == "UAGENT"
    assert unassigned.status_code == 200 and unassigned.json()["assignee"] is None
    assert trail == [("assigned", "api_key", key_prefix(client))] * 2


async def test_only_team_members_can_be_assigned(running_app, ticket):
    async with await writer(running_app) as client:
        answer = await client.patch("/api/tickets/1", json={"assignee": "UCUSTOMER"})
        trail = await events(client)

    assert answer.status_code == 422
    assert answer.json()["error"] == "UCUSTOMER is not on the support team."  # no Slack markup
    assert trail == []


async def test_priority(running_app, emulator, ticket):
    async with await writer(running_app) as client:
        answer = await client.patch("/api/tickets/1", json={"priority": "urgent"})
        await card_updated(emulator, 1, ":red_circle: Urgent")
        trail = await events(client)

    assert answer.status_code == 200 and answer.json()["priority"] == "urgent"
    assert trail == [("priority_changed", "api_key", key_prefix(client))]
    # The SLA clocks were re-planned for urgent: first response within 30 minutes.
    assert answer.json()["first_response_due_at"] == "2026-01-05T09:30:00Z"


async def test_status_through_the_ticket_life(running_app, emulator, clock, ticket):
    async with await writer(running_app) as client:

        async def move(status: str, label: str) -> dict:
            answer = await client.patch("/api/tickets/1", json={"status": status})
            assert answer.status_code == 200, answer.text
            assert answer.json()["status"] == status
            await card_updated(emulator, 1, label)
            return answer.json()

        waiting = await move("waiting_on_customer", ":hourglass_flowing_sand: Waiting on customer")
        clock.advance(hours=1)
        resumed = await move("open", ":large_blue_circle: Open")
        resolved = await move("resolved", ":white_check_mark: Resolved")
        reopened = await move("open", ":large_blue_circle: Open")
        closed = await move("closed", ":lock: Closed")
        trail = await events(client)

    assert waiting["resolution_due_at"] is None  # the clock pauses while waiting
    assert resumed["resolution_due_at"] == "2026-01-08T10:00:00Z"  # runs on, an hour later
    assert resolved["resolved_at"] == "2026-01-05T10:00:00Z"
    assert reopened["resolved_at"] is None
    assert closed["closed_at"] == "2026-01-05T10:00:00Z"
    prefix = key_prefix(client)
    assert trail == [
        ("status_changed", "api_key", prefix),
        ("status_changed", "api_key", prefix),
        ("resolved", "api_key", prefix),
        ("reopened", "api_key", prefix),
        ("closed", "api_key", prefix),
    ]


async def test_new_ticket_can_be_marked_open(running_app, emulator, ticket):
    async with await writer(running_app) as client:
        answer = await client.patch("/api/tickets/1", json={"status": "open"})
        await card_updated(emulator, 1, ":large_blue_circle: Open")

    assert answer.json()["status"] == "open"


async def test_several_changes_at_once_apply_in_a_workable_order(running_app, emulator, ticket):
    async with await writer(running_app) as client:
        done = await client.patch(
            "/api/tickets/1", json={"status": "resolved", "assignee": "UAGENT", "priority": "high"}
        )
        back = await client.patch("/api/tickets/1", json={"status": "open", "assignee": "UOTHER"})
        await card_updated(emulator, 1, "<@UOTHER>")
        trail = [kind for kind, _, _ in await events(client)]

    assert done.status_code == 200 and back.status_code == 200
    assert trail == ["assigned", "priority_changed", "resolved", "reopened", "assigned"]


@pytest.mark.parametrize(
    "first,then,words",
    [
        ("closed", {"status": "waiting_on_customer"}, "T-1 is closed; cannot set waiting"),
        ("closed", {"status": "resolved"}, "T-1 is closed; cannot resolve it."),
        ("resolved", {"assignee": "UAGENT"}, "T-1 is resolved; cannot assign it."),
        ("resolved", {"priority": "high", "status": "closed"}, "cannot change the priority"),
    ],
)
async def test_an_impossible_transition_is_409_and_changes_nothing(
    running_app, emulator, ticket, first, then, words
):
    async with await writer(running_app) as client:
        assert (await client.patch("/api/tickets/1", json={"status": first})).status_code == 200
        before = await events(client)

        answer = await client.patch("/api/tickets/1", json=then)

        assert answer.status_code == 409
        assert words in answer.json()["error"]
        assert await events(client) == before
        assert (await client.get("/api/tickets/1")).json()["status"] == first


async def test_a_discarded_ticket_cannot_be_reopened(running_app, ticket):
    from sqlalchemy import update

    from app.tickets.models import Ticket

    async with running_app.runtime.session_factory() as session, session.begin():
        await session.execute(update(Ticket).values(status="discarded"))
    async with await writer(running_app) as client:
        answer = await client.patch("/api/tickets/1", json={"status": "open"})

    assert answer.status_code == 409
    assert "not a request" in answer.json()["error"]


@pytest.mark.parametrize(
    "body,field,words",
    [
        ({}, "body", "give at least one of assignee, priority, status"),
        ({"priority": "asap"}, "priority", "Input should be 'low', 'normal', 'high' or 'urgent'"),
        ({"status": "new"}, "status", "'open', 'waiting_on_customer', 'resolved' or 'closed'"),
        ({"status": "discarded"}, "status", "Input should be 'open'"),
        ({"assignee": "bob"}, "assignee", "'bob' is not a Slack user id (like U0123ABCD)"),
        ({"assignee": "U" + "1" * 40}, "assignee", "is not a Slack user id"),
        ({"priority": None}, "body", "priority cannot be null"),
        ({"colour": "red"}, "colour", "Extra inputs are not permitted"),
        ({"assignee": 12}, "assignee", "Input should be a valid string"),
    ],
)
async def test_bad_bodies_are_422_naming_the_field(running_app, ticket, body, field, words):
    async with await writer(running_app) as client:
        answer = await client.patch("/api/tickets/1", json=body)

    assert answer.status_code == 422, answer.text
    error = answer.json()
    assert words in error["error"]
    assert error["details"][0]["field"] == field and error["details"][0]["location"] == "body"


@pytest.mark.parametrize(
    "raw,words",
    [
        (b"{", "body: not valid JSON (Expecting property name"),
        (b"\xff\xfe", "body: not valid JSON"),
        (b"[1, 2]", "body: must be a JSON object"),
        (b"null", "body: must be a JSON object"),
    ],
)
async def test_bodies_that_are_not_a_json_object_are_422(running_app, ticket, raw, words):
    async with await writer(running_app) as client:
        answer = await client.patch(
            "/api/tickets/1", content=raw, headers={"Content-Type": "application/json"}
        )

    assert answer.status_code == 422, answer.text
    assert answer.json()["error"].startswith(f"Invalid request. {words}")


async def test_unknown_ticket_is_404(running_app, ticket):
    async with await writer(running_app) as client:
        answer = await client.patch("/api/tickets/T-404", json={"priority": "low"})

    assert answer.status_code == 404
    assert answer.json() == {"error": "Ticket T-404 does not exist.", "code": "not_found"}


async def test_a_change_in_slack_and_one_from_the_api_land_on_the_same_card(
    running_app, sender, emulator, ticket
):
    await sender.send_event(
        message_event(
            "CSUPPORT", "UCUSTOMER", "More details", ts=next_ts(), thread_ts=ticket.root_ts
        )
    )
    async with await writer(running_app) as client:
        await client.patch("/api/tickets/1", json={"priority": "high", "assignee": "UAGENT"})
        await card_updated(emulator, 1, "<@UAGENT>")

    assert len(await tickets(running_app)) == 1
    assert len([m for m in emulator.messages("CTRIAGE") if m.get("blocks")]) == 1


# -- POST /api/tickets -------------------------------------------------------------------------


async def test_an_api_client_opens_a_ticket_as_the_form_does(running_app, emulator):
    await watch(running_app)
    await add_member(running_app, "UAGENT")
    body = {
        "subject": "Status page: R&D <prod> is down",
        "description": "Every export ends with a 500.",
        "priority": "high",
        "requester": "UAGENT",
        "channel": "CSUPPORT",
        "external_id": "status-4711",
    }

    async with await writer(running_app) as client:
        opened = await client.post("/api/tickets", json=body)
        again = await client.post("/api/tickets", json=body)
        detail = (await client.get("/api/tickets/1")).json()

    assert opened.status_code == 201, opened.text
    assert again.status_code == 200 and again.json()["number"] == 1  # the same request, once
    assert opened.json()["subject"] == "Status page: R&D <prod> is down"
    assert (opened.json()["priority"], opened.json()["source"]) == ("high", "api")
    [ticket] = await tickets(running_app)
    assert ticket.first_response_due_at is not None  # its SLA clocks run
    assert [m["text"] for m in detail["messages"]] == ["Every export ends with a 500."]
    assert [e["kind"] for e in detail["events"]][:1] == ["created"]
    posted = await wait_until(
        lambda: [m for m in emulator.messages("CSUPPORT") if "T-1" in (m.get("text") or "")],
        message="the ticket posted in its channel",
    )
    assert "R&amp;D &lt;prod&gt;" in posted[0]["text"]
    await wait_until(lambda: card(emulator), message="triage card")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "subject"),
        ({"subject": "  "}, "subject"),
        ({"subject": "x", "requester": "alice"}, "requester"),
        ({"subject": "x", "channel": "general"}, "channel"),
        ({"subject": "x", "priority": "asap"}, "priority"),
        ({"subject": "x", "colour": "red"}, "colour"),
    ],
)
async def test_a_bad_new_ticket_is_422_naming_the_field(running_app, body, field):
    async with await writer(running_app) as client:
        answer = await client.post("/api/tickets", json=body)

    assert answer.status_code == 422
    assert field in answer.text
    assert await tickets(running_app) == []


async def test_refusals_are_data_without_slack_markup(running_app, ticket):
    """The REST API names people by id and says what went wrong in a code; Slack (tested with
    the commands) shows the same refusal with a mention."""
    async with await writer(running_app) as client:
        answer = await client.patch("/api/tickets/1", json={"assignee": "U0NOBODY"})

    assert answer.status_code == 422
    body = answer.json()
    assert body["error"] == "U0NOBODY is not on the support team."
    assert body["code"] == "not_on_team"
    assert body["details"] == [{"field": "assignee", "location": "body", "message": body["error"]}]
    assert "<@" not in answer.text
