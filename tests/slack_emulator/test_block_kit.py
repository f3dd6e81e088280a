"""Block Kit validation: the pure checks, and the emulator refusing with them."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from app.slack_emulator import SlackEmulator, check_message, message_problems, view_problems


def plain(text: str, **extra: Any) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, **extra}


def mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text}


def option(text: str, value: str) -> dict[str, Any]:
    return {"text": plain(text), "value": value}


# Every block and element type ticketbot sends, well formed: the checks must pass them all.
TICKETBOT_BLOCKS: list[dict[str, Any]] = [
    {"type": "header", "text": plain("Ticket T-42", emoji=True)},
    {"type": "section", "block_id": "summary", "text": mrkdwn("*Printer* &amp; scanner")},
    {"type": "section", "fields": [mrkdwn("*Status*\nOpen"), plain("Priority: high")]},
    {
        "type": "section",
        "text": mrkdwn("Assigned to <@U123>"),
        "accessory": {
            "type": "overflow",
            "action_id": "more",
            "options": [option("Reopen", "reopen"), option("Close", "close")],
        },
    },
    {"type": "context", "elements": [mrkdwn("Opened <!date^1700000000^{ago}|2023-11-14>")]},
    {
        "type": "actions",
        "block_id": "triage",
        "elements": [
            {
                "type": "button",
                "action_id": "assign",
                "text": plain("Assign to me", emoji=True),
                "value": '{"ticket_id":42}',
                "style": "primary",
                "accessibility_label": "Assign ticket 42 to me",
            },
            {
                "type": "button",
                "action_id": "resolve",
                "text": plain("Resolve"),
                "value": "42",
                "confirm": {
                    "title": plain("Resolve?"),
                    "text": mrkdwn("The requester gets a survey."),
                    "confirm": plain("Resolve"),
                    "deny": plain("Cancel"),
                },
            },
            {
                "type": "static_select",
                "action_id": "priority",
                "placeholder": plain("Priority"),
                "options": [option("Low", "low"), option("High", "high")],
                "initial_option": option("High", "high"),
            },
        ],
    },
    {"type": "divider"},
    {
        "type": "rich_text",
        "elements": [
            {
                "type": "rich_text_section",
                "elements": [
                    {"type": "text", "text": "a < b & c"},
                    {"type": "user", "user_id": "U123"},
                    {"type": "link", "url": "https://example.com", "text": "docs"},
                ],
            },
            {
                "type": "rich_text_quote",
                "elements": [{"type": "text", "text": "quoted", "style": {"italic": True}}],
            },
        ],
    },
]

MODAL_INPUTS: list[dict[str, Any]] = [
    {
        "type": "input",
        "block_id": "subject",
        "label": plain("Subject"),
        "hint": plain("One line"),
        "element": {
            "type": "plain_text_input",
            "action_id": "subject",
            "max_length": 150,
            "initial_value": "Printer & scanner <broken>",
        },
    },
    {
        "type": "input",
        "block_id": "description",
        "label": plain("Description"),
        "optional": True,
        "element": {
            "type": "plain_text_input",
            "action_id": "description",
            "multiline": True,
            "placeholder": plain("What happened?"),
        },
    },
    {
        "type": "input",
        "block_id": "priority",
        "label": plain("Priority"),
        "element": {
            "type": "static_select",
            "action_id": "priority",
            "options": [option("Low", "low"), option("High", "high")],
            "initial_option": option("Low", "low"),
        },
    },
    {
        "type": "input",
        "block_id": "requester",
        "label": plain("Requester"),
        "element": {"type": "users_select", "action_id": "requester", "initial_user": "U1"},
    },
    {
        "type": "input",
        "block_id": "channel",
        "label": plain("Channel"),
        "element": {
            "type": "conversations_select",
            "action_id": "channel",
            "filter": {"include": ["public", "private"]},
            "initial_conversation": "C1",
        },
    },
    {
        "type": "input",
        "block_id": "watchers",
        "label": plain("Watchers"),
        "element": {"type": "multi_users_select", "action_id": "watchers"},
    },
    {
        "type": "input",
        "block_id": "tags",
        "label": plain("Tags"),
        "element": {
            "type": "multi_static_select",
            "action_id": "tags",
            "options": [option("Hardware", "hw"), option("Network", "net")],
        },
    },
    {
        "type": "input",
        "block_id": "channels",
        "label": plain("Also in"),
        "element": {"type": "multi_conversations_select", "action_id": "channels"},
    },
]

MODAL: dict[str, Any] = {
    "type": "modal",
    "callback_id": "new_ticket",
    "private_metadata": '{"source": null}',
    "title": plain("New ticket"),
    "submit": plain("Create"),
    "close": plain("Cancel"),
    "blocks": MODAL_INPUTS,
}


def test_everything_ticketbot_sends_passes() -> None:
    assert message_problems({"text": "Ticket T-42", "blocks": TICKETBOT_BLOCKS}) == []
    assert view_problems(MODAL, surface="modal") == []
    assert view_problems({"type": "home", "blocks": TICKETBOT_BLOCKS}, surface="home") == []


@pytest.mark.parametrize(
    ("block", "problem"),
    [
        ({"type": "sectoin", "text": mrkdwn("x")}, "blocks[0].type: unknown block type 'sectoin'"),
        (
            {"type": "section", "text": mrkdwn("x"), "acessory": {"type": "divider"}},
            "blocks[0].acessory: unknown field",
        ),
        (
            {"type": "actions", "elements": [{"type": "buton", "action_id": "a"}]},
            "blocks[0].elements[0].type: unknown element type 'buton'",
        ),
        (
            {
                "type": "actions",
                "elements": [{"type": "button", "action-id": "a", "text": plain("b")}],
            },
            "blocks[0].elements[0].action-id: unknown field",
        ),
        (
            {"type": "header", "text": mrkdwn("x")},
            "blocks[0].text: must be plain_text (a header's text)",
        ),
        (
            {
                "type": "actions",
                "elements": [{"type": "button", "action_id": "a", "text": mrkdwn("b")}],
            },
            "blocks[0].elements[0].text: must be plain_text (a button's text)",
        ),
        (
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "static_select",
                        "action_id": "s",
                        "options": [{"text": mrkdwn("A"), "value": "a"}],
                    }
                ],
            },
            "blocks[0].elements[0].options[0].text: must be plain_text "
            "(an option's text in a select or overflow menu)",
        ),
        (
            {
                "type": "input",
                "label": plain("L"),
                "element": {
                    "type": "plain_text_input",
                    "action_id": "p",
                    "placeholder": mrkdwn("p"),
                },
            },
            "blocks[0].element.placeholder: must be plain_text (a placeholder)",
        ),
        (
            {
                "type": "input",
                "label": mrkdwn("L"),
                "element": {"type": "plain_text_input", "action_id": "p"},
            },
            "blocks[0].label: must be plain_text (an input's label)",
        ),
        (
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "action_id": "a",
                        "text": plain("b"),
                        "confirm": {
                            "title": mrkdwn("t"),
                            "text": mrkdwn("x"),
                            "confirm": plain("y"),
                            "deny": plain("n"),
                        },
                    }
                ],
            },
            "blocks[0].elements[0].confirm.title: "
            "must be plain_text (a confirmation dialog's title)",
        ),
        (
            {
                "type": "actions",
                "elements": [
                    {"type": "button", "action_id": "a", "text": plain("b")},
                    {"type": "button", "action_id": "a", "text": plain("c")},
                ],
            },
            "blocks[0].elements[1].action_id: 'a' is used twice in this block",
        ),
        (
            {
                "type": "context",
                "elements": [{"type": "button", "action_id": "a", "text": plain("b")}],
            },
            "blocks[0].elements[0]: "
            "a context block holds only images and text objects, not 'button'",
        ),
        (
            {"type": "section", "text": mrkdwn("x" * 3001)},
            "blocks[0]: text attribute cannot exceed 3000 characters",
        ),
        (
            {
                "type": "actions",
                "elements": [{"type": "button", "action_id": "a", "text": plain("b" * 76)}],
            },
            "blocks[0].elements[0]: text attribute cannot exceed 75 characters",
        ),
        (
            {
                "type": "actions",
                "elements": [
                    {"type": "static_select", "action_id": "s", "options": [option("A" * 76, "a")]}
                ],
            },
            "blocks[0].elements[0].options[0]: text attribute cannot exceed 75 characters",
        ),
        (
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "static_select",
                        "action_id": "s",
                        "options": [{"label": "A", "value": "a"}],
                    }
                ],
            },
            "blocks[0].elements[0].options[0].label: unknown field",
        ),
        ({"type": "actions"}, "blocks[0]: missing required field 'elements'"),
        ({"type": "actions", "elements": []}, "blocks[0].elements: must not be empty"),
        (
            {"type": "section", "text": "just a string"},
            "blocks[0].text: must be a text object, not a string",
        ),
        (
            {"type": "section", "text": {"type": "mrkdwn", "text": "x", "emoji": True}},
            "blocks[0].text: unknown field 'emoji'",
        ),
        (
            {
                "type": "rich_text",
                "elements": [
                    {"type": "rich_text_section", "elements": [{"type": "txt", "text": "x"}]}
                ],
            },
            "blocks[0].elements[0].elements[0]: not understood (type 'txt'?)",
        ),
    ],
)
def test_what_slack_refuses_is_found_and_located(block: dict[str, Any], problem: str) -> None:
    assert message_problems({"text": "fallback", "blocks": [block]}) == [problem]


def test_message_level_rules() -> None:
    assert message_problems({"text": "x", "blocks": [{"type": "divider"}] * 51}) == [
        "blocks: 51 blocks; a message holds at most 50"
    ]
    duplicate = [{"type": "divider", "block_id": "a"}, {"type": "divider", "block_id": "a"}]
    assert message_problems({"text": "x", "blocks": duplicate}) == [
        "blocks[1].block_id: 'a' is used twice"
    ]
    assert [p.error for p in check_message({"blocks": "[not json"})] == ["invalid_blocks_format"]
    assert [p.error for p in check_message({"blocks": {"type": "divider"}})] == [
        "invalid_blocks_format"
    ]
    assert message_problems({"text": "x", "blocks": ["divider"]}) == [
        "blocks[0]: must be a block object"
    ]


def test_blocks_need_a_text_fallback() -> None:
    blocks = [{"type": "divider"}]
    [problem] = check_message({"blocks": blocks, "text": "  "})
    assert (problem.error, str(problem)) == (
        "no_text",
        "text: a message with blocks needs a top-level text fallback "
        "(notifications and screen readers show it)",
    )
    assert check_message({"blocks": blocks, "markdown_text": "**hi**"}) == []
    assert check_message({"blocks": blocks}, rules=_rules(text_fallback=False)) == []


def test_view_rules() -> None:
    input_block = MODAL_INPUTS[0]
    assert view_problems({**MODAL, "type": "home"}, surface="modal") == [
        "view.type: must be 'modal', not 'home'",
        "view: home view cannot have submit and close",
    ]
    assert view_problems(MODAL, surface="home") == ["view.type: must be 'home', not 'modal'"]
    assert view_problems({"type": "modal", "blocks": [input_block]}, surface="modal") == [
        "view.title: a modal needs a title",
        "view.submit: a modal with an input block needs one",
    ]
    assert view_problems({"type": "modal", "title": plain("T")}, surface="modal") == [
        "view.blocks: required: an array of blocks"
    ]
    too_long = {**MODAL, "title": plain("A title far longer than 24")}
    assert view_problems(too_long, surface="modal") == [
        "view: title must be between 1 and 24 characters"
    ]
    assert view_problems({**MODAL, "submit": mrkdwn("Go")}, surface="modal") == [
        "view.submit: must be plain_text"
    ]
    assert view_problems({**MODAL, "callbak_id": "x"}, surface="modal") == [
        "view.callbak_id: unknown field"
    ]
    assert view_problems(
        {"type": "home", "blocks": [{"type": "divider"}] * 101}, surface="home"
    ) == ["view.blocks: views must contain between 1 and 100 blocks, not 101"]
    home_with_submit = {"type": "home", "submit": plain("Go"), "blocks": [{"type": "divider"}]}
    assert view_problems(home_with_submit, surface="home") == [
        "view: home view cannot have submit and close"
    ]
    bad_block = {**MODAL, "blocks": [{"type": "header", "text": mrkdwn("x")}]}
    assert view_problems(bad_block, surface="modal") == [
        "view.blocks[0].text: must be plain_text (a header's text)"
    ]


def _rules(**kwargs: bool) -> Any:
    from app.slack_emulator import TextRules

    return TextRules(**kwargs)


# -- the emulator refuses with them --------------------------------------------------------------


async def _error_of(call: Any) -> SlackApiError:
    with pytest.raises(SlackApiError) as info:
        await call
    return info.value


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")
async def test_chat_methods_refuse_invalid_blocks(
    emulator: SlackEmulator, slack_client: AsyncWebClient
) -> None:
    bad: list[dict[str, Any]] = [{"type": "divider"}, {"type": "header", "text": mrkdwn("*x*")}]
    error = await _error_of(slack_client.chat_postMessage(channel="C1", text="x", blocks=bad))
    assert error.response.data == {
        "ok": False,
        "error": "invalid_blocks",
        "response_metadata": {
            "messages": ["[ERROR] blocks[1].text: must be plain_text (a header's text)"]
        },
    }
    posted = await slack_client.chat_postMessage(channel="C1", text="x")
    error = await _error_of(
        slack_client.chat_update(channel="C1", ts=posted["ts"], text="y", blocks=bad)
    )
    assert error.response["error"] == "invalid_blocks"
    error = await _error_of(
        slack_client.chat_postEphemeral(channel="C1", user="U1", blocks=bad[:1])
    )
    assert error.response["error"] == "no_text"
    assert [m["text"] for m in emulator.messages("C1")] == ["x"]


async def test_views_refuse_with_invalid_arguments(slack_client: AsyncWebClient) -> None:
    error = await _error_of(
        slack_client.views_open(trigger_id="1.2.a", view={**MODAL, "type": "home"})
    )
    assert error.response.data == {
        "ok": False,
        "error": "invalid_arguments",
        "response_metadata": {
            "messages": [
                "[ERROR] view.type: must be 'modal', not 'home'",
                "[ERROR] view: home view cannot have submit and close",
            ]
        },
    }
    error = await _error_of(slack_client.views_publish(user_id="U1", view=MODAL))
    assert error.response["error"] == "invalid_arguments"
    bad_block = {**MODAL, "blocks": [{"type": "actions", "elements": []}]}
    error = await _error_of(slack_client.views_push(trigger_id="1.2.a", view=bad_block))
    assert error.response["error"] == "invalid_arguments"


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")
async def test_block_kit_checks_can_be_switched_off() -> None:
    async with SlackEmulator(block_kit=False, text_fallback=False) as emu:
        client = AsyncWebClient(token=emu.bot_token, base_url=emu.api_url, retry_handlers=[])
        bad = [{"type": "header", "text": mrkdwn("*x*")}]
        assert (await client.chat_postMessage(channel="C1", blocks=bad))["ok"]
        assert (await client.views_open(trigger_id="1.2.a", view={**MODAL, "blocks": bad}))["ok"]


async def test_response_url_posts_are_checked(emulator: SlackEmulator) -> None:
    url = emulator.new_response_url()
    async with httpx.AsyncClient() as http:
        no_text = await http.post(url, json={"blocks": [{"type": "divider"}]})
        bad = await http.post(url, json={"text": "x", "blocks": [{"type": "nope"}]})
        empty = await http.post(url, json={"replace_original": True})
        deleted = await http.post(url, json={"delete_original": True})
        good = await http.post(url, json={"text": "Done &amp; dusted", "replace_original": True})
    assert (no_text.status_code, no_text.json()["error"]) == (400, "no_text")
    assert bad.json()["response_metadata"]["messages"] == [
        "[ERROR] blocks[0].type: unknown block type 'nope'"
    ]
    assert empty.json()["error"] == "no_text"
    assert (deleted.status_code, good.status_code) == (200, 200)
    assert len(emulator.delivered("response_url")) == 2
