"""The triage card's buttons, clicked through signed block_actions requests."""

from __future__ import annotations

import json

from app.slack.ids import ActionId
from app.slack_emulator import message_event, next_ts
from app.team.enums import Role
from app.tickets.enums import Priority, TicketStatus
from tests.support.server import wait_until
from tests.tickets.helpers import add_member, event_kinds, tickets, watch
from tests.tickets.test_intake import card_in_triage

CUSTOMER = "UCUSTOMER"
AGENT = "UAGENT"


async def open_ticket_with_card(app, sender, emulator) -> dict:
    await watch(app)
    await add_member(app, AGENT)
    await sender.send_event(message_event("CSUPPORT", CUSTOMER, "API returns 502", ts=next_ts()))
    return await wait_until(lambda: card_in_triage(emulator), message="triage card")


def element(card: dict, action_id: str) -> dict:
    actions = next(block for block in card["blocks"] if block["type"] == "actions")
    return next(e for e in actions["elements"] if e["action_id"] == action_id)


async def click(sender, card: dict, action_id: str, user: str, **extra):
    action = {"action_id": action_id, "block_id": "triage_actions", **extra}
    if "selected_option" not in extra:
        action["value"] = element(card, action_id)["value"]
        action["type"] = "button"
    return await sender.send_block_actions(
        [action],
        user_id=user,
        channel_id="CTRIAGE",
        container={"type": "message", "message_ts": card["ts"], "channel_id": "CTRIAGE"},
        message=card,
    )


async def test_assign_to_me_updates_ticket_and_card(running_app, sender, emulator):
    card = await open_ticket_with_card(running_app, sender, emulator)

    answer = await click(sender, card, ActionId.ASSIGN_TO_ME, AGENT)

    assert answer.status_code == 200
    [ticket] = await tickets(running_app)  # committed before the acknowledgement
    assert ticket.assignee_user_id == AGENT
    await wait_until(
        lambda: f"<@{AGENT}>" in str(card_in_triage(emulator)["blocks"]), message="card update"
    )
    assert "assigned" in await event_kinds(running_app, ticket.id)


async def test_priority_select_and_resolve(running_app, sender, emulator):
    card = await open_ticket_with_card(running_app, sender, emulator)
    [ticket] = await tickets(running_app)
    urgent = {
        "type": "static_select",
        "selected_option": {
            "text": {"type": "plain_text", "text": "Urgent"},
            "value": f"{ticket.id}:urgent",
        },
    }

    await click(sender, card, ActionId.SET_PRIORITY, AGENT, **urgent)
    await click(sender, card, ActionId.RESOLVE, AGENT)

    [ticket] = await tickets(running_app)
    assert ticket.priority is Priority.URGENT
    assert ticket.status is TicketStatus.RESOLVED
    final = await wait_until(
        lambda: (lambda c: c if "Resolved" in str(c["blocks"]) else None)(card_in_triage(emulator)),
        message="resolved card",
    )
    assert not [b for b in final["blocks"] if b["type"] == "actions"]  # no buttons left


async def test_not_a_request_discards_but_keeps_the_audit_trail(running_app, sender, emulator):
    card = await open_ticket_with_card(running_app, sender, emulator)

    await click(sender, card, ActionId.DISCARD, AGENT)

    [ticket] = await tickets(running_app)
    assert ticket.status is TicketStatus.DISCARDED
    assert await event_kinds(running_app, ticket.id) == [
        "created",
        "message_added",
        "discarded",
    ]


async def test_non_agent_is_refused_and_nothing_changes(running_app, sender, emulator):
    card = await open_ticket_with_card(running_app, sender, emulator)

    answer = await click(sender, card, ActionId.ASSIGN_TO_ME, "USTRANGER")
    await click(sender, card, ActionId.RESOLVE, "USTRANGER")

    assert answer.status_code == 200
    [ticket] = await tickets(running_app)
    assert ticket.assignee_user_id is None and ticket.status is TicketStatus.NEW
    refusals = await wait_until(
        lambda: (lambda calls: calls if len(calls) == 2 else None)(
            emulator.delivered("chat.postEphemeral")
        ),
        message="two ephemeral refusals",
    )
    assert {call.args["user"] for call in refusals} == {"USTRANGER"}
    assert "only support agents and leads" in refusals[0].args["text"]


async def test_lead_may_act_and_closed_tickets_refuse_politely(running_app, sender, emulator):
    card = await open_ticket_with_card(running_app, sender, emulator)
    await add_member(running_app, "ULEAD2", Role.LEAD)
    await click(sender, card, ActionId.RESOLVE, "ULEAD2")

    await click(sender, card, ActionId.ASSIGN_TO_ME, AGENT)

    [ticket] = await tickets(running_app)
    assert ticket.status is TicketStatus.RESOLVED and ticket.assignee_user_id is None
    [refusal] = await wait_until(
        lambda: emulator.delivered("chat.postEphemeral"), message="refusal"
    )
    assert "is resolved; cannot assign it" in refusal.args["text"]


async def test_forged_click_changes_nothing(running_app, sender, emulator):
    card = await open_ticket_with_card(running_app, sender, emulator)
    action = element(card, ActionId.RESOLVE)

    answer = await sender.send_block_actions(
        [{"action_id": ActionId.RESOLVE, "value": action["value"], "type": "button"}],
        user_id=AGENT,
        channel_id="CTRIAGE",
        signature="v0=" + "1" * 64,
    )

    assert answer.status_code == 401
    [ticket] = await tickets(running_app)
    assert ticket.status is TicketStatus.NEW
    assert json.loads(action["value"]) == {"ticket_id": ticket.id}
