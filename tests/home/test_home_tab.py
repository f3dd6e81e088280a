"""The App Home tab end to end: signed app_home_opened events and clicks in the published view,
views.publish calls recorded by the emulator. The test clock starts on Monday 2026-01-05 09:00
UTC, inside the default business hours (a normal ticket's first response is due in 4 hours)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from app.csat.stats import CsatNumbers
from app.home.models import HomeTab
from app.home.queries import LIST_LIMIT, CustomerHome, TeamHome, TicketList, WeekNumbers
from app.slack.blocks.home import MAX_BLOCKS, home_view
from app.slack.ids import ActionId
from app.slack_emulator import app_home_opened_event, message_event, next_ts
from app.team.enums import Role
from app.tickets.enums import Priority, TicketStatus
from app.tickets.models import Ticket
from tests.csat.test_csat_flow import prompt_in, rate
from tests.support.server import RunningApp, wait_until
from tests.tickets.helpers import add_member, tickets, watch
from tests.tickets.test_intake import card_in_triage
from tests.tickets.test_triage_card import click

CUSTOMER, AGENT, LEAD = "UCUSTOMER", "UAGENT", "ULEAD1"
_LINK = re.compile(r"<[^|>]+\|([^>]+)>")


# -- reading the published views -------------------------------------------------------------


def publishes(emulator, user: str) -> list[dict[str, Any]]:
    """The views published to a user's Home tab, oldest first (with Slack's view id)."""
    return [
        {**call.args["view"], "id": call.response["view"]["id"]}
        for call in emulator.delivered("views.publish")
        if call.args.get("user_id") == user
    ]


async def open_home(sender, emulator, user: str) -> dict[str, Any]:
    """Open the tab (a signed app_home_opened event); returns the view published in answer."""
    before = len(publishes(emulator, user))
    response = await sender.send_event(app_home_opened_event(user))
    assert response.status_code == 200
    views = await wait_until(
        lambda: (lambda v: v if len(v) > before else None)(publishes(emulator, user)),
        message=f"home published for {user}",
    )
    return views[-1]


async def published_after(emulator, user: str, count: int, check) -> dict[str, Any]:
    """The latest view published after the first `count` ones, once `check(view)` holds."""

    def found() -> dict[str, Any] | None:
        later = publishes(emulator, user)[count:]
        return later[-1] if later and check(later[-1]) else None

    return await wait_until(found, message=f"home republished for {user}")


def texts(view: dict[str, Any]) -> str:
    lines = []
    for block in view["blocks"]:
        if block["type"] in ("section", "header") and block.get("text"):
            lines.append(block["text"]["text"])
        lines += [field["text"] for field in block.get("fields", [])]
        if block["type"] == "context":
            lines += [element["text"] for element in block["elements"]]
    return "\n".join(lines)


def listed(view: dict[str, Any], header: str) -> list[str]:
    """The rows under a header (section and context texts, links reduced to their label)."""
    blocks = view["blocks"]
    start = next(
        i for i, b in enumerate(blocks) if b["type"] == "header" and b["text"]["text"] == header
    )
    rows = []
    for block in blocks[start + 1 :]:
        if block["type"] in ("divider", "header"):
            break
        if block["type"] == "section" and block.get("text"):
            rows.append(_LINK.sub(r"\1", block["text"]["text"]))
        if block["type"] == "context":
            rows += [element["text"] for element in block["elements"]]
    return rows


def buttons(view: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for block in view["blocks"]:
        if block.get("accessory", {}).get("type") == "button":
            found.append(block["accessory"])
        if block["type"] == "actions":
            found += [e for e in block["elements"] if e["type"] == "button"]
    return found


def button_for(view: dict[str, Any], ticket_id: int, action_id: str) -> dict[str, Any]:
    [button] = [
        b
        for b in buttons(view)
        if b["action_id"] == action_id and json.loads(b["value"]) == {"ticket_id": ticket_id}
    ]
    return button


def week(view: dict[str, Any]) -> dict[str, str]:
    """The "This week" fields: label -> value."""
    fields = [f["text"] for b in view["blocks"] for f in b.get("fields", [])]
    return dict(field.strip("*").split("*\n", 1) for field in fields)


# -- setting the scene -----------------------------------------------------------------------


async def click_in_home(sender, view: dict[str, Any], button: dict[str, Any], user: str):
    """A click in the Home tab: a block_actions from a view (no channel, no response_url)."""
    response = await sender.send_block_actions(
        [{"action_id": button["action_id"], "value": button["value"]}],
        user_id=user,
        view={"id": view["id"], "type": "home", "blocks": view["blocks"]},
    )
    assert response.status_code == 200
    return response


async def customer_asks(
    app: RunningApp, sender, user: str = CUSTOMER, text: str = "Exports fail"
) -> str:
    root = next_ts()
    response = await sender.send_event(message_event("CSUPPORT", user, text, ts=root))
    assert response.status_code == 200
    return root


async def agent_replies(sender, root: str, text: str = "Looking into it") -> None:
    await sender.send_event(message_event("CSUPPORT", AGENT, text, ts=next_ts(), thread_ts=root))


async def home_rows(app: RunningApp) -> list[str]:
    async with app.runtime.session_factory() as session:
        return list(await session.scalars(select(HomeTab.user_id).order_by(HomeTab.user_id)))


async def sweep(app: RunningApp) -> None:
    await app.runtime.timer_sweeper.sweep_until_idle()
    await app.runtime.dispatcher.dispatch_once()


async def setup(app: RunningApp) -> None:
    await watch(app)
    await add_member(app, AGENT)


# -- what each person sees -----------------------------------------------------------------


async def test_agent_sees_the_queue_and_a_customer_their_own_tickets(running_app, sender, emulator):
    await setup(running_app)
    await customer_asks(running_app, sender, text="Exports fail since Monday")
    await customer_asks(running_app, sender, user="UOTHER", text="Login loops")
    first, second = await tickets(running_app)

    agent_view = await open_home(sender, emulator, AGENT)

    assert agent_view["type"] == "home"
    assert "You are a support agent." in texts(agent_view)
    assert listed(agent_view, "My open tickets") == ["Nothing is assigned to you. :tada:"]
    queue = listed(agent_view, "Unassigned queue")
    assert [row.split("\n")[0] for row in queue] == [
        "*T-1* · Exports fail since Monday",
        "*T-2* · Login loops",
    ]
    assert queue[0].split("\n")[1].startswith(":large_green_circle: On track · first response due")
    assert f"from <@{CUSTOMER}>" in queue[0] and "<#CSUPPORT>" in queue[0]
    # The triage card's own buttons: same action id, same value.
    card_value = next(
        e["value"]
        for b in card_in_triage(emulator)["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == ActionId.ASSIGN_TO_ME
    )
    assert button_for(agent_view, first.id, ActionId.ASSIGN_TO_ME)["value"] == card_value
    button_for(agent_view, second.id, ActionId.ASSIGN_TO_ME)
    assert week(agent_view)["Opened"] == "2" and week(agent_view)["Resolved"] == "0"
    assert ActionId.CREATE_TICKET in [b["action_id"] for b in buttons(agent_view)]

    customer_view = await open_home(sender, emulator, CUSTOMER)

    assert customer_view["type"] == "home"
    [mine] = listed(customer_view, "Your requests")
    assert mine.startswith("*T-1* · Exports fail since Monday\n:new: New · opened")
    assert "Login loops" not in texts(customer_view)
    assert "Unassigned queue" not in texts(customer_view)
    assert buttons(customer_view) == []
    assert await home_rows(running_app) == [AGENT, CUSTOMER]


async def test_a_customer_without_tickets_and_the_messages_tab(running_app, sender, emulator):
    view = await open_home(sender, emulator, "UNEWCOMER")
    assert listed(view, "Your requests") == [
        "You have no tickets. Ask in a support channel and the team will pick it up."
    ]

    await sender.send_event(app_home_opened_event("UOTHER", tab="messages"))
    await running_app.runtime.dispatcher.dispatch_once()
    assert publishes(emulator, "UOTHER") == []
    assert await home_rows(running_app) == ["UNEWCOMER"]


async def test_a_lead_sees_the_team_view(running_app, sender, emulator):
    view = await open_home(sender, emulator, LEAD)  # SUPPORT_LEADS
    assert "You are a support lead." in texts(view)
    assert "Unassigned queue" in texts(view)


# -- kept up to date -------------------------------------------------------------------------


async def test_assign_and_resolve_from_the_home_tab(running_app, sender, emulator):
    await setup(running_app)
    await customer_asks(running_app, sender)
    [ticket] = await tickets(running_app)
    view = await open_home(sender, emulator, AGENT)
    await open_home(sender, emulator, CUSTOMER)
    seen = len(publishes(emulator, AGENT)), len(publishes(emulator, CUSTOMER))

    await click_in_home(sender, view, button_for(view, ticket.id, ActionId.ASSIGN_TO_ME), AGENT)

    [ticket] = await tickets(running_app)
    assert ticket.assignee_user_id == AGENT  # committed before the acknowledgement
    view = await published_after(
        emulator, AGENT, seen[0], lambda v: "Nothing is assigned" not in texts(v)
    )
    [row] = listed(view, "My open tickets")
    assert row.startswith("*T-1* · Exports fail\n:large_green_circle: On track")
    assert listed(view, "Unassigned queue") == ["Every open ticket has someone on it."]
    # The requester's tab follows too: someone is on it.
    customer_view = await published_after(
        emulator, CUSTOMER, seen[1], lambda v: f"<@{AGENT}> is on it" in texts(v)
    )
    assert "T-1" in texts(customer_view)

    seen_agent = len(publishes(emulator, AGENT))
    await click_in_home(sender, view, button_for(view, ticket.id, ActionId.RESOLVE), AGENT)

    assert (await tickets(running_app))[0].status is TicketStatus.RESOLVED
    view = await published_after(
        emulator, AGENT, seen_agent, lambda v: "Nothing is assigned" in texts(v)
    )
    assert week(view)["Resolved"] == "1"
    await wait_until(
        lambda: ":white_check_mark: Resolved" in texts(publishes(emulator, CUSTOMER)[-1]),
        message="customer sees the ticket resolved",
    )


async def test_the_previous_assignee_is_refreshed_when_a_lead_takes_over(
    running_app, sender, emulator
):
    await setup(running_app)
    await customer_asks(running_app, sender)
    card = await wait_until(lambda: card_in_triage(emulator), message="card")
    await click(sender, card, ActionId.ASSIGN_TO_ME, AGENT)
    view = await open_home(sender, emulator, AGENT)
    assert "*T-1*" in listed(view, "My open tickets")[0]
    seen = len(publishes(emulator, AGENT))

    await click(sender, card, ActionId.ASSIGN_TO_ME, LEAD)

    assert (await tickets(running_app))[0].assignee_user_id == LEAD
    view = await published_after(
        emulator, AGENT, seen, lambda v: "Nothing is assigned to you" in texts(v)
    )
    assert listed(view, "Unassigned queue") == ["Every open ticket has someone on it."]
    assert publishes(emulator, LEAD) == []  # never opened: no call for them


async def test_only_people_who_opened_the_tab_are_republished(running_app, sender, emulator):
    await setup(running_app)
    await customer_asks(running_app, sender)
    card = await wait_until(lambda: card_in_triage(emulator), message="card")
    await click(sender, card, ActionId.ASSIGN_TO_ME, AGENT)
    await click(sender, card, ActionId.RESOLVE, AGENT)
    await running_app.runtime.dispatcher.dispatch_once()
    assert emulator.calls("views.publish") == []


async def test_lists_are_capped_with_a_count_of_the_rest(running_app, sender, emulator):
    await setup(running_app)
    for n in range(LIST_LIMIT + 2):
        await customer_asks(running_app, sender, user=f"UCUST{n:03d}", text=f"Question {n}")

    view = await open_home(sender, emulator, AGENT)

    queue = listed(view, "Unassigned queue")
    assert len(queue) == LIST_LIMIT + 1 and queue[-1] == "and 2 more"
    assert queue[0].startswith("*T-1* ·")  # the same due time: the oldest first
    assert len(view["blocks"]) <= MAX_BLOCKS


async def test_oldest_due_first_in_my_tickets(running_app, sender, emulator, clock):
    await setup(running_app)
    await customer_asks(running_app, sender, user="UCUST1", text="Normal one")
    clock.advance(minutes=5)
    await customer_asks(running_app, sender, user="UCUST2", text="Urgent one")
    normal, urgent = await tickets(running_app)
    view = await open_home(sender, emulator, AGENT)
    await click_in_home(sender, view, button_for(view, normal.id, ActionId.ASSIGN_TO_ME), AGENT)
    await click_in_home(sender, view, button_for(view, urgent.id, ActionId.ASSIGN_TO_ME), AGENT)
    card_value = {
        "type": "static_select",
        "selected_option": {
            "text": {"type": "plain_text", "text": "Urgent"},
            "value": f"{urgent.id}:urgent",
        },
    }
    cards = [m for m in emulator.messages("CTRIAGE") if m.get("thread_ts") in (None, m["ts"])]
    await click(sender, cards[1], ActionId.SET_PRIORITY, AGENT, **card_value)
    assert (await tickets(running_app))[1].priority is Priority.URGENT

    # A publish queued by the earlier clicks may still be on its way (drawn before the
    # priority changed): what counts is the view the tab settles on.
    count = len(publishes(emulator, AGENT))
    await sender.send_event(app_home_opened_event(AGENT))
    view = await published_after(
        emulator,
        AGENT,
        count,
        lambda v: (
            [row.split("\n")[0] for row in listed(v, "My open tickets")]
            == ["*T-2* · Urgent one", "*T-1* · Normal one"]
        ),
    )

    rows = listed(view, "My open tickets")
    # The urgent one is due at 09:35 (30 minutes, around the clock), the normal one at 13:00.
    assert [row.split("\n")[0] for row in rows] == ["*T-2* · Urgent one", "*T-1* · Normal one"]
    assert ":red_circle: Urgent" in rows[0]


async def test_this_weeks_numbers(running_app, sender, emulator, clock):
    await setup(running_app)
    answered_in_time = await customer_asks(running_app, sender, user="UCUST1", text="Fast one")
    answered_late = await customer_asks(running_app, sender, user="UCUST2", text="Slow one")
    await customer_asks(running_app, sender, user="UCUST3", text="Open one")
    clock.advance(minutes=10)
    await agent_replies(sender, answered_in_time)
    card = next(
        m
        for m in emulator.messages("CTRIAGE")
        if m.get("thread_ts") in (None, m["ts"]) and "T-1" in m["text"]
    )
    await click(sender, card, ActionId.RESOLVE, AGENT)
    clock.set(datetime(2026, 1, 5, 13, 5, tzinfo=UTC))  # the 4-hour targets have passed
    await sweep(running_app)  # breaches, and the CSAT prompt for the resolved ticket
    await agent_replies(sender, answered_late)
    prompt = await wait_until(lambda: prompt_in(emulator, answered_in_time), message="prompt")

    view = await open_home(sender, emulator, AGENT)

    numbers = week(view)
    assert numbers["Opened"] == "3" and numbers["Resolved"] == "1"
    # Waits of 10m and 4h05m: the median is halfway.
    assert numbers["First response (median)"] == "2h7m30s"
    # Met: the fast one. Missed: the slow one (breached, then answered) and the open one
    # (breached, still unanswered).
    assert numbers["First-response SLA"] == "33% met (1 of 3)"
    assert numbers["CSAT"] == "no ratings yet (1 asked)"

    await rate(sender, prompt, 5, user="UCUST1")
    view = await open_home(sender, emulator, AGENT)
    assert week(view)["CSAT"] == "100% satisfied · 100% responded"

    clock.advance(days=8)
    view = await open_home(sender, emulator, AGENT)
    assert week(view)["Opened"] == "0" and week(view)["First-response SLA"] == (
        "nothing decided yet"
    )


# -- the builder alone -----------------------------------------------------------------------


def _ticket(number: int, **values: Any) -> Ticket:
    now = datetime(2026, 1, 5, 9, tzinfo=UTC)
    return Ticket(
        id=number,
        number=number,
        subject=values.pop("subject", f"Question {number}"),
        status=values.pop("status", TicketStatus.NEW),
        priority=values.pop("priority", Priority.NORMAL),
        sla_state=values.pop("sla_state", "on_track"),
        created_at=now,
        first_response_due_at=now + timedelta(hours=4),
        **values,
    )


def test_a_full_home_stays_within_slacks_block_limit():
    many = TicketList([_ticket(n) for n in range(LIST_LIMIT)], 500)
    week_numbers = WeekNumbers(
        start=datetime(2026, 1, 1, tzinfo=UTC),
        end=datetime(2026, 1, 8, tzinfo=UTC),
        opened=500,
        resolved=400,
        first_response_median=timedelta(minutes=12),
        first_response_met=90,
        first_response_missed=10,
        csat=CsatNumbers(sent=10, rated=5, satisfied=4, rating_sum=20),
    )
    view = home_view(TeamHome("UAGENT", Role.AGENT, many, many, week_numbers))
    assert len(view["blocks"]) <= MAX_BLOCKS
    assert texts(view).count(f"and {500 - LIST_LIMIT} more") == 2
    assert week(view)["First-response SLA"] == "90% met (90 of 100)"
    assert week(view)["CSAT"] == "80% satisfied · 50% responded"

    customer = home_view(CustomerHome("UCUSTOMER", many))
    assert len(customer["blocks"]) <= MAX_BLOCKS


def test_subjects_cannot_inject_markup():
    ticket = _ticket(1, subject="<!channel> & <@U123>", requester_user_id="UCUSTOMER")
    view = home_view(CustomerHome("UCUSTOMER", TicketList([ticket], 1)))
    assert "&lt;!channel&gt; &amp; &lt;@U123&gt;" in texts(view)
    assert "<!channel>" not in texts(view)
