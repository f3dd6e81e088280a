"""The `/ticket` grammar: every form, Slack's escaped mentions, and what bad input is told."""

from __future__ import annotations

import pytest

from app.slack.ticket_command.grammar import (
    AutoReply,
    ChannelList,
    Help,
    TeamAdd,
    TeamList,
    TeamRemove,
    Unwatch,
    UsageError,
    Watch,
    parse_channel_mention,
    parse_user_mention,
)
from app.slack.ticket_command.specs import USAGE, parse
from app.team.enums import Role


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", Help()),
        ("   ", Help()),
        ("help", Help()),
        ("HELP me please", Help()),
        ("team", TeamList()),
        ("team list", TeamList()),
        ("Team", TeamList()),
        ("team add <@U123|ann> agent", TeamAdd(user_id="U123", role=Role.AGENT)),
        ("team add <@U123> lead", TeamAdd(user_id="U123", role=Role.LEAD)),
        ("team add <@W0ENTERPRISE|bob> LEAD", TeamAdd(user_id="W0ENTERPRISE", role=Role.LEAD)),
        ("TEAM ADD <@U123|ann> Agent", TeamAdd(user_id="U123", role=Role.AGENT)),
        ("team add <@U123|ann smith> agent", TeamAdd(user_id="U123", role=Role.AGENT)),
        ("team add <@U123|> agent", TeamAdd(user_id="U123", role=Role.AGENT)),
        ("  team   add\t<@U123|ann>   agent  ", TeamAdd(user_id="U123", role=Role.AGENT)),
        ("team remove <@U123|ann>", TeamRemove(user_id="U123")),
        ("team remove <@U123>", TeamRemove(user_id="U123")),
        ("watch", Watch(triage_channel_id=None)),
        ("watch <#C0TRIAGE|triage>", Watch(triage_channel_id="C0TRIAGE")),
        ("watch <#C0TRIAGE>", Watch(triage_channel_id="C0TRIAGE")),
        ("watch <#C0TRIAGE|>", Watch(triage_channel_id="C0TRIAGE")),
        ("watch <#G0PRIVATE|secret-triage>", Watch(triage_channel_id="G0PRIVATE")),
        ("Watch <#C0TRIAGE|triage>", Watch(triage_channel_id="C0TRIAGE")),
        ("unwatch", Unwatch()),
        ("channels", ChannelList()),
        ("autoreply on", AutoReply(enabled=True)),
        ("autoreply off", AutoReply(enabled=False)),
        ("AutoReply OFF", AutoReply(enabled=False)),
    ],
)
def test_every_form_parses(text, expected):
    assert parse(text) == expected


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("frobnicate now", "Unknown subcommand `frobnicate`."),
        ("team promote <@U1|a>", "Unknown `/ticket team` action `promote`"),
        ("team add", "Say who to add and as what"),
        ("team add <@U1|ann>", "Say which role to give them: `agent` or `lead`."),
        ("team add <@U1|ann> boss", "`boss` is not a role: use `agent` or `lead`."),
        ("team add <@U1|ann> agent lead", "takes one person and one role"),
        ("team add @ann agent", "`@ann` is not a person: pick them from the `@` list."),
        ("team add U123 agent", "`U123` is not a person"),
        # Echoed as people read it (and escaped once), never as live markup.
        ("team add <#C1|general> agent", "`#general` is not a person"),
        ("team add agent <@U1|ann>", "`agent` is not a person"),
        ("team remove", "Say who to remove"),
        ("team remove <@U1> <@U2>", "takes one person at a time"),
        ("team remove @ann", "`@ann` is not a person"),
        ("watch #triage", "`#triage` is not a channel: pick the triage channel from the `#` list."),
        ("watch <@U1|ann>", "`@ann` is not a channel"),
        ("watch <!here>", "`@here` is not a channel"),
        ("watch a&amp;b&lt;c&gt;", "`a&amp;b&lt;c&gt;` is not a channel"),
        ("watch <#C1|a> <#C2|b>", "takes at most one triage channel"),
        ("unwatch <#C1|a>", "`/ticket unwatch` takes no arguments."),
        ("channels all", "`/ticket channels` takes no arguments."),
        ("autoreply", "Say `on` or `off`"),
        ("autoreply maybe", "Say `on` or `off`"),
        ("autoreply on off", "Say `on` or `off`"),
    ],
)
def test_bad_input_says_what_was_wrong_and_shows_the_usage(text, problem):
    result = parse(text)

    assert isinstance(result, UsageError)
    assert problem in result.problem
    assert result.message.startswith(result.problem)
    assert result.message.endswith(USAGE)


def test_echoed_words_are_short_and_cannot_break_the_formatting():
    result = parse("x" * 500 + "`oops")

    assert isinstance(result, UsageError)
    assert result.problem == f"Unknown subcommand `{'x' * 40}…`."
    result = parse("fro`b")
    assert isinstance(result, UsageError) and "`fro'b`" in result.problem


def test_usage_lists_every_subcommand():
    for form in (
        "/ticket help",
        "/ticket team`",
        "/ticket team add @someone agent|lead",
        "/ticket team remove @someone",
        "/ticket watch [#triage-channel]",
        "/ticket unwatch",
        "/ticket channels",
        "/ticket autoreply on|off",
    ):
        assert form in USAGE


@pytest.mark.parametrize(
    ("token", "user_id"),
    [
        ("<@U123|ann>", "U123"),
        ("<@U123>", "U123"),
        ("<@U123|>", "U123"),
        ("<@W0ABC|ann.smith>", "W0ABC"),
        ("<@U123|ann smith>", "U123"),
        ("@ann", None),
        ("U123", None),
        ("<@u123|ann>", None),
        ("<#C123|general>", None),
        ("<@U123|ann", None),
        ("x<@U123>", None),
    ],
)
def test_parse_user_mention(token, user_id):
    assert parse_user_mention(token) == user_id


@pytest.mark.parametrize(
    ("token", "channel_id"),
    [
        ("<#C123|general>", "C123"),
        ("<#C123>", "C123"),
        ("<#C123|>", "C123"),
        ("<#G0PRIV|secret>", "G0PRIV"),
        ("#general", None),
        ("C123", None),
        ("<@U123|ann>", None),
        ("<#D123|dm>", None),
    ],
)
def test_parse_channel_mention(token, channel_id):
    assert parse_channel_mention(token) == channel_id
