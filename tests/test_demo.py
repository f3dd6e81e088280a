"""`ticketbot demo`, as someone without a Slack workspace runs it: a real process, one story."""

from __future__ import annotations

import io
import logging
import time
from datetime import UTC, datetime

import pytest

from app import demo
from app.demo import ANSWER, QUESTION, THANKS, render_blocks
from app.slack.blocks.ticket_card import TicketCard, ticket_card
from app.tickets.enums import Priority, TicketStatus
from tests.test_cli import clean_environment, run


@pytest.mark.parametrize("arguments", [[], ["--socket-mode"]], ids=["http", "socket_mode"])
async def test_demo_plays_a_ticket_from_question_to_resolution(tmp_path, arguments):
    """The same story over HTTP and over Socket Mode."""
    # The demo keeps to its own temporary SQLite database: a DATABASE_URL is not even read.
    env = clean_environment(DATABASE_URL="postgresql+asyncpg://nobody@127.0.0.1:1/nowhere")
    started = time.monotonic()

    code, stdout, stderr = await run(["demo", *arguments], tmp_path, env)

    assert code == 0, stderr
    assert time.monotonic() - started < 30
    transcript = stdout
    for expected in (
        "T-1 · " + QUESTION.splitlines()[0],  # the card's number and subject
        QUESTION.splitlines()[1],  # the customer's question, in #support
        "Alex Agent: Hi Gina,",  # the agent's answer, in the customer's thread
        "@Alex Agent replied:",  # ... and mirrored into the card's thread
        THANKS,
        "Requester: @Gina from Globex · Globex Corp",
        "Status:    Resolved",
        "Assignee:  @Alex Agent",
        "ticketbot: Thanks for reaching out! We've opened ticket T-1",
        "T-1 final status: resolved (assignee Alex Agent, account Globex Corp)",
        # the account's health, scored as the morning run would: a 5/5 and a fast answer
        "Globex Corp health: 100/100 (nothing against it yet)",
        "ticketbot: Thanks, @Gina from Globex! You rated T-1 😍 5/5.",  # the CSAT prompt, rated
    ):
        assert expected in transcript, f"{expected!r} missing from:\n{transcript}"
    assert " ".join(ANSWER.split()[:6]) in transcript
    kinds = [
        line.split()[1]
        for line in transcript.split("Audit trail of T-1", 1)[1].splitlines()
        if line[:5].strip().rstrip(".").isdigit()
    ]
    assert kinds == [
        "created",
        "message_added",
        "assigned",
        "message_added",
        "first_response",
        "status_changed",
        "message_added",
        "resolved",
        "csat_scheduled",
        "csat_sent",
        "csat_rated",
    ]
    assert list(tmp_path.iterdir()) == []  # nothing left behind
    over_socket = "Socket Mode envelope on ticketbot's own connection" in transcript
    assert over_socket == bool(arguments)


@pytest.fixture
def _root_logging_restored():
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:], root.level = handlers, level


@pytest.mark.usefixtures("_root_logging_restored")
async def test_a_step_that_does_not_happen_fails_the_demo(monkeypatch, capsys):
    seeded = demo._seeded_emulator

    def slack_refuses_posts():
        emulator = seeded()
        emulator.fail_next("chat.postMessage", status=200, error="channel_not_found", times=50)
        return emulator

    monkeypatch.setattr(demo, "_seeded_emulator", slack_refuses_posts)
    monkeypatch.setattr(demo, "STEP_TIMEOUT_SECONDS", 1.0)
    out = io.StringIO()

    code = await demo.run_demo(out)

    assert code == 1
    assert "T-1" in out.getvalue()  # the ticket was stored; only Slack said no
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith("ticketbot demo: step 3 (Gina from Globex asks in #support")
    assert "waiting for the triage card in #support-triage" in error
    assert "channel_not_found" in error


def test_the_card_reads_as_text():
    card = TicketCard(
        ticket_id=7,
        number="T-7",
        subject="Exports <fail> & more",
        status=TicketStatus.OPEN,
        priority=Priority.HIGH,
        requester_user_id="UGLOBEX1",
        is_external=True,
        account_name="Globex Corp",
        channel_id="CSUPPORT",
        permalink="https://acme.slack.com/archives/CSUPPORT/p1",
        assignee_user_id=None,
        created_at=datetime(2025, 1, 2, 3, 4, tzinfo=UTC),
    )

    lines = render_blocks(ticket_card(card)["blocks"])

    assert lines == [
        "T-7 · Exports <fail> & more",
        "  Requester: @Gina from Globex · Globex Corp",
        "  Channel:   #support · view message",
        "  Status:    Open",
        "  Priority:  High",
        "  Assignee:  Unassigned",
        "  Opened:    2025-01-02 03:04 UTC",
        "  SLA:       On track",
        "  [Assign to me]  [Priority: High v]  [Waiting on customer]  [Resolve]  [Not a request]",
    ]
