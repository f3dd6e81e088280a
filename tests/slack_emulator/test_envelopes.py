"""SlackSender: Slack Connect and Enterprise Grid shapes, and checks of what the app answers."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from fastapi import FastAPI, Request, Response

from app.slack_emulator import SlackAnswerRefused, SlackSender, message_event

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


@dataclass
class Receiver:
    """An app that records what it gets and answers with ``answer`` (JSON) or ``raw``."""

    bodies: list[bytes] = field(default_factory=list)
    answer: Any = None
    raw: tuple[bytes, str] | None = None

    def json(self) -> dict[str, Any]:
        return json.loads(self.bodies[-1])

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.bodies[-1].decode()).items()}

    def payload(self) -> dict[str, Any]:
        return json.loads(self.form()["payload"])


@pytest.fixture
def receiver() -> Receiver:
    return Receiver()


@pytest.fixture
async def sender(receiver: Receiver) -> AsyncIterator[SlackSender]:
    app = FastAPI()

    @app.post("/slack/events")
    async def events(request: Request) -> Response:
        receiver.bodies.append(await request.body())
        if receiver.raw is not None:
            return Response(receiver.raw[0], media_type=receiver.raw[1])
        if receiver.answer is None:
            return Response(status_code=200)
        return Response(json.dumps(receiver.answer), media_type="application/json")

    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app))
    async with SlackSender("http://app", SECRET, client=client) as slack_sender:
        yield slack_sender
    await client.aclose()


# -- Events API envelopes ------------------------------------------------------------------------


async def test_default_envelope_is_the_installation(
    sender: SlackSender, receiver: Receiver
) -> None:
    await sender.send_event(message_event("C1", "U1", "hi"))
    envelope = receiver.json()
    assert envelope["team_id"] == envelope["context_team_id"] == "T0001"
    assert envelope["context_enterprise_id"] is None
    assert "enterprise_id" not in envelope
    assert envelope["authorizations"][0]["team_id"] == "T0001"


async def test_slack_connect_event_names_the_source_team_and_the_installation(
    sender: SlackSender, receiver: Receiver
) -> None:
    event = message_event("C1", "U9", "hi", user_team="T_CUSTOMER")
    await sender.send_event(event, team_id="T_CUSTOMER", is_ext_shared_channel=True)
    envelope = receiver.json()
    assert envelope["team_id"] == "T_CUSTOMER"
    assert envelope["is_ext_shared_channel"] is True
    assert envelope["context_team_id"] == "T0001"  # the channel is ours
    assert envelope["authorizations"] == [
        {
            "enterprise_id": None,
            "team_id": "T0001",
            "user_id": "UBOT",
            "is_bot": True,
            "is_enterprise_install": False,
        }
    ]
    assert envelope["event"]["user_team"] == "T_CUSTOMER"


async def test_grid_and_org_wide_install_envelopes(sender: SlackSender, receiver: Receiver) -> None:
    await sender.send_event(
        message_event("C1", "W1", "hi"),
        team_id="T_SOURCE",
        enterprise_id="E_SOURCE",
        installation_team_id="T_INSTALLED",
        installation_enterprise_id="E_INSTALLED",
        context_team_id="T_SOURCE",
    )
    grid = receiver.json()
    assert (grid["team_id"], grid["enterprise_id"]) == ("T_SOURCE", "E_SOURCE")
    assert grid["authorizations"][0]["team_id"] == "T_INSTALLED"
    assert grid["authorizations"][0]["enterprise_id"] == "E_INSTALLED"
    assert (grid["context_team_id"], grid["context_enterprise_id"]) == ("T_SOURCE", "E_SOURCE")

    await sender.send_event(
        message_event("C1", "W1", "hi"), enterprise_id="E1", is_enterprise_install=True
    )
    org = receiver.json()
    assert org["authorizations"][0] == {
        "enterprise_id": "E1",
        "team_id": None,
        "user_id": "UBOT",
        "is_bot": True,
        "is_enterprise_install": True,
    }
    assert org["enterprise_id"] == "E1"
    assert org["context_team_id"] == org["team_id"] == "T0001"


# -- interactivity -------------------------------------------------------------------------------


async def test_block_actions_from_a_slack_connect_user(
    sender: SlackSender, receiver: Receiver
) -> None:
    await sender.send_block_actions(
        [{"action_id": "assign"}], user_id="U9", channel_id="C1", user_team_id="T_OTHER"
    )
    payload = receiver.payload()
    assert payload["team"]["id"] == "T0001"  # the app's workspace
    assert payload["user"]["team_id"] == "T_OTHER"  # the clicker's
    assert payload["enterprise"] is None
    assert payload["is_enterprise_install"] is False


async def test_block_actions_in_a_grid_org(sender: SlackSender, receiver: Receiver) -> None:
    await sender.send_block_actions(
        [{"action_id": "assign"}],
        user_id="W1",
        channel_id="C1",
        enterprise_id="E1",
        enterprise_name="Sandbox Org",
        is_enterprise_install=True,
    )
    payload = receiver.payload()
    assert payload["team"] == {
        "id": "T0001",
        "domain": "acme",
        "enterprise_id": "E1",
        "enterprise_name": "Sandbox Org",
    }
    assert payload["enterprise"] == {"id": "E1", "name": "Sandbox Org"}
    assert payload["is_enterprise_install"] is True


async def test_view_submission_from_a_slack_connect_user(
    sender: SlackSender, receiver: Receiver
) -> None:
    await sender.send_view_submission(
        {"callback_id": "new_ticket", "state": {"values": {}}},
        user_id="W111",
        team_id="T-other-side",
        enterprise_id="E-other-side",
    )
    payload = receiver.payload()
    assert payload["team"]["id"] == payload["user"]["team_id"] == "T-other-side"
    assert payload["view"]["team_id"] == "T-other-side"
    assert payload["view"]["app_installed_team_id"] == "T0001"
    assert payload["enterprise"] == {"id": "E-other-side", "name": "E-other-side"}


async def test_shortcuts_and_commands_in_a_grid_org(
    sender: SlackSender, receiver: Receiver
) -> None:
    await sender.send_shortcut(
        "new_ticket", user_id="W1", enterprise_id="E1", user_team_id="T_OTHER"
    )
    shortcut = receiver.payload()
    assert shortcut["team"]["enterprise_id"] == "E1"
    assert shortcut["user"]["team_id"] == "T_OTHER"
    assert shortcut["enterprise"] == {"id": "E1", "name": "E1"}

    await sender.send_command(
        "help", user_id="W1", channel_id="C1", enterprise_id="E1", enterprise_name="Org Name"
    )
    form = receiver.form()
    assert (form["enterprise_id"], form["enterprise_name"]) == ("E1", "Org Name")
    assert form["is_enterprise_install"] == "false"
    await sender.send_command("help", user_id="U1", channel_id="C1")
    assert "enterprise_id" not in receiver.form()


# -- what the app answers ------------------------------------------------------------------------

INPUT_VIEW = {
    "callback_id": "new_ticket",
    "state": {"values": {}},
    "blocks": [
        {
            "type": "input",
            "block_id": "subject",
            "label": {"type": "plain_text", "text": "Subject"},
            "element": {"type": "plain_text_input", "action_id": "subject"},
        }
    ],
}


async def test_answers_slack_would_take_pass(sender: SlackSender, receiver: Receiver) -> None:
    receiver.answer = {"text": "Ticket T-1 created &amp; assigned", "response_type": "ephemeral"}
    await sender.send_command("new", user_id="U1", channel_id="C1")
    receiver.answer = {"response_action": "errors", "errors": {"subject": "Too long"}}
    await sender.send_view_submission(INPUT_VIEW, user_id="U1")
    receiver.answer = {"response_action": "clear"}
    await sender.send_view_submission(INPUT_VIEW, user_id="U1")
    receiver.raw = (b"Working on it", "text/plain")
    await sender.send_command("new", user_id="U1", channel_id="C1")


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (
            {"blocks": [{"type": "divider"}]},
            "text: a message with blocks needs a top-level text fallback",
        ),
        ({"text": "R&D"}, "text: raw '&' (write &amp;)"),
        ({"text": "<!here> look"}, "(emulator_broadcast_mention)"),
        ({"response_action": "errors"}, "only a view_submission may answer with a response_action"),
    ],
)
async def test_command_answers_slack_would_refuse_raise(
    sender: SlackSender, receiver: Receiver, answer: dict[str, Any], expected: str
) -> None:
    receiver.answer = answer
    with pytest.raises(SlackAnswerRefused) as info:
        await sender.send_command("new", user_id="U1", channel_id="C1")
    assert expected in str(info.value)
    assert isinstance(info.value, AssertionError)


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (
            {"response_action": "errors", "errors": {"nope": "Too long"}},
            "errors.nope: not the block_id of an input block in the submitted view",
        ),
        ({"response_action": "errors", "errors": {}}, "errors: must map input block_ids"),
        (
            {"response_action": "update", "view": {"type": "modal", "blocks": []}},
            "view.title: a modal needs a title",
        ),
        ({"response_action": "replace"}, "response_action: unknown: 'replace'"),
        (
            {"text": "thanks"},
            "a view_submission is answered with nothing or with a response_action",
        ),
    ],
)
async def test_view_submission_answers_slack_would_refuse_raise(
    sender: SlackSender, receiver: Receiver, answer: dict[str, Any], expected: str
) -> None:
    receiver.answer = answer
    with pytest.raises(SlackAnswerRefused) as info:
        await sender.send_view_submission(INPUT_VIEW, user_id="U1")
    assert expected in str(info.value)


async def test_answer_checks_can_be_switched_off(sender: SlackSender, receiver: Receiver) -> None:
    receiver.answer = {"blocks": [{"type": "nope"}]}
    sender.check_answers = False
    response = await sender.send_block_actions([{"action_id": "a"}], user_id="U1", channel_id="C1")
    assert response.json() == {"blocks": [{"type": "nope"}]}
