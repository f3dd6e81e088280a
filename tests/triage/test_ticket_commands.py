"""`/ticket` triage subcommands through signed slash commands: every subcommand, every refusal,
and the card updating as it does for the same click."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.slack_emulator import message_event, next_ts
from app.team.enums import Role
from app.tickets.models import Ticket, TicketMessage
from tests.support.server import RunningApp, outbox_settled, wait_until
from tests.tickets.helpers import add_member, event_kinds, tickets, watch
from tests.tickets.test_intake import card_in_triage, triage_thread

CUSTOMER, AGENT, OTHER_AGENT, LEAD = "UCUSTOMER", "UAGENT", "UAGENT2", "ULEAD1"


async def command(sender, text: str, user: str = LEAD, channel: str = "CSUPPORT", **kw) -> str:
    response = await sender.send_command(text, user_id=user, channel_id=channel, **kw)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["response_type"] == "ephemeral"
    return body["text"]


async def open_tickets(app: RunningApp, sender, emulator, count: int = 1) -> list[str]:
    roots = []
    for n in range(count):
        root = next_ts()
        await sender.send_event(
            message_event("CSUPPORT", f"UCUST{n}" if n else CUSTOMER, f"Question {n + 1}", ts=root)
        )
        roots.append(root)
    await wait_until(lambda: card_in_triage(emulator), message="card")
    return roots


@pytest.fixture
async def team(running_app):
    await watch(running_app)
    await add_member(running_app, AGENT)
    await add_member(running_app, OTHER_AGENT)


async def ticket(app: RunningApp, number: int = 1) -> Ticket:
    return next(t for t in await tickets(app) if t.number == number)


async def test_assign_me_and_someone_else(running_app, sender, emulator, team):
    await open_tickets(running_app, sender, emulator)

    assert await command(sender, "assign T-1 me", user=AGENT) == "You now have T-1."
    assert (await ticket(running_app)).assignee_user_id == AGENT
    await wait_until(
        lambda: f"<@{AGENT}>" in str(card_in_triage(emulator)["blocks"]), message="card"
    )

    refused = await command(sender, f"assign 1 <@{OTHER_AGENT}|bo>", user=AGENT)
    assert refused == "Sorry, only support leads can assign tickets to someone else."
    assert (await ticket(running_app)).assignee_user_id == AGENT

    assert (
        await command(sender, f"assign #1 <@{OTHER_AGENT}|bo>") == f"<@{OTHER_AGENT}> now has T-1."
    )
    assert (await ticket(running_app)).assignee_user_id == OTHER_AGENT
    assert await command(sender, f"assign T-1 <@{CUSTOMER}>") == (
        f"<@{CUSTOMER}> is not on the support team."
    )


async def test_unassign(running_app, sender, emulator, team):
    await open_tickets(running_app, sender, emulator)
    await command(sender, "assign T-1 me", user=AGENT)
    assert await command(sender, "unassign T-1", user=OTHER_AGENT) == (
        "Sorry, only support leads can unassign someone else."
    )
    assert (
        await command(sender, "unassign T-1", user=AGENT) == f"T-1 is unassigned (was <@{AGENT}>)."
    )
    assert (await ticket(running_app)).assignee_user_id is None


async def test_priority_status_resolve_reopen_close(running_app, sender, emulator, team):
    await open_tickets(running_app, sender, emulator)

    assert "urgent priority" in await command(sender, "priority T-1 urgent", user=AGENT)
    assert (await ticket(running_app)).priority == "urgent"
    assert "paused" in await command(sender, "status T-1 waiting", user=AGENT)
    assert (await ticket(running_app)).status == "waiting_on_customer"
    assert await command(sender, "status T-1 open", user=AGENT) == "T-1 is open."
    assert await command(sender, "resolve T-1", user=AGENT) == "T-1 is resolved."
    assert await command(sender, "priority T-1 low", user=AGENT) == (
        "T-1 is resolved; cannot change the priority of it."
    )
    assert "open again" in await command(sender, "reopen T-1", user=AGENT)
    assert (await ticket(running_app)).status == "open"
    assert await command(sender, "close T-1", user=AGENT) == (
        "Sorry, only support leads can close tickets."
    )
    assert await command(sender, "close T-1") == "T-1 is closed."
    assert (await ticket(running_app)).status == "closed"
    await wait_until(
        lambda: "Closed" in str(card_in_triage(emulator)["blocks"]), message="closed card"
    )
    kinds = await event_kinds(running_app, (await ticket(running_app)).id)
    assert [k for k in kinds if k in ("priority_changed", "resolved", "reopened", "closed")] == [
        "priority_changed",
        "resolved",
        "reopened",
        "closed",
    ]


async def test_note_goes_to_the_triage_thread_only(running_app, sender, emulator, team):
    [root] = await open_tickets(running_app, sender, emulator)
    reply = await command(
        sender, "note T-1 Customer is on the legacy plan;\n  check billing", user=AGENT
    )
    assert reply.startswith("Added your note to T-1")

    card = card_in_triage(emulator)
    [note] = await wait_until(
        lambda: [t for t in triage_thread(emulator, card["ts"]) if "legacy plan" in t],
        message="note in triage thread",
    )
    assert "check billing" in note and f"<@{AGENT}>" in note
    assert not any("legacy plan" in m["text"] for m in emulator.thread("CSUPPORT", root))
    async with running_app.runtime.session_factory() as session:
        stored = await session.scalar(select(TicketMessage).where(TicketMessage.is_internal))
    assert stored.text == "Customer is on the legacy plan;\n  check billing"


async def test_customers_may_only_show_their_own_tickets(running_app, sender, emulator, team):
    await open_tickets(running_app, sender, emulator, count=2)

    own = await command(sender, "show T-1", user=CUSTOMER)
    assert own.startswith("*T-1* · Question 1") and "Status: new" in own
    assert "SLA ledger" not in own
    assert await command(sender, "show T-2", user=CUSTOMER) == (
        "Sorry, you can only look at tickets you asked about; T-2 is not one of them."
        " The support team can see every ticket."
    )
    assert "only the support team can change tickets" in await command(
        sender, "resolve T-1", user=CUSTOMER
    )
    assert "only the support team can list" in await command(sender, "list", user=CUSTOMER)
    assert "*SLA ledger*" in await command(sender, "show 2", user=AGENT)


async def test_unknown_tickets_and_bad_input(running_app, sender, emulator, team):
    await open_tickets(running_app, sender, emulator)
    assert await command(sender, "resolve T-99", user=AGENT) == ("Ticket T-99 does not exist.")
    assert await command(sender, "show T-99", user=AGENT) == ("Ticket T-99 does not exist.")
    bad = await command(sender, "priority T-1 sky-high", user=AGENT)
    assert bad.startswith("Say one priority (low, normal, high, urgent)") and "*Usage:*" in bad
    assert (await command(sender, "resolve", user=AGENT)).startswith("Say which ticket")
    assert (await command(sender, "assign T-x me", user=AGENT)).startswith(
        "`T-x` is not a ticket number like T-42."
    )
    # A request for another installation touches nothing of this one's.
    other = await command(sender, "resolve T-1", user=AGENT, team_id="TOTHER")
    assert other == "This ticketbot serves another Slack workspace, so it can't help here."
    assert (await ticket(running_app)).status == "new"


async def test_list_filters_and_pages(running_app, sender, emulator, team):
    await open_tickets(running_app, sender, emulator, count=23)
    await command(sender, "assign T-3 me", user=AGENT)
    await command(sender, "priority T-5 urgent", user=AGENT)
    await command(sender, "status T-7 waiting", user=AGENT)
    await command(sender, "resolve T-8", user=AGENT)

    response = await sender.send_command(
        "list", user_id=AGENT, channel_id="CSUPPORT", response_url=emulator.new_response_url()
    )
    body = response.json()
    assert body["text"] == "Open tickets: 22"
    blocks = body["blocks"]
    assert len(blocks) <= 50
    assert "1 to 20 of 22" in blocks[0]["text"]["text"]
    rows = [b["text"]["text"] for b in blocks if b["type"] == "section"][1:]
    assert len(rows) == 20 and "T-5" in rows[0]  # urgent first
    next_button = blocks[-1]["elements"][-1]
    assert next_button["text"]["text"] == "Next"

    await sender.send_block_actions(
        [{"action_id": next_button["action_id"], "value": next_button["value"]}],
        user_id=AGENT,
        channel_id="CSUPPORT",
        response_url=emulator.new_response_url(),
    )
    [page_two] = emulator.calls("response_url")
    assert page_two.args["replace_original"] is True
    assert "21 to 22 of 22" in page_two.args["blocks"][0]["text"]["text"]

    assert (await command(sender, "list mine", user=AGENT)) == "Your open tickets: 1"
    assert (await command(sender, "list waiting", user=AGENT)) == (
        "Tickets waiting on the customer: 1"
    )
    assert (await command(sender, "list unassigned", user=AGENT)) == "Unassigned tickets: 21"
    assert (await command(sender, f"list <@{CUSTOMER}>", user=AGENT)) == (
        f"Open tickets for <@{CUSTOMER}>: 1"
    )
    assert (await command(sender, "list breaching <#CSUPPORT|support>", user=AGENT)).startswith(
        "Tickets at risk or breached in <#CSUPPORT>: none."
    )
    assert "is not a list filter" in await command(sender, "list everything", user=AGENT)


async def test_agents_and_leads_answer_within_budget(running_app, sender, emulator):
    """The reply is the acknowledgement itself: no second message, no response_url needed."""
    await watch(running_app)
    await add_member(running_app, AGENT, Role.AGENT)
    await open_tickets(running_app, sender, emulator)
    await outbox_settled(running_app)  # the card's and the auto-reply's posts
    before = len(emulator.calls())
    await command(sender, "list", user=AGENT)
    await running_app.runtime.dispatcher.dispatch_once()
    assert [c.method for c in emulator.calls()[before:]] == []


async def test_new_opens_the_create_form(running_app, sender, emulator, team):
    response = await sender.send_command("new", user_id=AGENT, channel_id="CSUPPORT")
    assert response.status_code == 200 and not response.content  # no reply: the form opens
    [opened] = emulator.calls("views.open")
    assert opened.args["view"]["callback_id"] == "create_ticket_modal"

    await sender.send_command("new", user_id=CUSTOMER, channel_id="CSUPPORT")
    refusal = emulator.calls("views.open")[1].args["view"]
    assert refusal.get("callback_id") != "create_ticket_modal"
    assert "only support agents and leads can create tickets" in str(refusal["blocks"])
