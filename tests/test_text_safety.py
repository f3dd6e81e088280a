"""The text-safety layer: escaping never doubles, and no text can carry a broadcast through it.

The broadcast pattern below is written from Slack's formatting reference
(https://api.slack.com/reference/surfaces/formatting#mentioning-groups): `<!channel>`,
`<!here>`, `<!everyone>` (and the legacy `<!group>`) notify a channel or the workspace,
`<!subteam^ID>` a user group, each with an optional `|label`.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from app.text_safety import defuse, escape, has_broadcast, quote, readable, unescape

BROADCAST = re.compile(r"<!(?:channel|here|everyone|group|subteam\^)", re.IGNORECASE)
# Slack text is built from these pieces far more often than from arbitrary characters.
_PIECES = st.sampled_from(
    [
        "<!channel>",
        "<!here>",
        "<!here|here>",
        "<!everyone>",
        "<!group>",
        "<!CHANNEL>",
        "<!subteam^S0123|@support>",
        "<!subteam^S0123>",
        "<@U0123>",
        "<@U0123|ann>",
        "<#C0123|general>",
        "<https://example.com|example>",
        "<https://evil.example|https://bank.example>",
        "<!date^1700000000^{date}|Nov 14>",
        "&amp;",
        "&lt;",
        "&gt;",
        "&",
        "<",
        ">",
        "!",
        "|",
        "^",
        "\n",
        " ",
        "R&D",
        "here",
    ]
)
SLACK_TEXT = st.lists(st.one_of(_PIECES, st.text(max_size=6)), max_size=12).map("".join)


@given(SLACK_TEXT)
@example("<<!channel>>")
@example("<!chan<!here>nel>")
def test_no_text_comes_out_of_defuse_with_a_broadcast(text: str) -> None:
    assert not BROADCAST.search(defuse(text))
    assert not has_broadcast(defuse(text))
    assert not BROADCAST.search(quote(text))


@given(SLACK_TEXT)
def test_defuse_is_idempotent_so_it_never_escapes_twice(text: str) -> None:
    once = defuse(text)
    assert defuse(once) == once


@given(st.text())
def test_escaping_plain_text_is_exact_and_never_doubles(plain: str) -> None:
    escaped = escape(plain)
    assert unescape(escaped) == plain
    assert "<" not in escaped and ">" not in escaped
    assert defuse(escaped) == escaped  # already safe: defusing changes nothing
    assert readable(escaped) == plain
    assert not BROADCAST.search(escaped)


@given(SLACK_TEXT)
def test_defused_text_is_well_formed(text: str) -> None:
    """Every `&` starts an entity and every `<` opens a sequence that closes."""
    out = defuse(text)
    assert re.fullmatch(r"(?:[^&<>]|&(?:amp|lt|gt);|<[^<>]*>)*", out, flags=re.DOTALL)


@pytest.mark.parametrize(
    ("slack_text", "defused"),
    [
        ("R&amp;D &lt;prod&gt;", "R&amp;D &lt;prod&gt;"),
        ("<!channel> help", "@\u2060channel help"),
        ("hey <!here|here>", "hey @\u2060here"),
        ("<!subteam^S1|@support> look", "@\u2060support look"),
        ("ask <@U123> in <#C9|general>", "ask <@U123> in <#C9|general>"),
        ("<https://example.com|docs>", "<https://example.com|docs>"),
        ("<https://evil.example/x|https://bank.example/login>", "<https://evil.example/x>"),
        ("<https://evil.example|bank.example>", "<https://evil.example>"),
        ("<https://www.bank.example|bank.example>", "<https://www.bank.example|bank.example>"),
        ("a & b < c", "a &amp; b &lt; c"),
        ("<prod>", "&lt;prod&gt;"),
        (
            "<!date^1700000000^{date} at {time}|Nov 14>",
            "<!date^1700000000^{date} at {time}|Nov 14>",
        ),
    ],
)
def test_defuse_examples(slack_text: str, defused: str) -> None:
    assert defuse(slack_text) == defused


@pytest.mark.parametrize(
    ("slack_text", "shown"),
    [
        ("R&amp;D &lt;prod&gt;", "R&D <prod>"),
        ("<@U1|ann> and <@U2>", "@ann and @U2"),
        ("<#C1|general>", "#general"),
        ("<!here> now", "@here now"),
        ("<!subteam^S1|@support>", "@support"),
        (
            "see <https://example.com|the docs> or <https://example.org>",
            "see the docs or https://example.org",
        ),
        ("&amp;lt;", "&lt;"),
    ],
)
def test_readable_examples(slack_text: str, shown: str) -> None:
    assert readable(slack_text) == shown


def test_quote_marks_every_line() -> None:
    assert quote("one\n\n<!here> three") == "> one\n> \n> @\u2060here three"
