"""Creating a ticket by hand, end to end: signed shortcut (`message_action`, `shortcut`),
block_actions and view_submission requests; the modal and the channel post as recorded by the
emulator."""

from __future__ import annotations

import json
from typing import Any

from app.slack.ids import ActionId, BlockId, CallbackId
from app.slack_emulator import app_home_opened_event, message_event, next_ts
from app.tickets.enums import AuthorKind, Priority, TicketSource, TicketStatus
from tests.support.server import RunningApp, wait_until
from tests.tickets.helpers import (
    add_member,
    count_tickets,
    event_kinds,
    ticket_messages,
    tickets,
    watch,
)
from tests.tickets.test_intake import card_in_triage

CUSTOMER, AGENT = "UCUSTOMER", "UAGENT"
TEXT = "Exports fail since Monday\nThe CSV export times out after 30 s."


def a_message(text: str = TEXT, user: str = CUSTOMER, **extra: Any) -> dict[str, Any]:
    """A message as Slack puts it in a message shortcut's payload."""
    return {"type": "message", "user": user, "ts": next_ts(), "text": text, **extra}


def opened_views(emulator) -> list[dict[str, Any]]:
    """Modals opened, each with the id Slack gave it."""
    return [
        {
            **call.args["view"],
            "id": call.response["view"]["id"],
            "_trigger": call.args["trigger_id"],
        }
        for call in emulator.delivered("views.open")
    ]


def block(modal: dict[str, Any], block_id: str) -> dict[str, Any]:
    return next(b for b in modal["blocks"] if b.get("block_id") == block_id)


async def shortcut_on(
    sender, emulator, message: dict[str, Any], *, user: str = AGENT, channel="CGENERAL"
):
    before = len(opened_views(emulator))
    response = await sender.send_shortcut(
        CallbackId.CREATE_TICKET_FROM_MESSAGE, user_id=user, message=message, channel_id=channel
    )
    assert response.status_code == 200
    return (await wait_until(lambda: opened_views(emulator)[before:], message="views.open"))[-1]


async def global_shortcut(sender, emulator, *, user: str = AGENT) -> dict[str, Any]:
    before = len(opened_views(emulator))
    response = await sender.send_shortcut(CallbackId.CREATE_TICKET_SHORTCUT, user_id=user)
    assert response.status_code == 200
    return (await wait_until(lambda: opened_views(emulator)[before:], message="views.open"))[-1]


def filled(
    modal: dict[str, Any],
    *,
    subject: str | None = None,
    description: str | None = None,
    priority: str = "normal",
    requester: str | None = None,
    channel: str | None = None,
) -> dict[str, Any]:
    """The modal as submitted: the prefilled values unless told otherwise."""

    def initial(block_id: str, key: str) -> Any:
        return block(modal, block_id)["element"].get(key)

    subject = initial(BlockId.NEW_TICKET_SUBJECT, "initial_value") if subject is None else subject
    if description is None:
        description = initial(BlockId.NEW_TICKET_DESCRIPTION, "initial_value")
    requester = requester or initial(BlockId.NEW_TICKET_REQUESTER, "initial_user")
    channel = channel or initial(BlockId.NEW_TICKET_CHANNEL, "initial_conversation")
    values = {
        BlockId.NEW_TICKET_SUBJECT: {
            ActionId.NEW_TICKET_SUBJECT: {"type": "plain_text_input", "value": subject or None}
        },
        BlockId.NEW_TICKET_DESCRIPTION: {
            ActionId.NEW_TICKET_DESCRIPTION: {
                "type": "plain_text_input",
                "value": description or None,
            }
        },
        BlockId.NEW_TICKET_PRIORITY: {
            ActionId.NEW_TICKET_PRIORITY: {
                "type": "static_select",
                "selected_option": {
                    "text": {"type": "plain_text", "text": priority.title()},
                    "value": priority,
                },
            }
        },
        BlockId.NEW_TICKET_REQUESTER: {
            ActionId.NEW_TICKET_REQUESTER: {"type": "users_select", "selected_user": requester}
        },
        BlockId.NEW_TICKET_CHANNEL: {
            ActionId.NEW_TICKET_CHANNEL: {
                "type": "conversations_select",
                "selected_conversation": channel,
            }
        },
    }
    return {
        "id": modal["id"],
        "callback_id": modal["callback_id"],
        "private_metadata": modal["private_metadata"],
        "blocks": modal["blocks"],
        "state": {"values": values},
    }


async def submit(sender, view: dict[str, Any], user: str = AGENT) -> dict[str, Any] | None:
    response = await sender.send_view_submission(view, user_id=user)
    assert response.status_code == 200
    return response.json() if response.content else None


async def setup(app: RunningApp) -> None:
    await watch(app)
    await add_member(app, AGENT)


# -- from a message --------------------------------------------------------------------------


async def test_message_shortcut_opens_the_modal_prefilled(running_app, sender, emulator):
    await setup(running_app)
    message = a_message()

    modal = await shortcut_on(sender, emulator, message)

    assert modal["type"] == "modal" and modal["callback_id"] == CallbackId.CREATE_TICKET_MODAL
    assert modal["_trigger"]  # the shortcut's own trigger id, used at once
    subject = block(modal, BlockId.NEW_TICKET_SUBJECT)
    assert subject["optional"] is False
    assert subject["element"]["initial_value"] == "Exports fail since Monday"
    assert subject["element"]["max_length"] == 255
    description = block(modal, BlockId.NEW_TICKET_DESCRIPTION)["element"]
    assert description["multiline"] is True and description["initial_value"] == TEXT
    priority = block(modal, BlockId.NEW_TICKET_PRIORITY)["element"]
    assert priority["type"] == "static_select"
    assert [o["value"] for o in priority["options"]] == ["low", "normal", "high", "urgent"]
    assert priority["initial_option"]["value"] == "normal"
    requester = block(modal, BlockId.NEW_TICKET_REQUESTER)["element"]
    assert requester["type"] == "users_select" and requester["initial_user"] == CUSTOMER
    channel = block(modal, BlockId.NEW_TICKET_CHANNEL)["element"]
    assert channel["type"] == "conversations_select"
    assert channel["initial_conversation"] == "CGENERAL"
    assert json.loads(modal["private_metadata"]) == {
        "channel": "CGENERAL",
        "ts": message["ts"],
        "author": CUSTOMER,
    }
    assert await count_tickets(running_app) == 0  # nothing until it is submitted


async def test_the_form_shows_a_message_as_people_read_it(running_app, sender, emulator):
    """A message shortcut's payload carries Slack text; a form's initial_value is not parsed, so
    it gets the text as read (no `&amp;`, names for mentions), and the card escapes it once."""
    await setup(running_app)
    message = a_message("R&amp;D &lt;prod&gt; is down for <@U0ANN|ann>\n<!here> please look")

    modal = await shortcut_on(sender, emulator, message)

    subject = block(modal, BlockId.NEW_TICKET_SUBJECT)["element"]["initial_value"]
    description = block(modal, BlockId.NEW_TICKET_DESCRIPTION)["element"]["initial_value"]
    assert subject == "R&D <prod> is down for @ann"
    assert description == "R&D <prod> is down for @ann\n@here please look"
    assert await submit(sender, filled(modal)) is not None
    card = await wait_until(lambda: card_in_triage(emulator), message="triage card")
    assert "R&amp;D &lt;prod&gt; is down for @ann" in card["blocks"][0]["text"]["text"]


async def test_a_ticket_made_from_a_message_follows_its_thread(running_app, sender, emulator):
    await setup(running_app)
    message = a_message()
    modal = await shortcut_on(sender, emulator, message)

    answer = await submit(sender, filled(modal, priority="high"))

    assert answer["response_action"] == "update"
    assert "*T-1* is open: Exports fail since Monday" in json.dumps(answer["view"])
    [ticket] = await tickets(running_app)  # committed before the answer
    assert (ticket.source, ticket.priority, ticket.status) == (
        TicketSource.COMMAND,
        Priority.HIGH,
        TicketStatus.NEW,
    )
    assert (ticket.channel_id, ticket.root_ts, ticket.requester_user_id) == (
        "CGENERAL",
        message["ts"],
        CUSTOMER,
    )
    assert ticket.triage_channel_id == "CTRIAGE"
    assert ticket.first_response_due_at is not None and ticket.resolution_due_at is not None
    assert ticket.permalink.endswith(f"/archives/CGENERAL/p{message['ts'].replace('.', '')}")
    [first] = await ticket_messages(running_app, ticket.id)
    assert (first.ts, first.author_user_id, first.author_kind, first.text) == (
        message["ts"],
        CUSTOMER,
        AuthorKind.CUSTOMER,
        TEXT,
    )
    kinds = await event_kinds(running_app, ticket.id)
    assert kinds[:2] == ["created", "message_added"]
    card = await wait_until(lambda: card_in_triage(emulator), message="triage card")
    assert "T-1" in card["text"] and "Exports fail since Monday" in card["text"]
    assert emulator.messages("CGENERAL") == []  # the customer's own message is the root

    await sender.send_event(
        message_event("CGENERAL", CUSTOMER, "Any news?", ts=next_ts(), thread_ts=message["ts"])
    )
    await sender.send_event(
        message_event("CGENERAL", AGENT, "On it", ts=next_ts(), thread_ts=message["ts"])
    )

    texts = [m.text for m in await ticket_messages(running_app, ticket.id)]
    assert texts == [TEXT, "Any news?", "On it"]
    [ticket] = await tickets(running_app)
    assert ticket.first_response_at is not None and ticket.status is TicketStatus.OPEN


async def test_a_second_submission_opens_no_second_ticket(running_app, sender, emulator):
    await setup(running_app)
    message = a_message()
    modal = await shortcut_on(sender, emulator, message)
    view = filled(modal)

    first = await submit(sender, view)
    again = await submit(sender, view)  # the same form, sent twice

    assert first["response_action"] == again["response_action"] == "update"
    assert await count_tickets(running_app) == 1

    # Another form for the same message is told which ticket it is.
    other = await shortcut_on(sender, emulator, message)
    answer = await submit(sender, filled(other))
    assert answer == {
        "response_action": "errors",
        "errors": {BlockId.NEW_TICKET_SUBJECT: "This message is already T-1."},
    }
    assert await count_tickets(running_app) == 1


async def test_a_watched_message_that_already_opened_a_ticket(running_app, sender, emulator):
    await setup(running_app)
    ts = next_ts()
    await sender.send_event(message_event("CSUPPORT", CUSTOMER, "Login loops", ts=ts))
    modal = await shortcut_on(sender, emulator, a_message("Login loops", ts=ts), channel="CSUPPORT")
    answer = await submit(sender, filled(modal))
    assert answer["errors"] == {BlockId.NEW_TICKET_SUBJECT: "This message is already T-1."}


async def test_the_modals_validation_errors(running_app, sender, emulator):
    await setup(running_app)
    modal = await shortcut_on(sender, emulator, a_message())

    async def errors(**values: Any) -> dict[str, str]:
        answer = await submit(sender, {**filled(modal, **values), "id": f"V{next_ts()}"})
        assert answer["response_action"] == "errors"
        return answer["errors"]

    assert await errors(subject="   ") == {BlockId.NEW_TICKET_SUBJECT: "Write a subject."}
    assert await errors(subject="x" * 256) == {
        BlockId.NEW_TICKET_SUBJECT: "Keep the subject to 255 characters (it has 256)."
    }
    assert await errors(priority="critical") == {
        BlockId.NEW_TICKET_PRIORITY: "Unknown priority 'critical'."
    }
    assert await errors(channel="COTHER") == {
        BlockId.NEW_TICKET_CHANNEL: "A ticket made from a message stays in that message's channel."
    }
    assert await count_tickets(running_app) == 0
    assert await submit(sender, filled(modal, subject="x" * 255)) is not None
    assert (await tickets(running_app))[0].subject == "x" * 255


# -- without a message -----------------------------------------------------------------------


async def test_global_shortcut_posts_in_the_channel_and_the_post_becomes_the_root(
    running_app, sender, emulator
):
    await watch(running_app, "CSUPPORT", triage_channel_id="CTRIAGE2")
    await add_member(running_app, AGENT)

    modal = await global_shortcut(sender, emulator)

    assert json.loads(modal["private_metadata"]) == {}
    for block_id in (BlockId.NEW_TICKET_SUBJECT, BlockId.NEW_TICKET_DESCRIPTION):
        assert "initial_value" not in block(modal, block_id)["element"]
    assert "initial_user" not in block(modal, BlockId.NEW_TICKET_REQUESTER)["element"]

    answer = await submit(
        sender,
        filled(
            modal,
            subject="Invoice is wrong",
            description="Called in: January invoice lists 12 seats, we have 10.",
            requester=CUSTOMER,
            channel="CSUPPORT",
        ),
    )

    assert answer["response_action"] == "update"
    [ticket] = await tickets(running_app)
    assert (ticket.channel_id, ticket.root_ts) == ("CSUPPORT", None)
    assert ticket.triage_channel_id == "CTRIAGE2"  # the channel's own triage channel
    [description] = await ticket_messages(running_app, ticket.id)
    assert description.text.startswith("Called in") and description.ts.startswith("form-")
    assert description.author_kind is AuthorKind.CUSTOMER

    [post] = await wait_until(lambda: emulator.messages("CSUPPORT"), message="channel post")
    assert post["text"] == f"<@{CUSTOMER}> we've opened *T-1* for you: Invoice is wrong"
    ticket = await wait_until(
        lambda: _first_with_root(running_app), message="the post's ts stored as the root"
    )
    assert ticket.root_ts == post["ts"] and ticket.permalink
    await wait_until(lambda: card_in_triage(emulator, "CTRIAGE2"), message="card")

    await sender.send_event(
        message_event(
            "CSUPPORT", CUSTOMER, "Thanks! Here's the PDF", ts=next_ts(), thread_ts=post["ts"]
        )
    )
    texts = [m.text for m in await ticket_messages(running_app, ticket.id)]
    assert texts[-1] == "Thanks! Here's the PDF"
    assert await count_tickets(running_app) == 1


async def _first_with_root(app: RunningApp):
    found = await tickets(app)
    return found[0] if found and found[0].root_ts else None


async def test_without_a_channel_nothing_is_posted(running_app, sender, emulator):
    await setup(running_app)
    modal = await global_shortcut(sender, emulator)

    await submit(sender, filled(modal, subject="Phone call: reset 2FA", requester=CUSTOMER))

    [ticket] = await tickets(running_app)
    assert (ticket.channel_id, ticket.root_ts, ticket.requester_user_id) == (None, None, CUSTOMER)
    await wait_until(lambda: card_in_triage(emulator), message="card")
    assert [c.args["channel"] for c in emulator.calls("chat.postMessage")] == ["CTRIAGE"]
    assert await ticket_messages(running_app, ticket.id) == []  # no description given


async def test_the_home_tabs_new_ticket_button(running_app, sender, emulator):
    await setup(running_app)
    await sender.send_event(app_home_opened_event(AGENT))
    call = await wait_until(lambda: emulator.delivered("views.publish"), message="home")
    home = call[-1].args["view"]
    [button] = [
        e
        for b in home["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == ActionId.CREATE_TICKET
    ]

    await sender.send_block_actions(
        [{"action_id": button["action_id"], "value": button["value"]}],
        user_id=AGENT,
        view={"id": call[-1].response["view"]["id"], "type": "home"},
    )

    [modal] = opened_views(emulator)
    assert modal["callback_id"] == CallbackId.CREATE_TICKET_MODAL


# -- who may ---------------------------------------------------------------------------------


async def test_only_the_team_creates_tickets_by_hand(running_app, sender, emulator):
    await setup(running_app)

    refusal = await shortcut_on(sender, emulator, a_message(), user=CUSTOMER)
    assert "submit" not in refusal and "callback_id" not in refusal
    assert "only support agents and leads can create tickets" in json.dumps(refusal)
    global_refusal = await global_shortcut(sender, emulator, user=CUSTOMER)
    assert "only support agents and leads" in json.dumps(global_refusal)

    # A form submitted anyway (built by hand, or the person left the team meanwhile).
    modal = await shortcut_on(sender, emulator, a_message())
    answer = await submit(sender, filled(modal), user=CUSTOMER)
    assert answer == {
        "response_action": "errors",
        "errors": {
            BlockId.NEW_TICKET_SUBJECT: "Sorry, only support agents and leads can create tickets."
        },
    }
    assert await count_tickets(running_app) == 0


async def test_a_modal_that_does_not_open_is_explained(running_app, sender, emulator):
    await setup(running_app)
    emulator.fail_next("views.open", status=200, error="expired_trigger_id")

    response = await sender.send_shortcut(
        CallbackId.CREATE_TICKET_FROM_MESSAGE,
        user_id=AGENT,
        message=a_message(),
        channel_id="CGENERAL",
    )

    assert response.status_code == 200
    [note] = await wait_until(
        lambda: emulator.delivered("chat.postEphemeral"), message="ephemeral note"
    )
    assert note.args["user"] == AGENT and note.args["channel"] == "CGENERAL"
    assert "did not open" in note.args["text"]
