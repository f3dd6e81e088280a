"""Text rules: escaping, control sequences, broadcasts; and Slack's wire form of typed text."""

from __future__ import annotations

from typing import Any

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from app.slack_emulator import (
    SlackEmulator,
    message_problems,
    mrkdwn_problems,
    plain_text_problems,
    rich_text_elements,
    view_problems,
    wire_text,
)


def _whats(text: str, **options: bool) -> list[str]:
    return [problem.what for problem in mrkdwn_problems(text, "text", **options)]


@pytest.mark.parametrize(
    "text",
    [
        "plain words",
        "Fish &amp; chips, 1 &lt; 2 &gt; 0",
        "<@U123> and <@W123|alice> in <#C123> or <#G123|secret>",
        "<https://example.com/a?b=1&amp;c=2|the docs> and <mailto:a@example.com>",
        "<!date^1700000000^{date_short} at {time}|2023-11-14 22:13 UTC>",
        "> a quote\n>>> a long quote\nthen text",
        "```code &lt;tag&gt;```",
        "",
    ],
)
def test_well_escaped_text_passes(text: str) -> None:
    assert mrkdwn_problems(text, "text") == []


@pytest.mark.parametrize(
    ("text", "what"),
    [
        ("Fish & chips", "raw '&' (write &amp;) at character 5: 'Fish & chips'"),
        ("1 < 2", "raw '<' (write &lt;) at character 2: '1 < 2'"),
        ("a -> b", "raw '>' (write &gt;) at character 3: 'a -> b'"),
        (
            "<b>bold</b>",
            "<b> is not a Slack control sequence (escape < and >) at character 0: '<b>bold</b>'",
        ),
        (
            "x &amp;amp; y",
            "double escape (&amp; followed by an entity) at character 2: 'x &amp;amp; y'",
        ),
        (
            "x &amp;lt; y",
            "double escape (&amp; followed by an entity) at character 2: 'x &amp;lt; y'",
        ),
        ("&nbsp;", "raw '&' (write &amp;) at character 0: '&nbsp;'"),
        (
            "<@alice>",
            "<@alice> is not a Slack control sequence (escape < and >) at character 0: '<@alice>'",
        ),
        (
            "<https://x.y/a b>",
            "<https://x.y/a b> is not a Slack control sequence (escape < and >) at character 0: '<https://x.y/...'",
        ),
    ],
)
def test_bad_escaping_is_named_and_located(text: str, what: str) -> None:
    assert _whats(text)[0] == what
    assert {p.error for p in mrkdwn_problems(text, "text")} == {"emulator_bad_escaping"}
    assert mrkdwn_problems(text, "text", escaping=False) == []


@pytest.mark.parametrize(
    "mention",
    [
        "<!here>",
        "<!channel>",
        "<!everyone>",
        "<!group>",
        "<!here|here>",
        "<!subteam^S123>",
        "<!subteam^S123|@support>",
        "<!CHANNEL>",
    ],
)
def test_broadcasts_are_refused_anywhere(mention: str) -> None:
    [problem] = mrkdwn_problems(f"ping {mention} now", "blocks[0].text.text")
    assert problem.error == "emulator_broadcast_mention"
    assert problem.where == "blocks[0].text.text"
    assert problem.what.startswith(f"broadcast mention {mention} at character 5: ")
    assert mrkdwn_problems(f"ping {mention}", "text", allow_broadcasts=True) == []
    assert [p.error for p in plain_text_problems(mention, "t")] == ["emulator_broadcast_mention"]


def test_plain_text_takes_no_entities() -> None:
    assert plain_text_problems("Fish & chips <3", "header.text") == []
    [problem] = plain_text_problems("Fish &amp; chips", "blocks[0].text.text")
    assert str(problem) == (
        "blocks[0].text.text: &amp; at character 5 is shown literally: "
        "plain text takes the character itself, unescaped"
    )
    assert plain_text_problems("Fish &amp; chips", "t", escaping=False) == []


def test_text_checks_cover_messages_and_views() -> None:
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": "a & b"}},
        {"type": "header", "text": {"type": "plain_text", "text": "a &lt; b"}},
    ]
    assert message_problems({"text": "<!here> ok", "blocks": blocks}) == [
        "blocks[0].text.text: raw '&' (write &amp;) at character 2: 'a & b'",
        "blocks[1].text.text: &lt; at character 2 is shown literally: "
        "plain text takes the character itself, unescaped",
        "text: broadcast mention <!here> at character 0: '<!here> ok'",
    ]
    modal = {
        "type": "modal",
        "title": {"type": "plain_text", "text": "R&amp;D"},
        "submit": {"type": "plain_text", "text": "Send"},
        "blocks": [
            {
                "type": "input",
                "label": {"type": "plain_text", "text": "Subject"},
                "element": {
                    "type": "plain_text_input",
                    "action_id": "s",
                    "initial_value": "Printer &amp; scanner",
                },
            }
        ],
    }
    assert view_problems(modal, surface="modal") == [
        "view.title.text: &amp; at character 1 is shown literally: "
        "plain text takes the character itself, unescaped",
        "view.blocks[0].element.initial_value: &amp; at character 8 is shown literally: "
        "plain text takes the character itself, unescaped",
    ]


def test_wire_text_is_what_slack_delivers_for_typed_text() -> None:
    assert wire_text("Fish & chips <3 >_<") == "Fish &amp; chips &lt;3 &gt;_&lt;"
    assert wire_text("hey <@U123>, see <#C9|general> <!here>") == (
        "hey <@U123>, see <#C9|general> <!here>"
    )
    assert wire_text("<https://x.y/?a=1&b=2|R&D docs>") == "<https://x.y/?a=1&amp;b=2|R&amp;D docs>"
    assert wire_text("1 <2 and <b>") == "1 &lt;2 and &lt;b&gt;"
    assert mrkdwn_problems(wire_text("a < b & <@U1> > c"), "text") == []


def test_rich_text_elements_keep_typed_text_and_split_mentions() -> None:
    assert rich_text_elements("a & b") == [{"type": "text", "text": "a & b"}]
    assert rich_text_elements(
        "<@U1> see <#C1|general>, <!here> <!subteam^S1> <https://x.y|docs>"
    ) == [
        {"type": "user", "user_id": "U1"},
        {"type": "text", "text": " see "},
        {"type": "channel", "channel_id": "C1"},
        {"type": "text", "text": ", "},
        {"type": "broadcast", "range": "here"},
        {"type": "text", "text": " "},
        {"type": "usergroup", "usergroup_id": "S1"},
        {"type": "text", "text": " "},
        {"type": "link", "url": "https://x.y", "text": "docs"},
    ]
    assert rich_text_elements("") == [{"type": "text", "text": ""}]


# -- the emulator refuses with them --------------------------------------------------------------


async def _error_of(call: Any) -> SlackApiError:
    with pytest.raises(SlackApiError) as info:
        await call
    return info.value


async def test_emulator_refuses_bad_text_and_broadcasts(
    emulator: SlackEmulator, slack_client: AsyncWebClient
) -> None:
    error = await _error_of(slack_client.chat_postMessage(channel="C1", text="Q&A"))
    assert error.response.data == {
        "ok": False,
        "error": "emulator_bad_escaping",
        "response_metadata": {
            "messages": ["[ERROR] text: raw '&' (write &amp;) at character 1: 'Q&A'"]
        },
    }
    error = await _error_of(slack_client.chat_postMessage(channel="C1", text="<!channel> hi"))
    assert error.response["error"] == "emulator_broadcast_mention"
    assert (await slack_client.chat_postMessage(channel="C1", text="Q&amp;A"))["ok"]
    assert [m["text"] for m in emulator.messages("C1")] == ["Q&amp;A"]


async def test_text_checks_can_be_switched_off() -> None:
    async with SlackEmulator(escaping=False, allow_broadcasts=True) as emu:
        client = AsyncWebClient(token=emu.bot_token, base_url=emu.api_url, retry_handlers=[])
        assert (await client.chat_postMessage(channel="C1", text="Q&A <!here>"))["ok"]
