"""Hostile text through every place ticketbot re-posts what others wrote: nothing a customer or
an API client wrote reaches a team channel as a live broadcast, nothing is escaped twice, and
nothing we send leaves `&`, `<`, `>` raw in text we originated.

The text goes in through Slack (a message, a thread reply, an edit, `/ticket note`), a form,
an inbound webhook and the REST API, and comes out on the triage card, the triage thread, the
channel posts, the assignment DM, `/ticket list` and `/ticket show`, the Home tab and the
digest. Every call the emulator recorded, and every answer to a command, is then checked.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from app.apikeys.scopes import Scope
from app.slack.ids import ActionId
from app.slack_emulator import app_home_opened_event, message_changed_event, message_event, next_ts
from tests.api.helpers import api_client, api_key
from tests.sla.test_sla_flow import sweep
from tests.support.server import RunningApp, wait_until
from tests.tickets.helpers import add_member, tickets, watch
from tests.tickets.test_create_by_hand import filled, global_shortcut, submit
from tests.tickets.test_intake import card_in_triage, triage_thread
from tests.webhooks.helpers import inbound_source, post_inbound

CUSTOMER, AGENT, LEAD = "UCUSTOMER", "UAGENT", "ULEAD1"
# What a customer typed: @channel, @here and @eng picked from Slack's list (so they are
# mentions), and `&`, `<`, `>` of their own. The emulator's message builders deliver it as Slack
# does (SLACK_TEXT); typed into a form or sent by another system, it is plain text.
PLAIN = "Help <!channel> <!here> <!subteam^S0ENG|@eng> R&D <prod>"
SLACK_TEXT = "Help <!channel> <!here> <!subteam^S0ENG|@eng> R&amp;D &lt;prod&gt;"

BROADCAST = re.compile(r"<!(?:channel|here|everyone|group|subteam\^)", re.IGNORECASE)
DOUBLE_ESCAPED = re.compile(r"&amp;(?:amp|lt|gt);")
ENTITY = re.compile(r"&(?:amp|lt|gt);")
# mrkdwn / text: every `&` is an entity, every `<` opens a sequence that closes, a raw `>` only
# closes one or starts a quote line.
WELL_FORMED = re.compile(r"(?:[^&<>]|&(?:amp|lt|gt);|<[^<>\s][^<>]*>|(?:^|(?<=\n))>)*")


def texts(value: Any, plain: bool = False) -> Iterator[tuple[str, bool]]:
    """Every string Slack would show, with whether it is plain (not parsed) text."""
    if isinstance(value, dict):
        kind = value.get("type")
        for key, item in value.items():
            if key in ("text", "initial_value", "label", "placeholder", "title", "submit", "close"):
                yield from texts(
                    item, plain=plain or kind == "plain_text" or key == "initial_value"
                )
            elif key in ("blocks", "elements", "fields", "view", "accessory", "options", "element"):
                yield from texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from texts(item, plain)
    elif isinstance(value, str):
        yield value, plain


def assert_safe(payload: Any, where: str) -> None:
    for text, plain in texts(payload):
        assert not BROADCAST.search(text), f"broadcast in {where}: {text!r}"
        assert not DOUBLE_ESCAPED.search(text), f"escaped twice in {where}: {text!r}"
        if plain:
            assert not ENTITY.search(text), f"an entity shown literally in {where}: {text!r}"
        else:
            assert WELL_FORMED.fullmatch(text), f"unescaped text in {where}: {text!r}"


async def command(sender, text: str, user: str = AGENT) -> dict[str, Any]:
    response = await sender.send_command(text, user_id=user, channel_id="CSUPPORT")
    assert response.status_code == 200
    return response.json()


async def test_hostile_text_is_posted_safely_everywhere(
    running_app: RunningApp, sender, emulator, clock
):
    await watch(running_app)
    await add_member(running_app, AGENT)
    answers: list[dict[str, Any]] = []

    # Through Slack: a message, a reply in its thread, an edit.
    root = next_ts()
    await sender.send_event(message_event("CSUPPORT", CUSTOMER, PLAIN, ts=root))
    card = await wait_until(lambda: card_in_triage(emulator), message="triage card")
    await sender.send_event(
        message_event("CSUPPORT", CUSTOMER, PLAIN, ts=next_ts(), thread_ts=root)
    )
    await sender.send_event(message_changed_event("CSUPPORT", CUSTOMER, root, PLAIN + " (edited)"))
    answers.append(await command(sender, f"note T-1 {SLACK_TEXT}"))
    # Through an inbound webhook, the new-ticket form and the REST API: plain text.
    secret = await inbound_source(running_app, channel="CSUPPORT")
    inbound = {"external_id": "X-1", "subject": PLAIN, "description": PLAIN}
    assert (await post_inbound(running_app, "crm", secret, inbound)).status_code == 201
    modal = await global_shortcut(sender, emulator)
    assert (
        await submit(sender, filled(modal, subject=PLAIN, description=PLAIN, channel="CSUPPORT"))
        is not None
    )
    key = await api_key(running_app, Scope.TICKETS_READ, Scope.TICKETS_WRITE)
    async with api_client(running_app, key) as api:
        assert (await api.post("/api/tickets/1/notes", json={"text": PLAIN})).status_code == 201
        detail = (await api.get("/api/tickets/1")).json()
    # Out through the DM, the list, show, Home and the digest.
    answers.append(await command(sender, f"assign T-1 <@{AGENT}|agent>", user=LEAD))
    answers.append(await command(sender, "list"))
    answers.append(await command(sender, "show T-1"))
    await sender.send_event(app_home_opened_event(AGENT))
    await emulator.wait_for_calls("views.publish")
    clock.advance(days=1)
    await sweep(running_app)
    await wait_until(
        lambda: any("Daily digest" in m["text"] for m in emulator.messages("CTRIAGE")),
        message="digest",
    )
    await running_app.runtime.dispatcher.dispatch_once()

    # What people read: the subject as typed, shown once.
    # T-1 from Slack text (made readable, then edited), T-2 and T-3 as the webhook and the form
    # wrote them.
    subjects = [t.subject for t in await tickets(running_app)]
    assert subjects == ["Help @channel @here @eng R&D <prod> (edited)", PLAIN, PLAIN]
    assert detail["subject"] == subjects[0]
    assert {m["text"] for m in detail["messages"] if m["internal"]} >= {PLAIN}
    latest_card = card_in_triage(emulator)
    assert "R&amp;D &lt;prod&gt;" in str(latest_card["blocks"])
    mirrored = "\n".join(triage_thread(emulator, card["ts"]))
    assert "@\u2060channel" in mirrored and "@\u2060eng" in mirrored

    # Everything that went to Slack, and every answer to a command.
    calls = [c for c in emulator.calls() if c.method not in ("auth.test", "team.info")]
    assert {c.method for c in calls} >= {
        "chat.postMessage",
        "chat.update",
        "views.open",
        "views.publish",
    }
    for call in calls:
        assert_safe(call.args, f"{call.method} {call.args.get('channel', '')}")
    for answer in answers:
        assert_safe(answer, "a command's answer")
    assert any(ActionId.ASSIGN_TO_ME in str(c.args) for c in calls)
