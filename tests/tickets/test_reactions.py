"""Emoji: :ticket: makes any message a ticket (once); an agent's :white_check_mark: resolves it."""

from __future__ import annotations

import asyncio

from app.slack_emulator import reaction_added_event
from app.tickets.enums import TicketSource, TicketStatus
from tests.support.server import wait_until
from tests.tickets.helpers import add_member, count_tickets, ticket_messages, tickets
from tests.tickets.test_intake import card_in_triage

CUSTOMER = "UCUSTOMER"


async def test_ticket_reaction_opens_one_ticket_from_any_message(running_app, sender, emulator):
    emulator.add_channel("CGENERAL", name="general")
    message = emulator.add_message("CGENERAL", user=CUSTOMER, text="Can someone reset my 2FA?")
    reaction = reaction_added_event("UANYONE", "ticket", "CGENERAL", message["ts"], CUSTOMER)

    answers = await asyncio.gather(
        sender.send_event(reaction),
        sender.send_event(
            reaction_added_event("UOTHER", "ticket", "CGENERAL", message["ts"], CUSTOMER)
        ),
        sender.send_event(
            reaction_added_event("UTHIRD", "ticket", "CGENERAL", message["ts"], CUSTOMER)
        ),
    )

    assert {answer.status_code for answer in answers} == {200}
    assert await count_tickets(running_app) == 1
    [ticket] = await tickets(running_app)
    assert ticket.source is TicketSource.REACTION
    assert (ticket.channel_id, ticket.root_ts, ticket.requester_user_id) == (
        "CGENERAL",
        message["ts"],
        CUSTOMER,
    )

    async def subject_known():
        [current] = await tickets(running_app)
        return current if current.subject == "Can someone reset my 2FA?" else None

    await wait_until(subject_known, message="the message text fetched from Slack")
    [stored] = await ticket_messages(running_app, ticket.id)
    assert stored.text == "Can someone reset my 2FA?"
    await wait_until(
        lambda: "reset my 2FA" in str((card_in_triage(emulator) or {}).get("blocks")),
        message="card shows the fetched subject",
    )
    # The reactions that found it opened meanwhile gave their numbers back: no gap.
    other = emulator.add_message("CGENERAL", user=CUSTOMER, text="And my SSO login")
    await sender.send_event(
        reaction_added_event("UANYONE", "ticket", "CGENERAL", other["ts"], CUSTOMER)
    )
    assert sorted(t.number for t in await tickets(running_app)) == [1, 2]


async def test_other_reactions_change_nothing(running_app, sender, emulator):
    message = emulator.add_message("CGENERAL", user=CUSTOMER, text="hello")
    await add_member(running_app, "UAGENT")

    await sender.send_event(reaction_added_event("UAGENT", "tada", "CGENERAL", message["ts"]))
    await sender.send_event(
        reaction_added_event("UAGENT", "white_check_mark", "CGENERAL", message["ts"])
    )

    assert await count_tickets(running_app) == 0


async def test_agent_resolves_a_reaction_ticket_with_the_check_mark(running_app, sender, emulator):
    message = emulator.add_message("CGENERAL", user=CUSTOMER, text="Export broken")
    await add_member(running_app, "UAGENT")
    await sender.send_event(reaction_added_event("UAGENT", "ticket", "CGENERAL", message["ts"]))

    await sender.send_event(
        reaction_added_event("UAGENT", "white_check_mark", "CGENERAL", message["ts"])
    )

    [ticket] = await tickets(running_app)
    assert ticket.status is TicketStatus.RESOLVED
