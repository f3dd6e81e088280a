"""SLA over REST, through the running app on SQLite and PostgreSQL: a ticket's clocks (running,
paused, met, breached), the tickets at risk, SLA policies and business hours.

The clock starts on Monday 2026-01-05 09:00 UTC; until set otherwise business hours are Monday
to Friday, 09:00-17:00 UTC, and a normal ticket has 4 h to a first response and 24 business
hours to a resolution."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, update

from app.apikeys.scopes import Scope
from app.flows.lifecycle import record_agent_reply
from app.sla.models import BusinessHours, SlaPolicy
from app.sla.tracking import start_ticket_clocks
from app.tickets.actors import Actor
from app.tickets.enums import Priority, TicketSource
from app.tickets.models import Ticket
from app.tickets.service import get_ticket
from app.workspaces.models import Workspace
from tests.api.helpers import CUSTOMER, api_client, api_key, reader, writer
from tests.support.tickets import insert_ticket_row

AGENT = "UAGENT"


async def admin(app):
    return api_client(app, await api_key(app, Scope.ADMIN, name="admin"))


def prefix_of(client) -> str:
    """How the audit trail names the client's key: `tb_<prefix>`."""
    mark, prefix, _secret = client.headers["authorization"].removeprefix("Bearer ").split("_", 2)
    return f"{mark}_{prefix}"


async def edit(app, number: int, **values: object) -> None:
    async with app.runtime.session_factory() as session, session.begin():
        await session.execute(update(Ticket).where(Ticket.number == number).values(**values))


async def agent_reply(app, ticket: Ticket) -> None:
    async with app.runtime.session_factory() as session, session.begin():
        stored = await get_ticket(session=session, ticket_id=ticket.id, for_update=True)
        await record_agent_reply(
            session=session, ticket=stored, agent_user_id=AGENT, now=app.clock.now()
        )


async def service_tickets(
    app, count: int, *, start: datetime, step: timedelta = timedelta(minutes=1), **fields
) -> list[Ticket]:
    """Tickets opened through the service with their SLA clocks started, as intake starts them."""
    opened = []
    async with app.runtime.session_factory() as session, session.begin():
        workspace_id = await session.scalar(select(Workspace.id))
        for index in range(count):
            now = start + step * index
            ticket = await insert_ticket_row(
                session=session,
                workspace_id=workspace_id,
                source=TicketSource.API,
                subject=f"Ticket {index + 1}",
                requester_user_id=CUSTOMER,
                channel_id=None,
                root_ts=None,
                now=now,
                actor=Actor.system(),
                priority=Priority(str(fields.get("priority", Priority.NORMAL))),
            )
            await start_ticket_clocks(session=session, ticket=ticket, now=now)
            opened.append(ticket)
    return opened


async def sweep(app) -> None:
    await app.runtime.timer_sweeper.sweep_until_idle()


async def sla_of(client, number: int = 1) -> dict:
    answer = await client.get(f"/api/tickets/T-{number}/sla")
    assert answer.status_code == 200, answer.text
    return answer.json()


def clock_of(body: dict, target: str) -> dict:
    return next(t for t in body["targets"] if t["target"] == target)


# -- a ticket's clocks -------------------------------------------------------------------------


async def test_a_new_tickets_clocks_count_business_time(running_app, clock):
    await service_tickets(running_app, 1, start=clock.now())
    clock.advance(hours=1)  # Monday 10:00
    async with await reader(running_app) as client:
        body = await sla_of(client)
        clock.advance(hours=8)  # Monday 18:00, after hours
        evening = await sla_of(client)
        clock.advance(hours=14)  # Tuesday 08:00, before hours
        morning = await sla_of(client)

    assert (body["display_number"], body["priority"], body["sla_state"]) == (
        "T-1",
        "normal",
        "on_track",
    )
    assert body["business_hours"] is True and body["as_of"] == "2026-01-05T10:00:00Z"
    assert [t["target"] for t in body["targets"]] == [
        "first_response",
        "next_response",
        "resolution",
    ]
    assert clock_of(body, "first_response") == {
        "target": "first_response",
        "status": "running",
        "started_at": "2026-01-05T09:00:00Z",
        "due_at": "2026-01-05T13:00:00Z",
        "remaining_seconds": 3 * 3600,
        "remaining": "3h",
        "overdue_seconds": None,
        "overdue": None,
        "paused": False,
        "paused_at": None,
        "warned_at": None,
        "met_at": None,
        "breached_at": None,
    }
    resolution = clock_of(body, "resolution")
    assert (resolution["status"], resolution["due_at"], resolution["remaining"]) == (
        "running",
        "2026-01-07T17:00:00Z",
        "23h",
    )
    assert clock_of(body, "next_response")["status"] == "not_started"
    assert [(e["target"], e["kind"], e["reason"]) for e in body["ledger"]] == [
        ("first_response", "started", "ticket opened"),
        ("resolution", "started", "ticket opened"),
    ]
    # Business time: nothing is used up between 17:00 and 09:00.
    assert clock_of(evening, "resolution")["remaining_seconds"] == 16 * 3600
    assert clock_of(morning, "resolution")["remaining_seconds"] == 16 * 3600
    # The first response fell due at 13:00: 4 business hours overdue by 17:00, and still 4 h.
    assert clock_of(morning, "first_response")["status"] == "breached"
    assert clock_of(morning, "first_response")["overdue_seconds"] == 4 * 3600
    assert clock_of(morning, "first_response")["breached_at"] == "2026-01-05T13:00:00Z"


async def test_waiting_on_the_customer_pauses_the_resolution_clock_with_time_left_frozen(
    running_app, clock
):
    await service_tickets(running_app, 1, start=clock.now())
    clock.advance(hours=1)  # Monday 10:00: 23 business hours left
    async with await writer(running_app) as client:
        waiting = await client.patch("/api/tickets/T-1", json={"status": "waiting_on_customer"})
        assert waiting.status_code == 200, waiting.text
        clock.advance(hours=5)  # Monday 15:00
        paused = await sla_of(client)
        clock.advance(days=1)  # Tuesday 15:00
        still_paused = await sla_of(client)
        resumed = await client.patch("/api/tickets/T-1", json={"status": "open"})
        assert resumed.status_code == 200, resumed.text
        running = await sla_of(client)

    resolution = clock_of(paused, "resolution")
    assert resolution == {
        "target": "resolution",
        "status": "paused",
        "started_at": "2026-01-05T09:00:00Z",
        "due_at": None,
        "remaining_seconds": 23 * 3600,
        "remaining": "23h",
        "overdue_seconds": None,
        "overdue": None,
        "paused": True,
        "paused_at": "2026-01-05T10:00:00Z",
        "warned_at": None,
        "met_at": None,
        "breached_at": None,
    }
    assert paused["status"] == "waiting_on_customer"
    assert clock_of(still_paused, "resolution") == resolution
    # Only the resolution clock pauses: the first response still runs (and is overdue).
    assert clock_of(still_paused, "first_response")["status"] == "breached"
    # Resumed on Tuesday 15:00 with 23 h left: Tue 2 h, Wed 8 h, Thu 8 h, Fri 09:00-14:00.
    after = clock_of(running, "resolution")
    assert (after["status"], after["paused"], after["due_at"], after["remaining_seconds"]) == (
        "running",
        False,
        "2026-01-09T14:00:00Z",
        23 * 3600,
    )
    assert [e["kind"] for e in running["ledger"] if e["target"] == "resolution"] == [
        "started",
        "paused",
        "resumed",
    ]


async def test_met_and_breached_targets_with_their_times(running_app, clock):
    first, second = await service_tickets(running_app, 2, start=clock.now(), step=timedelta(0))
    clock.advance(hours=1)  # 10:00
    await agent_reply(running_app, first)
    clock.advance(hours=4)  # 14:00: the second ticket's first response (due 13:00) breached
    await sweep(running_app)
    async with await writer(running_app) as client:
        overdue = await sla_of(client, 2)
        clock.advance(minutes=30)  # 14:30: answered late
        await agent_reply(running_app, second)
        late = await sla_of(client, 2)
        resolved = await client.patch("/api/tickets/T-1", json={"status": "resolved"})
        assert resolved.status_code == 200, resolved.text
        done = await sla_of(client, 1)

    assert overdue["sla_state"] == "breached"
    assert {
        key: clock_of(overdue, "first_response")[key]
        for key in ("status", "due_at", "overdue_seconds", "overdue", "warned_at", "breached_at")
    } == {
        "status": "breached",
        "due_at": "2026-01-05T13:00:00Z",
        "overdue_seconds": 3600,
        "overdue": "1h",
        "warned_at": "2026-01-05T14:00:00Z",  # the 12:00 warning, swept late with the breach
        "breached_at": "2026-01-05T14:00:00Z",
    }
    met_late = clock_of(late, "first_response")
    assert (met_late["status"], met_late["met_at"], met_late["breached_at"]) == (
        "breached",
        "2026-01-05T14:30:00Z",
        "2026-01-05T14:00:00Z",
    )
    assert met_late["overdue_seconds"] is None and met_late["remaining_seconds"] is None
    assert [e["kind"] for e in late["ledger"] if e["target"] == "first_response"] == [
        "started",
        "warned",
        "breached",
        "met_late",
    ]
    answered = clock_of(done, "first_response")
    assert (answered["status"], answered["met_at"], answered["due_at"]) == (
        "met",
        "2026-01-05T10:00:00Z",
        "2026-01-05T13:00:00Z",
    )
    assert (clock_of(done, "resolution")["status"], clock_of(done, "resolution")["met_at"]) == (
        "met",
        "2026-01-05T14:30:00Z",
    )
    assert done["sla_state"] == "on_track"


async def test_a_ticket_resolved_while_waiting_met_its_resolution_target(running_app, clock):
    await service_tickets(running_app, 1, start=clock.now())
    async with await writer(running_app) as client:
        await client.patch("/api/tickets/T-1", json={"status": "waiting_on_customer"})
        clock.advance(hours=2)
        await client.patch("/api/tickets/T-1", json={"status": "resolved"})
        body = await sla_of(client)

    resolution = clock_of(body, "resolution")
    assert (resolution["status"], resolution["paused"], resolution["met_at"]) == (
        "met",
        False,
        "2026-01-05T11:00:00Z",
    )


@pytest.mark.parametrize(
    "number,status,words",
    [
        ("7", 404, "Ticket T-7 does not exist."),
        ("T-0", 422, "is not a ticket number"),
        ("abc", 422, "is not a ticket number"),
    ],
)
async def test_unknown_or_malformed_ticket_numbers(running_app, clock, number, status, words):
    await service_tickets(running_app, 1, start=clock.now())
    async with await reader(running_app) as client:
        answer = await client.get(f"/api/tickets/{number}/sla")

    assert answer.status_code == status
    assert words in answer.json()["error"]


# -- tickets at risk ---------------------------------------------------------------------------


async def test_tickets_at_risk_nearest_due_first_in_pages(running_app, clock):
    opened = clock.now()  # Monday 09:00
    await service_tickets(running_app, 6, start=opened, step=timedelta(0))
    await service_tickets(running_app, 1, start=opened, priority="urgent")  # T-7, around the clock
    await edit(
        running_app, 1, sla_state="at_risk", first_response_due_at=opened + timedelta(1, 3600)
    )
    await edit(
        running_app, 2, sla_state="breached", first_response_due_at=opened + timedelta(hours=1)
    )
    await edit(running_app, 3, first_response_due_at=None)  # on track: not listed
    await edit(running_app, 4, sla_state="at_risk", first_response_due_at=None)
    await edit(
        running_app,
        5,
        sla_state="breached",
        status="waiting_on_customer",
        first_response_due_at=None,
        resolution_due_at=None,
    )
    await edit(running_app, 6, sla_state="breached", status="resolved", resolution_due_at=None)
    await edit(running_app, 7, sla_state="breached", first_response_due_at=None)
    clock.set(opened + timedelta(hours=9))  # Monday 18:00, after hours
    async with await reader(running_app) as client:
        first = await client.get("/api/sla/at-risk", params={"limit": 2})
        second = await client.get(
            "/api/sla/at-risk", params={"limit": 2, "cursor": first.json()["next_cursor"]}
        )
        third = await client.get(
            "/api/sla/at-risk", params={"limit": 2, "cursor": second.json()["next_cursor"]}
        )
        everything = await client.get("/api/sla/at-risk")
        breached = await client.get("/api/sla/at-risk", params={"sla_state": "breached"})

    pages = [[t["number"] for t in page.json()["items"]] for page in (first, second, third)]
    assert pages == [[2, 7], [1, 4], [5]]
    assert third.json()["next_cursor"] is None
    items = {t["number"]: t for t in everything.json()["items"]}
    assert list(items) == [2, 7, 1, 4, 5]
    shown = {
        number: (t["target"], t["due_at"], t["remaining"], t["overdue_seconds"])
        for number, t in items.items()
    }
    assert shown == {
        # Due Monday 10:00: overdue by the 7 business hours to 17:00.
        2: ("first_response", "2026-01-05T10:00:00Z", None, 7 * 3600),
        # Urgent counts around the clock: resolution due 13:00, 5 hours ago.
        7: ("resolution", "2026-01-05T13:00:00Z", None, 5 * 3600),
        # Due Tuesday 10:00: one business hour left (not 16 hours).
        1: ("first_response", "2026-01-06T10:00:00Z", "1h", None),
        4: ("resolution", "2026-01-07T17:00:00Z", "16h", None),
        5: (None, None, None, None),
    }
    assert items[1]["remaining_seconds"] == 3600 and items[1]["sla_state"] == "at_risk"
    assert [t["number"] for t in breached.json()["items"]] == [2, 7, 5]


@pytest.mark.parametrize(
    "params,field",
    [
        ({"sla_state": "on_track"}, "sla_state"),
        ({"limit": 0}, "limit"),
        ({"limit": 201}, "limit"),
        ({"cursor": "nonsense"}, None),
    ],
)
async def test_at_risk_refuses_bad_parameters(running_app, params, field):
    async with await reader(running_app) as client:
        answer = await client.get("/api/sla/at-risk", params=params)

    assert answer.status_code == 422
    if field:
        assert answer.json()["details"][0]["field"] == field
    else:
        assert "cursor is not valid" in answer.json()["error"]


# -- policies ----------------------------------------------------------------------------------


async def test_policies_default_then_changed_then_read_back(running_app, clock):
    async with await reader(running_app) as client:
        defaults = (await client.get("/api/sla-policies")).json()
    async with await admin(running_app) as client:
        changed = await client.put(
            "/api/sla-policies",
            json={
                "policies": [
                    {
                        "priority": "normal",
                        "first_response": "1h30m",
                        "resolution": 2 * 86400,
                        "warn_fraction": 0.5,
                    },
                    {"priority": "low", "business_hours": False},
                ]
            },
        )
        read_back = (await client.get("/api/sla-policies")).json()
        vip = await client.put(
            "/api/sla-policies",
            json={"channel": "CVIP", "policies": [{"priority": "normal", "first_response": 900}]},
        )
        in_vip = (await client.get("/api/sla-policies", params={"channel": "CVIP"})).json()
        key_prefix = prefix_of(client)

    by_priority = {p["priority"]: p for p in defaults["policies"]}
    assert defaults["channel"] is None
    assert list(by_priority) == ["low", "normal", "high", "urgent"]
    assert by_priority["normal"] == {
        "priority": "normal",
        "first_response_seconds": 14400,
        "first_response": "4h",
        "next_response_seconds": 28800,
        "next_response": "8h",
        "resolution_seconds": 86400,
        "resolution": "1d",
        "warn_fraction": 0.75,
        "business_hours": True,
        "source": "default",
    }
    assert by_priority["urgent"]["business_hours"] is False
    assert changed.status_code == 200, changed.text
    assert changed.json() == read_back
    normal = next(p for p in read_back["policies"] if p["priority"] == "normal")
    assert (
        normal["first_response_seconds"],
        normal["first_response"],
        normal["next_response"],  # not given: kept
        normal["resolution"],
        normal["warn_fraction"],
        normal["source"],
    ) == (5400, "1h30m", "8h", "2d", 0.5, "workspace")
    low = next(p for p in read_back["policies"] if p["priority"] == "low")
    assert (low["business_hours"], low["first_response"]) == (False, "8h")
    assert next(p for p in read_back["policies"] if p["priority"] == "high")["source"] == "default"
    assert vip.status_code == 200 and vip.json()["channel"] == "CVIP"
    vip_normal = next(p for p in in_vip["policies"] if p["priority"] == "normal")
    assert (vip_normal["first_response"], vip_normal["source"]) == ("15m", "channel")
    async with running_app.runtime.session_factory() as session:
        stored = await session.scalar(select(SlaPolicy).where(SlaPolicy.scope == ""))
    assert stored.updated_by == key_prefix and stored.updated_at == clock.now()


async def test_new_targets_apply_to_tickets_opened_afterwards(running_app, clock):
    async with await admin(running_app) as client:
        answer = await client.put(
            "/api/sla-policies",
            json={"policies": [{"priority": "normal", "first_response": 3600}]},
        )
        assert answer.status_code == 200, answer.text
        await service_tickets(running_app, 1, start=clock.now())
        body = await sla_of(client)

    assert clock_of(body, "first_response")["due_at"] == "2026-01-05T10:00:00Z"


@pytest.mark.parametrize(
    "body,field,words",
    [
        ({"policies": [{"priority": "high", "first_response": 0}]}, "first_response", "longer"),
        ({"policies": [{"priority": "high", "first_response": -60}]}, "first_response", "longer"),
        ({"policies": [{"priority": "high", "first_response": "4x"}]}, "first_response", "4x"),
        ({"policies": [{"priority": "high", "resolution": "400d"}]}, "resolution", "a year"),
        ({"policies": [{"priority": "high", "resolution": 1.5}]}, "resolution", "whole"),
        ({"policies": [{"priority": "high", "resolution": True}]}, "resolution", "seconds"),
        ({"policies": [{"priority": "high", "resolution": None}]}, "policies[0]", "null"),
        ({"policies": [{"priority": "high", "warn_fraction": 1.5}]}, "warn_fraction", "less"),
        ({"policies": [{"priority": "high", "warn_fraction": 0}]}, "warn_fraction", "greater"),
        ({"policies": [{"priority": "high"}]}, "policies[0]", "at least one"),
        ({"policies": [{"priority": "asap", "first_response": 60}]}, "priority", "'low'"),
        ({"policies": []}, "policies", "at least 1 item"),
        ({"policies": [{"priority": "high", "first_respons": 60}]}, "first_respons", "not"),
        (
            {"policies": [{"priority": "low", "resolution": 60}] * 2},
            "policies",
            "priority low is given twice",
        ),
        ({"channel": "#vip", "policies": [{"priority": "low", "resolution": 60}]}, "channel", ""),
        ({}, "policies", "Field required"),
    ],
)
async def test_bad_policy_changes_are_422_naming_the_field(running_app, body, field, words):
    async with await admin(running_app) as client:
        answer = await client.put("/api/sla-policies", json=body)
        unchanged = (await client.get("/api/sla-policies")).json()

    assert answer.status_code == 422, answer.text
    detail = answer.json()["details"][0]
    assert detail["field"].startswith(field) or detail["field"].endswith(field), detail
    assert words in detail["message"]
    assert {p["source"] for p in unchanged["policies"]} == {"default"}


# -- business hours ----------------------------------------------------------------------------


async def test_business_hours_default_then_replaced_then_read_back(running_app, clock):
    week = {
        "time_zone": "Europe/Berlin",
        "weekly_hours": {
            "Monday": [["08:00", "12:00"], ["13:00", "17:00"]],
            "tue": [["08:00", "17:00"]],
            "sat": [],
        },
        "holiday_country": "de",
        "holiday_subdivision": "BY",
        "closed_dates": ["2026-12-31", "2026-12-24"],
    }
    async with await reader(running_app) as client:
        default = (await client.get("/api/business-hours")).json()
    async with await admin(running_app) as client:
        replaced = await client.put("/api/business-hours", json=week)
        read_back = (await client.get("/api/business-hours")).json()

    assert default["is_default"] is True and default["time_zone"] == "UTC"
    assert default["weekly_hours"] == {
        day: [["09:00", "17:00"]] for day in ("mon", "tue", "wed", "thu", "fri")
    }
    assert default["closed_dates"] == [] and default["updated_by"] is None
    assert replaced.status_code == 200, replaced.text
    assert replaced.json() == read_back
    assert read_back["is_default"] is False
    assert read_back["weekly_hours"] == {
        "mon": [["08:00", "12:00"], ["13:00", "17:00"]],
        "tue": [["08:00", "17:00"]],
        "sat": [],
    }
    assert (read_back["holiday_country"], read_back["holiday_subdivision"]) == ("DE", "BY")
    assert read_back["closed_dates"] == ["2026-12-24", "2026-12-31"]
    assert read_back["updated_by"].startswith("tb_")
    assert read_back["updated_at"] == "2026-01-05T09:00:00Z"
    assert "Europe/Berlin" in read_back["description"]
    async with running_app.runtime.session_factory() as session:
        stored = await session.get(BusinessHours, 1)
    assert stored.closed_dates == ["2026-12-24", "2026-12-31"]


async def test_new_business_hours_move_the_clocks_of_new_tickets(running_app, clock):
    async with await admin(running_app) as client:
        answer = await client.put(
            "/api/business-hours",
            json={"time_zone": "UTC", "weekly_hours": {"mon": [["08:00", "12:00"]]}},
        )
        assert answer.status_code == 200, answer.text
        await service_tickets(running_app, 1, start=clock.now())  # Monday 09:00
        body = await sla_of(client)

    # 4 business hours: Monday 09:00-12:00, then the next Monday 08:00-09:00.
    first_response = clock_of(body, "first_response")
    assert (first_response["due_at"], first_response["remaining"]) == (
        "2026-01-12T09:00:00Z",
        "4h",
    )


@pytest.mark.parametrize(
    "change,field,words",
    [
        ({"time_zone": "Mars/Olympus"}, "time_zone", "unknown time zone 'Mars/Olympus'"),
        ({"weekly_hours": {"mon": [["17:00", "09:00"]]}}, "weekly_hours", "17:00 must be before"),
        ({"weekly_hours": {"funday": [["09:00", "17:00"]]}}, "weekly_hours", "not a weekday"),
        ({"weekly_hours": {"mon": [["9am", "5pm"]]}}, "weekly_hours", "not two times"),
        ({"weekly_hours": {"mon": [["09:00"]]}}, "weekly_hours", "each span is"),
        ({"weekly_hours": {"mon": []}}, "weekly_hours", "at least one day"),
        (
            {"weekly_hours": {"mon": [["09:00", "13:00"], ["12:00", "17:00"]]}},
            "weekly_hours",
            "overlap",
        ),
        ({"closed_dates": ["2026-02-30"]}, "closed_dates[0]", "valid date"),
        ({"holiday_country": "Nowhere land"}, "holiday_country", "not a country"),
        ({"time_zone": None}, "time_zone", "valid string"),
    ],
)
async def test_bad_business_hours_are_422_with_the_reason(running_app, change, field, words):
    body = {"time_zone": "UTC", "weekly_hours": {"mon": [["09:00", "17:00"]]}, **change}
    async with await admin(running_app) as client:
        answer = await client.put("/api/business-hours", json=body)
        after = (await client.get("/api/business-hours")).json()

    assert answer.status_code == 422, answer.text
    detail = answer.json()["details"][0]
    assert detail["field"] == field
    assert words in detail["message"]
    assert after["is_default"] is True


@pytest.mark.parametrize(
    "change,words",
    [
        ({"holiday_country": "ZZ"}, "No public holidays known for country 'ZZ'."),
        (
            {"holiday_country": "US", "holiday_subdivision": "XX"},
            "No public holidays known for country 'US', subdivision 'XX'.",
        ),
        ({"holiday_subdivision": "BY"}, "A holiday subdivision needs a holiday country."),
    ],
)
async def test_unknown_holiday_calendars_are_422(running_app, change, words):
    body = {"time_zone": "UTC", "weekly_hours": {"mon": [["09:00", "17:00"]]}, **change}
    async with await admin(running_app) as client:
        answer = await client.put("/api/business-hours", json=body)

    assert answer.status_code == 422
    assert answer.json()["error"] == words and answer.json()["code"] == "invalid_input"


# -- who may ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "method,path",
    [
        ("GET", "/api/tickets/1/sla"),
        ("GET", "/api/sla/at-risk"),
        ("GET", "/api/sla-policies"),
        ("PUT", "/api/sla-policies"),
        ("GET", "/api/business-hours"),
        ("PUT", "/api/business-hours"),
    ],
)
async def test_every_sla_endpoint_needs_a_key(running_app, method, path):
    async with api_client(running_app) as client:
        answer = await client.request(method, path, json={})

    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "scopes,method,path,needed",
    [
        ((Scope.METRICS_READ,), "GET", "/api/tickets/1/sla", "tickets:read"),
        ((Scope.METRICS_READ,), "GET", "/api/sla/at-risk", "tickets:read"),
        ((Scope.METRICS_READ,), "GET", "/api/sla-policies", "tickets:read"),
        ((Scope.TICKETS_WRITE,), "GET", "/api/business-hours", "tickets:read"),
        ((Scope.TICKETS_READ, Scope.TICKETS_WRITE), "PUT", "/api/sla-policies", "admin"),
        ((Scope.TICKETS_READ, Scope.TICKETS_WRITE), "PUT", "/api/business-hours", "admin"),
    ],
)
async def test_a_key_without_the_scope_is_forbidden(running_app, scopes, method, path, needed):
    key = await api_key(running_app, *scopes)
    async with api_client(running_app, key) as client:
        answer = await client.request(method, path, json={"policies": []})

    assert answer.status_code == 403
    assert answer.json() == {
        "error": f"This API key lacks the {needed} scope needed here.",
        "code": "not_allowed",
    }


async def test_openapi_documents_the_sla_endpoints(running_app):
    async with api_client(running_app) as client:
        spec = (await client.get("/openapi.json")).json()

    assert spec["paths"]["/api/tickets/{number}/sla"]["get"]["operationId"] == "getTicketSla"
    assert spec["paths"]["/api/sla/at-risk"]["get"]["operationId"] == "listTicketsAtRisk"
    assert set(spec["paths"]["/api/sla-policies"]) == {"get", "put"}
    assert set(spec["paths"]["/api/business-hours"]) == {"get", "put"}
    assert {"401", "403", "422"} <= set(spec["paths"]["/api/sla-policies"]["put"]["responses"])
    assert "404" in spec["paths"]["/api/tickets/{number}/sla"]["get"]["responses"]
    assert spec["components"]["schemas"]["SlaPoliciesUpdate"]["examples"]
    assert spec["components"]["schemas"]["BusinessHoursUpdate"]["examples"]
