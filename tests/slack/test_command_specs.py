"""The table of `/ticket` subcommands: the usage shows every spec and is made of nothing else,
every name reads as its own spec, and who may run one is decided by its spec."""

from __future__ import annotations

import itertools
import re

import pytest

from app.errors import NotAllowed
from app.slack.ticket_command.grammar import parse_help
from app.slack.ticket_command.specs import (
    ANYONE,
    SPECS,
    USAGE,
    USAGE_HEADER,
    Immediate,
    Spec,
    Usage,
    leads,
    spec_for,
    team,
    usage_text,
)
from app.team.enums import Role
from app.text_safety import escape


def _shown(spec: Spec) -> list[str]:
    """What the usage shows of a spec: its form in backticks, and what it does."""
    return [escape(f"`{spec.form}`"), *([escape(spec.usage.says)] if spec.usage.says else [])]


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.name)
def test_every_spec_appears_in_the_usage(spec):
    for shown in _shown(spec):
        assert shown in USAGE


def test_the_usage_is_built_only_from_the_specs():
    assert usage_text(SPECS) == USAGE
    rest = USAGE.removeprefix(escape(USAGE_HEADER))
    assert rest != USAGE
    for shown in sorted((s for spec in SPECS for s in _shown(spec)), key=len, reverse=True):
        rest = rest.replace(shown, "", 1)
    # Only the bullets and the punctuation between the forms are left.
    assert re.fullmatch(r"[\s•,;:]*", rest), rest


def test_a_spec_taken_out_of_the_table_is_gone_from_the_usage():
    for spec in SPECS:
        others = [other for other in SPECS if other is not spec]
        assert _shown(spec)[0] not in usage_text(others), spec.name


async def _answer(slash, command):
    return None


def test_a_new_spec_is_a_new_line_of_the_usage():
    pong = Spec("ping", Usage("[loud]", "answers pong"), parse_help, Immediate(_answer))
    quiet = Spec("hush", Usage("", "says nothing", same_line=True), parse_help, Immediate(_answer))

    assert usage_text([pong]) == escape(f"{USAGE_HEADER}\n• `/ticket ping [loud]`: answers pong")
    assert usage_text([pong, quiet]).endswith(
        "• `/ticket ping [loud]`: answers pong; `/ticket hush`: says nothing"
    )


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.name)
def test_every_name_reads_as_its_own_spec(spec):
    spellings = itertools.product(*(word.split("|") for word in spec.name.split()))
    for words in spellings:
        assert spec_for([*words, "x"]) == (spec, len(words))
        assert spec_for([word.upper() for word in words]) == (spec, len(words))


def test_names_are_unique_and_unknown_words_name_nothing():
    assert len({spec.name for spec in SPECS}) == len(SPECS)
    assert spec_for(["frobnicate", "team"]) is None
    assert spec_for([]) is None


@pytest.mark.parametrize(
    ("who", "allowed"),
    [
        (ANYONE, {None, Role.AGENT, Role.LEAD}),
        (team("see it"), {Role.AGENT, Role.LEAD}),
        (leads("change it"), {Role.LEAD}),
    ],
)
def test_who_may_run_a_spec(who, allowed):
    for role in (None, Role.AGENT, Role.LEAD):
        assert who.allows(role) == (role in allowed)
        if role in allowed:
            who.check(role)
        else:
            with pytest.raises(NotAllowed) as refused:
                who.check(role)
            assert str(refused.value) == who.refusal


def test_refusals_are_worded_as_before():
    assert team("see the stats").refusal == "Sorry, only the support team can see the stats."
    assert leads("watch channels").refusal == "Sorry, only support leads can watch channels."
    every_refusal = {spec.who.refusal for spec in SPECS if spec.who != ANYONE}
    assert all(refusal.startswith("Sorry, only ") for refusal in every_refusal)


def test_a_spec_answered_at_once_is_for_anyone():
    with pytest.raises(ValueError, match="anyone may run it"):
        Spec("ping", Usage(), parse_help, Immediate(_answer), who=leads("ping"))
    assert all(spec.who == ANYONE for spec in SPECS if isinstance(spec.handler, Immediate))
