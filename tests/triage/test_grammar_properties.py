"""The `/ticket` grammar fed arbitrary text: it always answers with a command or a usage error
that names the problem and shows the usage; it never raises and never echoes a long word."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.slack.ticket_command.grammar import (
    Assign,
    Close,
    ListTickets,
    Note,
    Reopen,
    Resolve,
    SetPriority,
    SetStatus,
    Unassign,
    UsageError,
    parse_ticket_number,
)
from app.slack.ticket_command.specs import USAGE, parse
from app.tickets.enums import ListFilter, Priority

SUBCOMMANDS = [
    "help", "list", "show", "assign", "unassign", "priority", "status", "resolve", "reopen",
    "close", "note", "stats", "new", "team", "watch", "unwatch", "channels", "autoreply",
    "offhours", "hours", "sla", "csat", "autoassign",
]  # fmt: skip
WORDS = st.sampled_from(
    [
        "T-1", "#12", "12", "t-0", "T-", "me", "<@U123|ann>", "<@U1>", "<#C1|x>", "<#C2>",
        "open", "mine", "waiting", "urgent", "low", "on", "off", "set", "page=2", "page=0",
        "`", "<", ">", "<@", "|", "\u00a0", "١٢", "9" * 30, "x" * 60,
    ]
)  # fmt: skip
TEXT = st.one_of(
    st.text(max_size=200),
    st.lists(st.one_of(st.sampled_from(SUBCOMMANDS), WORDS, st.text(max_size=12)), max_size=6).map(
        " ".join
    ),
)


@settings(max_examples=1500, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(TEXT)
def test_any_text_gets_a_command_or_a_usage_error(text):
    result = parse(text)
    if isinstance(result, UsageError):
        assert result.problem.strip()
        assert result.message.endswith(USAGE)
        # What is quoted back from the user is short (40 characters and an ellipsis).
        for quoted in result.problem.split("`")[1::2]:
            assert len(quoted) <= 41 or quoted.startswith("/ticket")


@given(
    st.integers(min_value=1, max_value=2**31 - 1), st.sampled_from(["T-{}", "t-{}", "#{}", "{}"])
)
def test_ticket_numbers_in_every_spelling(number, spelling):
    assert parse_ticket_number(spelling.format(number)) == number


@given(st.integers(min_value=1, max_value=99999), st.sampled_from(list(Priority)))
def test_ticket_subcommands_round_trip(number, priority):
    assert parse(f"priority T-{number} {priority.value.upper()}") == SetPriority(number, priority)
    assert parse(f"assign {number} me") == Assign(number, None)
    assert parse(f"assign #{number} <@U9|x>") == Assign(number, "U9")
    assert parse(f"unassign T-{number}") == Unassign(number)
    assert parse(f"status T-{number} waiting") == SetStatus(number, True)
    assert parse(f"resolve T-{number}") == Resolve(number)
    assert parse(f"reopen T-{number}") == Reopen(number)
    assert parse(f"close T-{number}") == Close(number)


@given(st.text(min_size=1, max_size=300).filter(lambda t: t.strip()))
def test_a_note_keeps_its_text(text):
    parsed = parse(f"note T-7 {text}")
    if len(text.strip()) <= 4000:
        assert parsed == Note(7, text.strip())


@given(
    st.permutations(["mine", "<#C9|help>", "<@U5>", "page=3"]),
)
def test_list_options_in_any_order(options):
    assert parse("list " + " ".join(options)) == ListTickets(ListFilter.MINE, "C9", "U5", 3)
