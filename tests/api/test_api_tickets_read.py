"""GET /api/tickets (filters, cursor pages, sort) and GET /api/tickets/{number}."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from app.apikeys.scopes import Scope
from app.tickets.actors import Actor
from app.tickets.enums import TicketSource
from app.tickets.models import Ticket
from app.workspaces.models import Workspace
from app.workspaces.service import ensure_workspace
from tests.api.helpers import CUSTOMER, api_client, api_key, reader, service_tickets, slack_ticket
from tests.support.tickets import insert_ticket_row
from tests.tickets.helpers import watch

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


async def edit(app, number: int, **values: object) -> None:
    async with app.runtime.session_factory() as session, session.begin():
        await session.execute(update(Ticket).where(Ticket.number == number).values(**values))


async def numbers(client, **params: object) -> list[int]:
    answer = await client.get("/api/tickets", params=params)
    assert answer.status_code == 200, answer.text
    return [item["number"] for item in answer.json()["items"]]


async def all_pages(client, **params: object) -> list[list[int]]:
    pages, cursor = [], None
    while True:
        answer = await client.get("/api/tickets", params={**params, "cursor": cursor or []})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        pages.append([item["number"] for item in body["items"]])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages


async def test_newest_first_in_pages_of_limit(running_app):
    await service_tickets(running_app, 5, start=START)
    async with await reader(running_app) as client:
        assert await all_pages(client, limit=2) == [[5, 4], [3, 2], [1]]
        assert await all_pages(client, limit=2, sort="created_at") == [[1, 2], [3, 4], [5]]
        assert await all_pages(client) == [[5, 4, 3, 2, 1]]


async def test_tickets_created_at_the_same_moment_page_by_id(running_app):
    await service_tickets(running_app, 5, start=START, step=timedelta(0))
    async with await reader(running_app) as client:
        assert await all_pages(client, limit=2) == [[5, 4], [3, 2], [1]]
        assert await all_pages(client, limit=3, sort="created_at") == [[1, 2, 3], [4, 5]]


async def test_a_new_ticket_does_not_shift_the_next_page(running_app):
    await service_tickets(running_app, 4, start=START)
    async with await reader(running_app) as client:
        first = (await client.get("/api/tickets", params={"limit": 2})).json()
        await service_tickets(running_app, 1, start=START + timedelta(hours=1))
        second = await client.get(
            "/api/tickets", params={"limit": 2, "cursor": first["next_cursor"]}
        )

    assert [t["number"] for t in first["items"]] == [4, 3]
    assert [t["number"] for t in second.json()["items"]] == [2, 1]


async def test_sort_by_last_update(running_app):
    await service_tickets(running_app, 3, start=START)
    await edit(running_app, 1, updated_at=START + timedelta(hours=2))
    async with await reader(running_app) as client:
        assert await numbers(client, sort="-updated_at") == [1, 3, 2]
        assert await all_pages(client, sort="updated_at", limit=1) == [[2], [3], [1]]


async def test_filters(running_app):
    await service_tickets(running_app, 6, start=START, step=timedelta(hours=1))
    await edit(running_app, 1, status="open", assignee_user_id="UAGENT", priority="high")
    await edit(running_app, 2, status="waiting_on_customer", channel_id="CSUPPORT")
    await edit(running_app, 3, status="resolved", account_name="Acme Corp", sla_state="breached")
    await edit(running_app, 4, status="discarded", requester_user_id="UOTHER")
    await edit(running_app, 5, requester_user_id="UOTHER", sla_state="at_risk")
    async with await reader(running_app) as client:
        assert await numbers(client) == [6, 5, 3, 2, 1]  # discarded left out
        assert await numbers(client, status=["open", "waiting_on_customer"]) == [2, 1]
        assert await numbers(client, status="discarded") == [4]
        assert await numbers(client, priority="high") == [1]
        assert await numbers(client, priority=["high", "normal"]) == [6, 5, 3, 2, 1]
        assert await numbers(client, assignee="UAGENT") == [1]
        assert await numbers(client, assignee="none") == [6, 5, 3, 2]
        assert await numbers(client, channel="CSUPPORT") == [2]
        assert await numbers(client, requester="UOTHER") == [5]
        assert await numbers(client, account="acme corp") == [3]
        assert await numbers(client, sla_state="breached") == [3]
        assert await numbers(client, sla_state="at_risk", requester="UOTHER") == [5]
        window = {"created_from": "2026-01-05T10:00:00Z", "created_to": "2026-01-05T12:00:00Z"}
        assert await numbers(client, **window) == [3, 2]
        assert await numbers(client, created_from="2026-01-05T12:30:00+02:00") == [6, 5, 3]
        assert await numbers(client, created_from="2026-01-05T13:00:00") == [6, 5]  # naive: UTC


async def test_another_workspaces_tickets_are_not_seen(running_app):
    await service_tickets(running_app, 1, start=START)
    async with running_app.runtime.session_factory() as session, session.begin():
        other = await ensure_workspace(session=session, slack_team_id="T0OTHER")
        for _ in range(2):
            await insert_ticket_row(
                session=session,
                workspace_id=other.id,
                source=TicketSource.API,
                subject="Not yours",
                requester_user_id=CUSTOMER,
                channel_id=None,
                root_ts=None,
                now=START,
                actor=Actor.system(),
            )
    async with await reader(running_app) as client:
        listed = await client.get("/api/tickets")
        second = await client.get("/api/tickets/T-2")

    assert [t["subject"] for t in listed.json()["items"]] == ["Ticket 1"]
    assert second.status_code == 404


@pytest.mark.parametrize(
    "params,field,words",
    [
        ({"status": "pending"}, "status[0]", "Input should be 'new'"),
        ({"priority": "asap"}, "priority[0]", "Input should be 'low'"),
        ({"limit": 0}, "limit", "greater than or equal to 1"),
        ({"limit": 201}, "limit", "less than or equal to 200"),
        ({"limit": "many"}, "limit", "valid integer"),
        ({"sort": "subject"}, "sort", "Input should be 'created_at'"),
        ({"sla_state": "late"}, "sla_state", "Input should be 'on_track'"),
        ({"created_from": "last tuesday"}, "created_from", "valid datetime"),
    ],
)
async def test_bad_filter_values_are_422_naming_the_field(running_app, params, field, words):
    async with await reader(running_app) as client:
        answer = await client.get("/api/tickets", params=params)

    assert answer.status_code == 422
    body = answer.json()
    assert body["error"].startswith(f"Invalid request. {field}: ")
    assert words in body["error"]
    assert body["details"][0]["field"] == field
    assert body["details"][0]["location"] == "query"


@pytest.mark.parametrize(
    "params,words",
    [
        ({"cursor": "not a cursor"}, "cursor is not valid"),
        ({"cursor": "eyJzIjoxfQ"}, "cursor is not valid"),  # {"s":1}
        ({"created_from": "2026-02-01", "created_to": "2026-01-01"}, "created_from must not"),
        ({"channel": "C\x00"}, "channel must not contain NUL"),
    ],
)
async def test_bad_cursors_and_ranges_are_422(running_app, params, words):
    async with await reader(running_app) as client:
        answer = await client.get("/api/tickets", params=params)

    assert answer.status_code == 422
    assert words in answer.json()["error"]


async def test_a_cursor_only_continues_its_own_sort(running_app):
    await service_tickets(running_app, 3, start=START)
    async with await reader(running_app) as client:
        cursor = (await client.get("/api/tickets", params={"limit": 1})).json()["next_cursor"]
        answer = await client.get("/api/tickets", params={"cursor": cursor, "sort": "created_at"})

    assert answer.status_code == 422
    assert answer.json()["error"] == (
        "cursor belongs to sort=-created_at; pass the same sort as that page."
    )


async def test_one_ticket_with_its_conversation_and_audit_trail(running_app, sender, emulator):
    await watch(running_app)
    await slack_ticket(running_app, sender, emulator, "Exports fail since this morning")
    async with await reader(running_app) as client:
        by_number = await client.get("/api/tickets/1")
        by_name = await client.get("/api/tickets/T-1")
        lower = await client.get("/api/tickets/t-1")

    assert by_number.status_code == by_name.status_code == lower.status_code == 200
    ticket = by_number.json()
    assert ticket == by_name.json() == lower.json()
    assert (ticket["display_number"], ticket["subject"], ticket["status"]) == (
        "T-1",
        "Exports fail since this morning",
        "new",
    )
    assert (ticket["requester"], ticket["channel"], ticket["triage_channel"]) == (
        CUSTOMER,
        "CSUPPORT",
        "CTRIAGE",
    )
    assert ticket["created_at"] == "2026-01-05T09:00:00Z"
    [message] = ticket["messages"]
    assert (message["author"], message["author_kind"], message["internal"]) == (
        CUSTOMER,
        "customer",
        False,
    )
    assert [e["kind"] for e in ticket["events"]] == ["created", "message_added"]
    assert ticket["events"][0]["actor_kind"] in ("user", "system")


@pytest.mark.parametrize(
    "number,status,words",
    [
        ("99", 404, "Ticket T-99 does not exist."),
        ("T-0", 422, "is not a ticket number"),
        ("abc", 422, "'abc' is not a ticket number; use a number like 12 or T-12."),
        ("12345678901234567890", 422, "is not a ticket number"),
    ],
)
async def test_unknown_or_malformed_numbers(running_app, number, status, words):
    await service_tickets(running_app, 1, start=START)
    async with await reader(running_app) as client:
        answer = await client.get(f"/api/tickets/{number}")

    assert answer.status_code == status
    assert words in answer.json()["error"]


async def test_unknown_endpoints_answer_in_the_same_shape(running_app):
    key = await api_key(running_app, Scope.ADMIN)
    async with api_client(running_app, key) as client:
        missing = await client.get("/api/nothing-here")
        wrong_method = await client.delete("/api/tickets/1")

    assert missing.status_code == 404 and missing.json() == {"error": "There is no such endpoint."}
    assert wrong_method.status_code == 405 and "error" in wrong_method.json()


async def test_the_workspace_is_the_bots_own(running_app):
    async with running_app.runtime.session_factory() as session:
        [workspace] = (await session.scalars(select(Workspace))).all()
    assert workspace.slack_team_id == running_app.runtime.identity.team_id
