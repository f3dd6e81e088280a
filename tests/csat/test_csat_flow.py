"""CSAT end to end: a ticket resolved through the triage card, timers swept with a controlled
clock, the prompt in the customer's thread, and signed block_actions and view_submission
requests from the requester (and from people who are not the requester)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from app.csat.enums import SurveyStatus
from app.csat.models import CsatSurvey
from app.slack.ids import ActionId, BlockId, CallbackId
from app.slack_emulator import message_event, next_ts
from tests.support.server import RunningApp, wait_until
from tests.tickets.helpers import add_member, event_kinds, tickets, watch
from tests.tickets.test_intake import card_in_triage, triage_thread
from tests.tickets.test_triage_card import click

CUSTOMER, AGENT, LEAD, BYSTANDER = "UCUSTOMER", "UAGENT", "ULEAD1", "UBYSTANDER"


async def open_and_resolve(app: RunningApp, sender, emulator, *, channel: str = "CSUPPORT") -> str:
    """A customer asks, an agent answers and resolves; returns the ticket's root ts."""
    root = next_ts()
    await sender.send_event(message_event(channel, CUSTOMER, "Export is broken", ts=root))
    card = await wait_until(lambda: card_in_triage(emulator), message="triage card")
    response = await click(sender, card, ActionId.RESOLVE, AGENT)
    assert response.status_code == 200
    return root


async def sweep(app: RunningApp) -> None:
    await app.runtime.timer_sweeper.sweep_until_idle()
    await app.runtime.dispatcher.dispatch_once()


def prompt_in(emulator, root: str, channel: str = "CSUPPORT") -> dict[str, Any] | None:
    for message in emulator.thread(channel, root):
        blocks = message.get("blocks") or []
        if any(block.get("block_id") == BlockId.CSAT_RATINGS for block in blocks) or (
            "survey has closed" in (message.get("text") or "")
        ):
            return message
    return None


async def surveys(app: RunningApp) -> list[CsatSurvey]:
    async with app.runtime.session_factory() as session:
        return list((await session.scalars(select(CsatSurvey).order_by(CsatSurvey.id))).all())


async def prompt_after_delay(app: RunningApp, sender, emulator, clock) -> tuple[str, dict]:
    root = await open_and_resolve(app, sender, emulator)
    clock.advance(minutes=10)
    await sweep(app)
    prompt = await wait_until(lambda: prompt_in(emulator, root), message="CSAT prompt")
    return root, prompt


async def rate(sender, prompt: dict, rating: int, user: str = CUSTOMER, channel: str = "CSUPPORT"):
    ratings = next(b for b in prompt["blocks"] if b.get("block_id") == BlockId.CSAT_RATINGS)
    button = next(e for e in ratings["elements"] if e["action_id"] == f"csat_rate_{rating}")
    return await sender.send_block_actions(
        [
            {
                "action_id": button["action_id"],
                "block_id": BlockId.CSAT_RATINGS,
                "value": button["value"],
            }
        ],
        user_id=user,
        channel_id=channel,
        message=prompt,
    )


async def skipped_reasons(app: RunningApp) -> list[str]:
    from app.tickets.models import TicketEvent

    async with app.runtime.session_factory() as session:
        events = await session.scalars(
            select(TicketEvent).where(TicketEvent.kind == "csat_skipped").order_by(TicketEvent.id)
        )
        return [event.data["reason"] for event in events]


def ephemerals(emulator, user: str) -> list[str]:
    return [
        call.args.get("text", "")
        for call in emulator.calls("chat.postEphemeral")
        if call.args.get("user") == user
    ]


async def setup(app: RunningApp) -> None:
    await watch(app)
    await add_member(app, AGENT)


async def test_prompt_is_posted_after_the_delay(running_app, sender, emulator, clock):
    await setup(running_app)
    root = await open_and_resolve(running_app, sender, emulator)
    [survey] = await surveys(running_app)
    assert survey.status is SurveyStatus.SCHEDULED and survey.requester_user_id == CUSTOMER
    assert survey.assignee_user_id is None

    clock.advance(minutes=9, seconds=59)
    await sweep(running_app)
    assert prompt_in(emulator, root) is None

    clock.advance(seconds=1)
    await sweep(running_app)
    prompt = await wait_until(lambda: prompt_in(emulator, root), message="CSAT prompt")
    assert f"<@{CUSTOMER}>" in prompt["text"] and "How did we do?" in prompt["text"]
    ratings = next(b for b in prompt["blocks"] if b.get("block_id") == BlockId.CSAT_RATINGS)
    assert [e["action_id"] for e in ratings["elements"]] == [f"csat_rate_{n}" for n in range(1, 6)]
    assert [e["text"]["text"] for e in ratings["elements"]] == ["😞", "🙁", "😐", "🙂", "😍"]
    [survey] = await wait_until(
        lambda: _if(surveys(running_app), lambda s: s[0].prompt_ts), message="prompt ts stored"
    )
    assert survey.status is SurveyStatus.SENT and survey.prompt_ts == prompt["ts"]
    assert "csat_sent" in await event_kinds(running_app, survey.ticket_id)


async def _if(rows_awaitable, predicate):
    rows = await rows_awaitable
    return rows if rows and predicate(rows) else None


async def test_reopen_before_the_delay_cancels_the_prompt(running_app, sender, emulator, clock):
    await setup(running_app)
    root = await open_and_resolve(running_app, sender, emulator)
    clock.advance(minutes=5)
    await sender.send_event(
        message_event("CSUPPORT", CUSTOMER, "Still broken", ts=next_ts(), thread_ts=root)
    )
    [ticket] = await tickets(running_app)
    assert ticket.status == "open"

    clock.advance(hours=1)
    await sweep(running_app)

    assert prompt_in(emulator, root) is None
    [survey] = await surveys(running_app)
    assert survey.status is SurveyStatus.CANCELLED
    assert "csat_cancelled" in await event_kinds(running_app, ticket.id)


async def test_only_the_requester_can_rate(running_app, sender, emulator, clock):
    await setup(running_app)
    _, prompt = await prompt_after_delay(running_app, sender, emulator, clock)

    response = await rate(sender, prompt, 5, user=BYSTANDER)

    assert response.status_code == 200
    [note] = await wait_until(lambda: ephemerals(emulator, BYSTANDER), message="refusal")
    assert note == f"Only <@{CUSTOMER}> can rate this."
    [survey] = await surveys(running_app)
    assert survey.rating is None


async def test_rating_thanks_in_place_and_the_last_click_counts(
    running_app, sender, emulator, clock
):
    await setup(running_app)
    root, prompt = await prompt_after_delay(running_app, sender, emulator, clock)

    await rate(sender, prompt, 4)
    [survey] = await surveys(running_app)
    assert survey.rating == 4  # committed before the acknowledgement
    updated = await wait_until(
        lambda: (lambda p: p if p and "Thanks" in p["text"] else None)(prompt_in(emulator, root)),
        message="prompt thanks",
    )
    assert updated["ts"] == prompt["ts"]  # edited in place, not posted anew
    assert "4/5" in updated["text"]

    clock.advance(hours=1)
    await rate(sender, updated, 5)
    [survey] = await surveys(running_app)
    assert survey.rating == 5
    await wait_until(lambda: "5/5" in prompt_in(emulator, root)["text"], message="re-rated")
    async with running_app.runtime.session_factory() as session:
        from app.tickets.models import TicketEvent

        rated = (
            await session.scalars(
                select(TicketEvent).where(TicketEvent.kind == "csat_rated").order_by(TicketEvent.id)
            )
        ).all()
    assert [(e.data["rating"], e.data["previous"], e.actor_id) for e in rated] == [
        (4, None, CUSTOMER),
        (5, 4, CUSTOMER),
    ]


async def test_comment_modal(running_app, sender, emulator, clock):
    await setup(running_app)
    root, prompt = await prompt_after_delay(running_app, sender, emulator, clock)
    await rate(sender, prompt, 3)
    rated = await wait_until(
        lambda: (lambda p: p if p and "Thanks" in p["text"] else None)(prompt_in(emulator, root)),
        message="prompt thanks",
    )
    ratings = next(b for b in rated["blocks"] if b.get("block_id") == BlockId.CSAT_RATINGS)
    comment_button = next(
        e for e in ratings["elements"] if e["action_id"] == ActionId.CSAT_ADD_COMMENT
    )

    # Someone else cannot open it.
    await sender.send_block_actions(
        [{"action_id": ActionId.CSAT_ADD_COMMENT, "value": comment_button["value"]}],
        user_id=BYSTANDER,
        channel_id="CSUPPORT",
        message=rated,
    )
    assert emulator.calls("views.open") == []
    await wait_until(lambda: ephemerals(emulator, BYSTANDER), message="refusal")

    await sender.send_block_actions(
        [{"action_id": ActionId.CSAT_ADD_COMMENT, "value": comment_button["value"]}],
        user_id=CUSTOMER,
        channel_id="CSUPPORT",
        message=rated,
    )
    [opened] = emulator.calls("views.open")
    modal = opened.args["view"]
    assert modal["callback_id"] == CallbackId.CSAT_COMMENT

    def submission(text: str) -> dict[str, Any]:
        return {
            "callback_id": modal["callback_id"],
            "private_metadata": modal["private_metadata"],
            "blocks": modal["blocks"],
            "state": {
                "values": {
                    BlockId.CSAT_COMMENT: {
                        ActionId.CSAT_COMMENT_INPUT: {"type": "plain_text_input", "value": text}
                    }
                }
            },
        }

    blank = await sender.send_view_submission(submission("   "), user_id=CUSTOMER)
    assert blank.status_code == 200
    assert blank.json() == {
        "response_action": "errors",
        "errors": {BlockId.CSAT_COMMENT: "Write a few words, or close this window."},
    }
    impostor = await sender.send_view_submission(submission("Great"), user_id=BYSTANDER)
    assert impostor.json()["response_action"] == "errors"

    sent = await sender.send_view_submission(
        submission("Fixed, but it took two days."), user_id=CUSTOMER
    )
    assert sent.status_code == 200 and not sent.content
    [survey] = await surveys(running_app)
    assert survey.comment == "Fixed, but it took two days."
    card = card_in_triage(emulator)
    await wait_until(
        lambda: any("took two days" in t for t in triage_thread(emulator, card["ts"])),
        message="comment shared with the team",
    )
    await wait_until(
        lambda: "comment" in prompt_in(emulator, root)["text"], message="prompt notes comment"
    )
    assert "csat_commented" in await event_kinds(running_app, survey.ticket_id)


async def test_one_reminder_after_a_day_when_unrated(running_app, sender, emulator, clock):
    await setup(running_app)
    root, _ = await prompt_after_delay(running_app, sender, emulator, clock)

    def reminders() -> list[str]:
        return [m["text"] for m in emulator.thread("CSUPPORT", root) if "reminder" in m["text"]]

    clock.advance(hours=23, minutes=59)
    await sweep(running_app)
    assert reminders() == []
    clock.advance(minutes=1)
    await sweep(running_app)
    [reminder] = await wait_until(reminders, message="reminder")
    assert reminder.startswith(f"<@{CUSTOMER}>")

    clock.advance(days=2)
    await sweep(running_app)
    assert len(reminders()) == 1


async def test_no_reminder_once_rated(running_app, sender, emulator, clock):
    await setup(running_app)
    root, prompt = await prompt_after_delay(running_app, sender, emulator, clock)
    await rate(sender, prompt, 5)
    clock.advance(days=2)
    await sweep(running_app)
    assert not [m for m in emulator.thread("CSUPPORT", root) if "reminder" in m["text"]]


async def test_expiry_closes_the_survey(running_app, sender, emulator, clock):
    await setup(running_app)
    root, prompt = await prompt_after_delay(running_app, sender, emulator, clock)

    clock.advance(days=7)
    await sweep(running_app)

    closed = await wait_until(
        lambda: (lambda p: p if "closed" in p["text"] else None)(prompt_in(emulator, root)),
        message="closed prompt",
    )
    assert closed["text"] == "This survey has closed."
    assert not any(block["type"] == "actions" for block in closed["blocks"])
    [survey] = await surveys(running_app)
    assert survey.status is SurveyStatus.EXPIRED

    await rate(sender, prompt, 5)  # a stale copy of the message, clicked late
    [note] = await wait_until(lambda: ephemerals(emulator, CUSTOMER), message="closed note")
    assert note == "This survey has closed."
    assert (await surveys(running_app))[0].rating is None


async def test_low_rating_alerts_the_triage_thread_once(running_app, sender, emulator, clock):
    await setup(running_app)
    _, prompt = await prompt_after_delay(running_app, sender, emulator, clock)
    card = card_in_triage(emulator)

    def alerts() -> list[str]:
        return [t for t in triage_thread(emulator, card["ts"]) if "follow up" in t]

    await rate(sender, prompt, 2)
    [alert] = await wait_until(alerts, message="low-rating alert")
    assert f"<@{CUSTOMER}> rated *T-1*" in alert and "2/5" in alert and f"<@{LEAD}>" in alert

    await rate(sender, prompt, 1)  # still low: no second alert
    await rate(sender, prompt, 5)
    await running_app.runtime.dispatcher.dispatch_once()
    assert len(alerts()) == 1


async def test_a_good_rating_raises_no_alert(running_app, sender, emulator, clock):
    await setup(running_app)
    _, prompt = await prompt_after_delay(running_app, sender, emulator, clock)
    await rate(sender, prompt, 4)
    await running_app.runtime.dispatcher.dispatch_once()
    card = card_in_triage(emulator)
    assert not [t for t in triage_thread(emulator, card["ts"]) if "follow up" in t]


async def command(sender, text: str, user: str = LEAD, channel: str = "CSUPPORT") -> str:
    response = await sender.send_command(text, user_id=user, channel_id=channel)
    assert response.status_code == 200
    return response.json()["text"]


async def test_channel_opt_out(running_app, sender, emulator, clock):
    await setup(running_app)
    reply = await command(sender, "csat off")
    assert "no longer followed by a rating prompt" in reply

    root = await open_and_resolve(running_app, sender, emulator)
    clock.advance(hours=1)
    await sweep(running_app)

    assert prompt_in(emulator, root) is None
    assert await surveys(running_app) == []
    assert await skipped_reasons(running_app) == ["the channel opted out"]
    assert "Not asked in: <#CSUPPORT>" in await command(sender, "csat")

    await command(sender, "csat on")
    assert "Not asked in" not in await command(sender, "csat")


async def test_account_opt_out(running_app, sender, emulator, clock):
    await setup(running_app)
    emulator.add_team("TACME00001", name="Acme Corp")
    await command(sender, "csat account acme corp off")
    root = next_ts()
    await sender.send_event(
        message_event("CSUPPORT", "UACME", "Help", ts=root, user_team="TACME00001")
    )
    card = await wait_until(lambda: card_in_triage(emulator), message="card")
    await wait_until(
        lambda: _if(tickets(running_app), lambda t: t[0].account_name), message="account name"
    )
    await click(sender, card, ActionId.RESOLVE, AGENT)
    clock.advance(hours=1)
    await sweep(running_app)
    assert await surveys(running_app) == []
    assert await skipped_reasons(running_app) == ["the account opted out"]
    assert "Accounts not asked: acme corp" in await command(sender, "csat")


async def test_internal_requesters_can_be_excluded(running_app, sender, emulator, clock):
    await setup(running_app)
    assert "Only external" in await command(sender, "csat internal off")
    await open_and_resolve(running_app, sender, emulator)
    assert await surveys(running_app) == []
    assert await skipped_reasons(running_app) == ["internal requesters are not asked"]


async def test_workspace_delay_and_switch(running_app, sender, emulator, clock):
    await setup(running_app)
    assert "30m after" in await command(sender, "csat delay 30m")
    root = await open_and_resolve(running_app, sender, emulator)
    clock.advance(minutes=29)
    await sweep(running_app)
    assert prompt_in(emulator, root) is None
    clock.advance(minutes=1)
    await sweep(running_app)
    await wait_until(lambda: prompt_in(emulator, root), message="prompt after 30m")


async def test_csat_can_be_switched_off_for_the_workspace(running_app, sender, emulator, clock):
    await setup(running_app)
    assert "off in this workspace" in await command(sender, "csat all off")
    await open_and_resolve(running_app, sender, emulator)
    assert await surveys(running_app) == []
    assert await skipped_reasons(running_app) == ["CSAT is off in this workspace"]
    assert "*CSAT* is off" in await command(sender, "csat")


async def test_only_leads_change_csat_settings(running_app, sender, emulator):
    await setup(running_app)
    assert await command(sender, "csat off", user=AGENT) == (
        "Sorry, only support leads can change CSAT settings."
    )
    assert "CSAT* is on" in await command(sender, "csat", user=AGENT)
    assert "only the support team" in await command(sender, "csat", user=CUSTOMER)


async def test_rating_clicks_from_another_workspace_are_refused(
    running_app, sender, emulator, clock
):
    await setup(running_app)
    _, prompt = await prompt_after_delay(running_app, sender, emulator, clock)
    ratings = next(b for b in prompt["blocks"] if b.get("block_id") == BlockId.CSAT_RATINGS)
    value = ratings["elements"][0]["value"]
    await sender.send_block_actions(
        [{"action_id": "csat_rate_1", "value": json.dumps({"nonsense": 1})}],
        user_id=CUSTOMER,
        channel_id="CSUPPORT",
    )
    await sender.send_block_actions(
        [{"action_id": "csat_rate_1", "value": value}],
        user_id=CUSTOMER,
        channel_id="CSUPPORT",
        team_id="TOTHER",
    )
    assert (await surveys(running_app))[0].rating is None
