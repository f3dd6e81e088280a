"""Auto-assignment per watched channel: round robin and least loaded, agents' capacity and
working hours, the DM to the assignee. The test clock starts Monday 2026-01-05 09:00 UTC, inside
the default business hours (Monday to Friday, 09:00-17:00 UTC)."""

from __future__ import annotations

from datetime import UTC, datetime

from app.slack_emulator import message_event, next_ts
from tests.support.server import RunningApp, wait_until
from tests.tickets.helpers import add_member, tickets, watch
from tests.triage.test_ticket_commands import command

ANN, BOB, CAT = "UANN", "UBOB", "UCAT"


async def new_ticket(app: RunningApp, sender, text: str = "Help") -> None:
    """A new customer's question; the ticket is committed before Slack gets its answer."""
    response = await sender.send_event(
        message_event("CSUPPORT", f"UC{next_ts()[-6:]}", text, ts=next_ts())
    )
    assert response.status_code == 200


async def assignees(app: RunningApp) -> list[str | None]:
    return [ticket.assignee_user_id for ticket in await tickets(app)]


async def team_of_three(app: RunningApp) -> None:
    await watch(app)
    for agent in (ANN, BOB, CAT):
        await add_member(app, agent)


async def test_round_robin_with_dm_and_card(running_app, sender, emulator):
    await team_of_three(running_app)
    reply = await command(sender, "autoassign round_robin")
    assert "now go in turn" in reply

    for _ in range(4):
        await new_ticket(running_app, sender)

    assert await assignees(running_app) == [ANN, BOB, CAT, ANN]
    dm = await wait_until(lambda: emulator.messages(BOB), message="DM to Bob")
    assert dm[0]["text"].startswith("You've been assigned *T-2*")
    assert "round robin" in dm[0]["text"]

    def cards_show_assignees() -> bool:
        cards = [m for m in emulator.messages("CTRIAGE") if m.get("thread_ts") in (None, m["ts"])]
        return len(cards) == 4 and all(
            f"<@{who}>" in str(card["blocks"])
            for card, who in zip(cards, [ANN, BOB, CAT, ANN], strict=True)
        )

    await wait_until(cards_show_assignees, message="cards show the assignees")


async def test_least_loaded_and_capacity(running_app, sender, emulator):
    await team_of_three(running_app)
    await command(sender, "autoassign least_loaded")
    await command(sender, f"team capacity <@{CAT}|cat> 1")

    for _ in range(5):
        await new_ticket(running_app, sender)

    # Cat stops at one open ticket; Ann and Bob share the rest evenly.
    loads = await assignees(running_app)
    assert loads.count(CAT) == 1
    assert sorted([loads.count(ANN), loads.count(BOB)]) == [2, 2]

    await command(sender, "resolve T-1", user=ANN)  # frees a slot somewhere
    await command(sender, f"team capacity <@{ANN}|ann> 1")
    await command(sender, f"team capacity <@{BOB}|bob> 1")
    await command(sender, f"team capacity <@{CAT}|cat> 1")
    await new_ticket(running_app, sender)
    assert (await assignees(running_app))[-1] is None  # everyone is full


async def test_working_hours(running_app, sender, emulator, clock):
    await team_of_three(running_app)
    await command(sender, "autoassign round_robin")
    # Ann works Sydney hours (it is 20:00 there), Bob is fine, Cat only works weekends.
    assert "mon-fri 09:00-17:00 Australia/Sydney" in await command(
        sender, f"team hours <@{ANN}|ann> Australia/Sydney 09:00-17:00"
    )
    await command(sender, f"team hours <@{CAT}|cat> UTC 09:00-17:00 days=sat-sun")

    await new_ticket(running_app, sender)
    await new_ticket(running_app, sender)
    assert await assignees(running_app) == [BOB, BOB]

    clock.set(datetime(2026, 1, 10, 10, tzinfo=UTC))  # Saturday: only Cat works
    await new_ticket(running_app, sender)
    assert (await assignees(running_app))[-1] == CAT

    clock.set(datetime(2026, 1, 10, 20, tzinfo=UTC))  # Saturday night: nobody
    await new_ticket(running_app, sender)
    assert (await assignees(running_app))[-1] is None


async def test_agents_set_their_own_hours_leads_set_everything(running_app, sender):
    await team_of_three(running_app)
    assert "picks <@UANN> during" in await command(
        sender, f"team hours <@{ANN}|ann> Europe/Berlin 08:00-16:00", user=ANN
    )
    assert await command(sender, f"team hours <@{BOB}|bob> none", user=ANN) == (
        "Sorry, only support leads can change someone else's hours."
    )
    assert await command(sender, f"team capacity <@{ANN}|ann> 3", user=ANN) == (
        "Sorry, only support leads can change capacities."
    )
    assert await command(sender, "autoassign least_loaded", user=ANN) == (
        "Sorry, only support leads can change auto-assignment."
    )
    assert "Mars/Olympus" in await command(
        sender, f"team hours <@{ANN}|ann> Mars/Olympus 09:00-17:00"
    )
    assert "not on the support team" in await command(sender, "team capacity <@UNOBODY> 3")
    assert (
        "isn't watched"
        in (await command(sender, "autoassign round_robin", channel="COTHER")).lower()
    )


async def test_off_by_default(running_app, sender):
    await team_of_three(running_app)
    await new_ticket(running_app, sender)
    assert await assignees(running_app) == [None]
